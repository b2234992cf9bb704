"""What a device path or URL names, before anything is opened: a serial line or no terminal at all,
a URL in the form its scheme needs, and whether the line carries a BREAK.

Apart from serial.py, so that a wrong name is refused the same way by connect, send, sysrq and
doctor, before pyserial's own messages ("Inappropriate ioctl for device") can say something else.
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from sercon.errors import NotSupported, UsageError

# Which lines carry a BREAK (docs/commands.md, "BREAK and SysRq"). A device path, spy://PATH and
# alt://PATH: as the device (a UART yes, a pseudo-terminal no); these URLs always do; the rest
# (socket://, loop://, unknown schemes) never do.
BREAK_SCHEMES = {"telnet": "IAC BRK", "rfc2217": "RFC 2217 SET-CONTROL", "hwgrep": "a local port",
                 "cp2110": "a USB UART"}
PATH_SCHEMES = ("spy", "alt")
NO_BREAK_WHY = {"socket": "a raw TCP connection (socket://)", "loop": "a loopback test port (loop://)"}
BREAK_INSTEAD = ("use a line that carries BREAK: a real serial port, or a console server over telnet:// or "
                 "rfc2217://; for QEMU, `-serial telnet:127.0.0.1:4555,server=on,wait=off` and the target "
                 "telnet://127.0.0.1:4555, or the VM's QMP socket with --qmp SOCKET "
                 "(`-qmp unix:/tmp/qmp.sock,server=on,wait=off`)")
FIND_DEVICES = ("name a serial device: `sercon list` shows them (/dev/ttyUSB0, /dev/ttyACM0, /dev/ttyS0, "
                "/dev/serial/by-id/...); a console server is telnet://HOST:PORT")
NETWORK_SCHEMES = ("telnet", "socket", "rfc2217")
LOG_LEVELS = ("debug", "info", "warning", "error")  # pyserial's ?logging= values
URL_OPTIONS = {"telnet": (), "socket": ("logging",), "loop": ("logging",),
               "rfc2217": ("logging", "ign_set_control", "poll_modem", "timeout")}
_FILE_KINDS = ((stat.S_ISREG, "a regular file"), (stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a named pipe"),
               (stat.S_ISSOCK, "a Unix socket"), (stat.S_ISBLK, "a block device (a disk)"))


def check_line(url: str) -> None:
    """Refuse a path that is no terminal and a URL not in its scheme's form (exit 2, with the fix);
    a path that does not exist is left to the open, which says so (exit 4)."""
    scheme = url.split("://", 1)[0].lower() if "://" in url else None
    if scheme is None or scheme in PATH_SCHEMES:
        path = url if scheme is None else url_path(url)
        why = not_a_terminal(path)
        if why is not None:
            raise not_a_serial_device(path, why)
    if scheme is not None:
        check_url(url, scheme)


def not_a_serial_device(path: str, why: str) -> UsageError:
    return UsageError(f"{path} is not a serial device: it is {why}", FIND_DEVICES)


def not_a_terminal(path: str) -> str | None:
    """What *path* is when it is no terminal ("a regular file"), or None (a terminal, missing, or unknown)."""
    try:
        info = os.stat(path)
    except (OSError, ValueError):  # ValueError: a NUL in the path, which the open reports
        return None
    for test, what in _FILE_KINDS:
        if test(info.st_mode):
            return what
    if os.path.realpath(path) == "/dev/tty":
        return "sercon's own terminal (/dev/tty)"
    if stat.S_ISCHR(info.st_mode) and _driver_kind(os.major(info.st_rdev), os.minor(info.st_rdev)) == "none":
        return "a character device that is no terminal"
    return None


def check_url(url: str, scheme: str) -> None:
    """HOST:PORT where the scheme needs them, and only the options pyserial knows, with their values."""
    form = f"{scheme}://HOST:PORT" + ("" if scheme == "telnet" else "[?OPTION=VALUE]")
    try:
        parts = urlsplit(url)
        port = parts.port  # ValueError: out of range, or not a number
    except ValueError as exc:
        raise UsageError(f"{url} is not a valid URL: {exc}", f"write it as {form}, e.g. {scheme}://127.0.0.1:4555") \
            from exc
    if scheme in NETWORK_SCHEMES and (not parts.hostname or not port):
        what = "no host" if not parts.hostname else "no port" if port is None else "port 0"
        raise UsageError(f"{url} is not a valid URL: {what}",
                         f"write it as {form} with a port from 1 to 65535, e.g. {scheme}://127.0.0.1:4555")
    if scheme == "telnet" and (parts.query or parts.path not in ("", "/")):
        raise UsageError(f"{url} is not a valid URL: telnet:// takes no path or options", f"write it as {form}")
    for option, values in parse_qs(parts.query, keep_blank_values=True).items():
        if scheme in URL_OPTIONS and option not in URL_OPTIONS[scheme]:
            known = ", ".join(URL_OPTIONS[scheme]) or "none"
            raise UsageError(f"{url} is not a valid URL: {scheme}:// has no option {option!r}",
                             f"write it as {form}; its options: {known}")
        if option == "logging" and values[-1] not in LOG_LEVELS:
            raise UsageError(f"{url} is not a valid URL: logging={values[-1]}",
                             f"logging= takes {', '.join(LOG_LEVELS)}, e.g. {scheme}://...?logging=debug")


def break_refusal(url: str) -> str | None:
    """Why the line at *url* cannot carry a BREAK ("a pseudo-terminal (/dev/pts/3)"), or None when it can."""
    scheme = url.split("://", 1)[0].lower() if "://" in url else None
    if scheme in BREAK_SCHEMES:
        return None
    if scheme is not None and scheme not in PATH_SCHEMES:
        return NO_BREAK_WHY.get(scheme, f"a {scheme}:// line")
    path = url if scheme is None else url_path(url)
    kind = tty_kind(path)
    if kind == "pty":
        real = os.path.realpath(path)
        return f"a pseudo-terminal ({real})" if real != path else "a pseudo-terminal"
    if kind in ("other", "none"):
        return "a device that is not a serial line"
    return None  # a UART, or a device that cannot be looked at (yet): the port says when it opens


def require_break(url: str, qmp: str | None, action: str) -> None:
    """Refuse *action* up front (also when it would go through a running session) on a line without
    BREAK; first, a name that is no serial line at all (a file: exit 2, as connect says)."""
    check_line(url)
    why = break_refusal(url)
    if why is not None and not qmp:
        raise break_refused(url, why, action)


def break_refused(label: str, why: str, action: str) -> NotSupported:
    return NotSupported(f"cannot send {action} to {label}: it is {why}, which cannot carry a BREAK, so the "
                        "keys would only be typed into the console; nothing was sent", BREAK_INSTEAD)


def url_path(url: str) -> str:
    parts = urlsplit(url)  # spy:///dev/ttyS0?file=x, as pyserial reads it
    return parts.netloc + parts.path


def tty_kind(path: str) -> str | None:
    """"serial" (a UART driver), "pty", "other" (a console, /dev/tty), "none" (no terminal at all), or
    None when it cannot be told."""
    try:
        info = os.stat(path)
    except (OSError, ValueError):
        return None
    if not stat.S_ISCHR(info.st_mode):
        return "none"
    kind = _driver_kind(os.major(info.st_rdev), os.minor(info.st_rdev))
    if kind is not None:
        return kind
    pty_names = r"^/dev/(pts/\d+|ttys\d+|ttyp[0-9a-f]|pty[p-z][0-9a-f])$"  # no /proc/tty: go by the name
    return "pty" if re.match(pty_names, os.path.realpath(path)) else None


def _driver_kind(major: int, minor: int) -> str | None:
    """The kind of tty driver that owns a device number, from Linux's /proc/tty/drivers (None: no table)."""
    try:
        table = Path("/proc/tty/drivers").read_text()
    except OSError:
        return None
    for line in table.splitlines():
        fields = line.split()
        if len(fields) < 5:
            continue
        majors, minors, kind = _range(fields[-3]), _range(fields[-2]), fields[-1]
        if majors and minors and majors[0] <= major <= majors[1] and minors[0] <= minor <= minors[1]:
            if kind == "serial":
                return "serial"
            return "pty" if kind.startswith("pty") else "other"
    return "none"  # no tty driver owns it: not a terminal at all


def _range(text: str) -> tuple[int, int] | None:
    low, _, high = text.partition("-")
    try:
        return int(low), int(high or low)
    except ValueError:
        return None
