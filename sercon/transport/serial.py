"""Local serial devices and every pyserial URL (loop://, spy://, socket://, rfc2217://), on pyserial."""

from __future__ import annotations

import contextlib
import errno
import os
import select
from pathlib import Path

import serial

from sercon.checks import FAIL, OK, CheckResult
from sercon.errors import ConnectionLost, DeviceBusy, NotSupported, PermissionDenied, SerconError, TargetNotFound
from sercon.targets import LineSettings
from sercon.transport.base import BREAK, NMI, RESET, SYSRQ, Transport

READ_SIZE = 65536
QMP_SERIAL_CHARDEV = "serial0"  # the chardev id QEMU gives the first -serial (or the id sercon's tests use)
if "sercon.transport.urlhandler" not in serial.protocol_handler_packages:
    serial.protocol_handler_packages.append("sercon.transport.urlhandler")  # telnet://


class SerialTransport(Transport):
    controls = frozenset({BREAK, SYSRQ})

    def __init__(self, url: str, line: LineSettings | None = None, qmp: str | None = None) -> None:
        self.url = url
        self.qmp = qmp  # a local QEMU VM's QMP socket
        if qmp:
            self.controls = frozenset({BREAK, SYSRQ, NMI, RESET})
        self.label = url
        self.line = line or LineSettings()
        self.is_device = "://" not in url  # a path or COM port: lock it, find it again
        self.key = console_key(url)
        self._port: serial.SerialBase | None = None
        self._fd: int | None = None  # fast path: plain POSIX device, read with os.read
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_w, False)
        self.usb_serial_number: str | None = None

    # -- opening --------------------------------------------------------------------------------
    def open(self) -> None:
        self._open_path(self.url)
        if self.is_device and self.usb_serial_number is None:
            self.usb_serial_number = usb_serial_number(self.url)

    def _open_path(self, path: str) -> None:
        try:
            port = serial.serial_for_url(path, do_not_open=True)
            port.baudrate = self.line.baud
            port.bytesize = self.line.databits
            port.parity = self.line.parity
            port.stopbits = self.line.stopbits
            port.rtscts = self.line.flow == "rtscts"
            port.xonxoff = self.line.flow == "xonxoff"
            if self.is_device:
                port.exclusive = True
            port.open()
        except serial.SerialException as exc:
            raise open_error(path, exc) from exc
        except ValueError as exc:  # pyserial: bad URL or unsupported setting
            raise SerconError(f"cannot open {path}: {exc}", "check the URL and the line settings") from exc
        self._port = port
        self._fd = port.fileno() if type(port) is serial.Serial else None

    def reopen(self) -> None:
        """Open the device again: by its path, or wherever its USB serial number turns up."""
        self.close()
        path = self.url
        if self.is_device and not os.path.exists(path) and self.usb_serial_number:
            path = find_by_serial_number(self.usb_serial_number) or path
        self._open_path(path)
        self.label = path

    def close(self) -> None:
        port, self._port, self._fd = self._port, None, None
        if port is not None:
            with contextlib.suppress(OSError, serial.SerialException):
                port.close()

    # -- data -----------------------------------------------------------------------------------
    def read(self, timeout: float | None) -> bytes:
        port = self._port
        if port is None:
            raise ConnectionLost(f"{self.label} is closed")
        try:
            if self._fd is not None:
                return self._read_fd(self._fd, timeout)
            port.timeout = timeout
            return port.read(port.in_waiting or 1)
        except (OSError, serial.SerialException) as exc:
            raise ConnectionLost(f"lost {self.label}: {exc}") from exc

    def _read_fd(self, fd: int, timeout: float | None) -> bytes:
        ready, _, _ = select.select([fd, self._wake_r], [], [], timeout)
        if self._wake_r in ready:
            with contextlib.suppress(BlockingIOError):
                os.read(self._wake_r, 64)
        if fd not in ready:
            return b""
        data = os.read(fd, READ_SIZE)
        if not data:
            raise ConnectionLost(f"lost {self.label}: the device hung up")
        return data

    def write(self, data: bytes) -> None:
        port = self._port
        if port is None:
            raise ConnectionLost(f"{self.label} is closed")
        try:
            port.write(data)
        except (OSError, serial.SerialException) as exc:
            raise ConnectionLost(f"lost {self.label}: {exc}") from exc

    def try_write(self, data: bytes) -> int:
        fd = self._fd  # pyserial keeps POSIX ports O_NONBLOCK: os.write never blocks here
        if fd is None:
            return 0
        try:
            return os.write(fd, data)
        except BlockingIOError:
            return 0
        except OSError as exc:
            raise ConnectionLost(f"lost {self.label}: {exc}") from exc

    def drain(self) -> None:
        port = self._port
        if port is not None:
            with contextlib.suppress(OSError, serial.SerialException, TypeError):
                port.flush()

    def cancel_read(self) -> None:
        with contextlib.suppress(BlockingIOError, OSError):
            os.write(self._wake_w, b"x")
        port = self._port
        if port is not None and self._fd is None:
            with contextlib.suppress(AttributeError, OSError, serial.SerialException):
                port.cancel_read()

    def discard_input(self) -> None:
        """Drop what the device sent before we asked (stale prompts would fool --expect)."""
        port = self._port
        if port is not None:
            with contextlib.suppress(OSError, serial.SerialException):
                port.reset_input_buffer()

    def nmi(self) -> None:
        self._qmp("inject-nmi")

    def reset(self) -> None:
        self._qmp("system_reset")

    def _qmp(self, command: str, arguments: dict | None = None) -> None:
        if not self.qmp:
            raise NotSupported(f"{self.label} is a serial line: {command} needs the VM's QMP socket (--qmp)")
        from sercon.transport.qmp import qmp

        qmp(self.qmp, command, arguments)

    def send_break(self, duration: float = 0.25) -> None:
        if self.qmp and self.is_device:  # a pty cannot carry BREAK: QEMU puts it on the line itself
            self._qmp("chardev-send-break", {"id": QMP_SERIAL_CHARDEV})
            return
        port = self._port
        if port is None:
            raise ConnectionLost(f"{self.label} is closed")
        try:
            port.send_break(duration)
        except (OSError, serial.SerialException) as exc:
            raise ConnectionLost(f"BREAK failed on {self.label}: {exc}") from exc

    def __del__(self) -> None:
        for fd in (self._wake_r, self._wake_w):
            with contextlib.suppress(OSError):
                os.close(fd)


def console_key(url: str) -> str:
    return os.path.realpath(url) if "://" not in url else url


def open_error(path: str, exc: serial.SerialException) -> SerconError:
    """Turn pyserial's open failure into the contract's error, with the fix."""
    code = getattr(exc, "errno", None)
    text = str(exc)
    if code == errno.ENOENT or "No such file" in text:
        return TargetNotFound(
            f"{path}: no such device",
            "check the cable and `sercon list`; USB adapters may come back under another name",
        )
    if code == errno.EACCES or "Permission denied" in text:
        return PermissionDenied(
            f"{path}: permission denied",
            "add yourself to the device's group (usually `sudo usermod -aG dialout $USER`, then log in again)",
        )
    if code in (errno.EAGAIN, errno.EWOULDBLOCK) or "exclusively lock" in text:
        holder = lock_holder(path)
        who = f" by {holder}" if holder else " by another process"
        return DeviceBusy(f"{path} is locked{who}", "close the other program, or wait for it to finish")
    if code == errno.ECONNREFUSED or "refused" in text:
        return TargetNotFound(f"{path}: connection refused", "check the host and port")
    return ConnectionLost(f"cannot open {path}: {text}")


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


def usb_serial_number(path: str) -> str | None:
    """The USB serial number of the adapter behind *path*, so it can be found again after replugging."""
    from serial.tools import list_ports

    real = os.path.realpath(path)
    for port in list_ports.comports():
        if os.path.realpath(port.device) == real:
            return port.serial_number
    return None


def find_by_serial_number(number: str) -> str | None:
    from serial.tools import list_ports

    for port in list_ports.comports():
        if port.serial_number == number:
            return port.device
    return None


def device_checks(url: str) -> list[CheckResult]:
    """What `sercon doctor` says about a local device: there, usable by you, not locked."""
    if "://" in url:
        return [CheckResult("device", OK, f"{url} is a URL: sercon connects when asked")]
    if not os.path.exists(url):
        return [CheckResult("device", FAIL, f"{url} does not exist", "check the cable and `sercon list`")]
    rows = [CheckResult("device", OK, f"{url} exists")]
    if os.access(url, os.R_OK | os.W_OK):
        rows.append(CheckResult("permission", OK, "you can read and write it"))
    else:
        rows.append(CheckResult("permission", FAIL, "you cannot read and write it",
                                "sudo usermod -aG dialout $USER   (then log in again)"))
    holder = lock_holder(url)
    rows.append(CheckResult("lock", FAIL, f"locked by {holder}", "close the other program") if holder
                else CheckResult("lock", OK, "not locked"))
    return rows
