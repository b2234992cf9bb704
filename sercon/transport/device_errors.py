"""Why a serial device cannot be opened, in the contract's errors, each with its fix: missing (4),
permission denied (5, with the group to join), locked by another process (9, naming it), a bad URL.

Apart from serial.py, which opens the device: this is what goes wrong, and what to do about it.
"""

from __future__ import annotations

import errno
import os
import re
import stat
from pathlib import Path

import serial

from sercon.errors import ConnectionLost, DeviceBusy, PermissionDenied, SerconError, TargetNotFound, UsageError
from sercon.lines import not_a_serial_device, tty_kind


def open_error(path: str, exc: serial.SerialException) -> SerconError:
    """Turn pyserial's open failure into the contract's error, with the fix."""
    code = getattr(exc, "errno", None)
    text = str(exc)
    if code == errno.ENOENT or "No such file" in text:
        return no_such_device(path)
    if code == errno.EACCES or "Permission denied" in text:
        return PermissionDenied(f"{path}: permission denied", permission_fix(path))
    if code in (errno.EAGAIN, errno.EWOULDBLOCK) or "exclusively lock" in text:
        holder = lock_holder(path)
        who = f" by {holder}" if holder else " by another process"
        return DeviceBusy(f"{path} is locked{who}", "close the other program, or wait for it to finish")
    if code == errno.ECONNREFUSED or "refused" in text:
        return TargetNotFound(f"{path}: connection refused", "check the host and port")
    import socket  # here, not at import: the way to the first console byte does not pay for it

    if "Name or service not known" in text or "nodename nor servname" in text or "No address associated" in text \
            or code in (socket.EAI_NONAME, getattr(socket, "EAI_NODATA", None)):
        return TargetNotFound(f"{path}: no such host", "check the host name in the URL (and your DNS)")
    if "Inappropriate ioctl" in text or code == errno.ENOTTY:  # where the kind could not be told before
        return not_a_serial_device(path, "no terminal")
    if match := re.search(r'expected a string in the form "([^"]+)":?\s*(.*)', text):  # pyserial: a bad URL
        return UsageError(f"{path} is not a valid URL" + (f": {match[2]}" if match[2] else ""),
                          f"write it in the form {match[1]}")
    if "no ports found matching" in text:
        return TargetNotFound(f"{path}: {text}", "check the cable and `sercon list` (the pattern is a regular "
                              "expression over the ports' names and descriptions)")
    if "debug|info|warning|error" in text or "port" in text.lower() and "range" in text.lower():
        return UsageError(f"{path} is not a valid URL (a bad port or option)", "write it as socket://HOST:PORT "
                          "with a port from 1 to 65535")
    return ConnectionLost(f"cannot open {path}: {text}", "check that the host is up and the port serves a console")


def no_such_device(path: str) -> TargetNotFound:
    return TargetNotFound(f"{path}: no such device",
                          "check the cable and `sercon list`; USB adapters may come back under another name")


def lock_holder(path: str) -> str | None:
    """Name the process holding a flock on *path*, from /proc/locks (Linux), if it can be seen."""
    try:
        st = os.stat(path)
        locks = Path("/proc/locks").read_text()
    except OSError:
        return None
    wanted = f"{os.major(st.st_dev):02x}:{os.minor(st.st_dev):02x}:{st.st_ino}"
    for line in locks.splitlines():
        fields = line.split()
        if "FLOCK" in fields and wanted in fields:
            pid = fields[fields.index(wanted) - 1]
            return f"process {pid} ({_command_line(pid)})" if pid.isdigit() else None
    return None


def _command_line(pid: str) -> str:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return "unknown command"
    return " ".join(part.decode(errors="replace") for part in raw.split(b"\0") if part)[:120]


def permission_fix(path: str) -> str:
    """Join the device's own group (dialout on Debian, uucp on Arch, ...), when that group may use it."""
    try:
        import grp
        import pwd

        info = os.stat(path)
        group = grp.getgrgid(info.st_gid).gr_name
        owner = pwd.getpwuid(info.st_uid).pw_name
    except (ImportError, KeyError, OSError):
        return f"ask for read and write access to {path} (`ls -l {path}` shows its owner and group)"
    if info.st_gid != 0 and info.st_mode & 0o060 == 0o060:
        return f"sudo usermod -aG {group} $USER   (then log in again)"
    if tty_kind(path) == "pty":  # udev never sees a pty: no rule can give it a group
        return (f"it is a pseudo-terminal that {owner} made ({stat.filemode(info.st_mode)} {owner}:{group}): run "
                f"sercon as {owner}, or have the program that makes it give it your group (socat: "
                "pty,link=...,group=dialout,mode=660)")
    name = os.path.basename(os.path.realpath(path))
    return (f"only {owner} may open it ({stat.filemode(info.st_mode)} {owner}:{group}): let a group use it with a "
            f'udev rule, e.g. KERNEL=="{name}", GROUP="dialout", MODE="0660", then join that group')
