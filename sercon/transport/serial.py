"""Local serial devices and every pyserial URL (loop://, spy://, socket://, rfc2217://), on pyserial."""

from __future__ import annotations

import contextlib
import os
import select
import sys
from typing import TYPE_CHECKING, Any

import serial

import sercon
from sercon.errors import (
    ConnectionLost,
    NotSupported,
    SerconError,
    UsageError,
)
from sercon.lines import (  # noqa: F401 - break_refusal, require_break, tty_kind: used from here too
    BREAK_INSTEAD,
    break_refusal,
    break_refused,
    check_line,
    require_break,
    tty_kind,
)
from sercon.targets import LineSettings
from sercon.transport.base import BREAK, NMI, RESET, SYSRQ, Transport
from sercon.transport.device_errors import lock_holder, no_such_device, open_error, permission_fix

if TYPE_CHECKING:  # doctor's rows: imported where they are made, not on the way to the first byte
    from sercon.checks import CheckResult

READ_SIZE = 65536
BULK = 2048  # a read this big: the device is sending in bulk, collect what follows (_more)
BATCH = 16384  # bytes collected at most before they go to the screen
QMP_SERIAL_CHARDEV = "serial0"  # the chardev id QEMU gives the first -serial (or the id sercon's tests use)
if "sercon.transport.urlhandler" not in serial.protocol_handler_packages:
    serial.protocol_handler_packages.append("sercon.transport.urlhandler")  # telnet://


class SerialTransport(Transport):
    controls = frozenset({BREAK, SYSRQ})

    def __init__(self, url: str, line: LineSettings | None = None, qmp: str | None = None) -> None:
        self.url = url
        self.qmp = qmp  # a local QEMU VM's QMP socket
        self.no_break = break_refusal(url)  # why this line cannot carry a BREAK (None: it can)
        line_controls = {BREAK, SYSRQ} if self.no_break is None or qmp else set()
        self.controls = frozenset(line_controls | ({NMI, RESET} if qmp else set()))
        self.label = url
        self.line = line or LineSettings()
        self.is_device = "://" not in url  # a path or COM port: lock it, find it again
        self.key = console_key(url)
        self._port: serial.Serial | None = None
        self._fd: int | None = None  # fast path: plain POSIX device, read with os.read
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_w, False)
        self.usb_serial_number: str | None = None

    # -- opening --------------------------------------------------------------------------------
    def open(self) -> None:
        check_line(self.url)  # a file, /dev/null, telnet://HOST without a port: exit 2, before pyserial
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
            if sercon.TRACE is not None:
                sercon.TRACE.event("serial", "open failed", path=path, error=exc.__class__.__name__)
            raise open_error(path, exc) from exc
        except ValueError as exc:  # pyserial: bad URL or unsupported setting
            raise UsageError(f"cannot open {path}: {exc}", "check the URL and the line settings") from exc
        self._port = port
        self._fd = port.fileno() if type(port) is serial.Serial else None
        if sercon.TRACE is not None:
            _trace_open(path, port)

    def reopen(self) -> None:
        """Open the device again: by its path, or wherever its USB serial number turns up."""
        if sercon.TRACE is not None:
            sercon.TRACE.event("serial", "reconnect", path=self.url)
        self.close()
        path = self.url
        if self.is_device and not os.path.exists(path) and self.usb_serial_number:
            path = find_by_serial_number(self.usb_serial_number) or path
        self._open_path(path)
        self.label = path

    def close(self) -> None:
        port, self._port, self._fd = self._port, None, None
        if port is not None:
            if sercon.TRACE is not None:
                sercon.TRACE.event("serial", "close", path=self.label)
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

    @property
    def read_can_wait(self) -> bool:
        return self._fd is not None  # select() on the device and the wake pipe; URL handlers may not wake

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
        if len(data) < BULK:
            return data  # a keystroke's echo, a prompt: straight out
        return self._more(fd, data)

    def _more(self, fd: int, data: bytes) -> bytes:
        """Output in bulk: take what else is already there, up to BATCH bytes, so the chunks a pty
        hands over (at most 4095 bytes a read) go to the screen in fewer, larger writes. Only what
        select says is readable is read: a non-blocking read that finds nothing can leave the rest
        of a burst behind in the pty, unseen by the next select (Linux 6.x)."""
        parts = [data]
        size = len(data)
        while size < BATCH:
            try:
                more = os.read(fd, READ_SIZE) if select.select([fd], [], [], 0)[0] else b""
            except OSError:
                more = b""
            if not more:
                break  # nothing more yet (or the device went: the next read says so; nothing read is lost)
            parts.append(more)
            size += len(more)
        return b"".join(parts) if len(parts) > 1 else data

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
            what = {"inject-nmi": "an NMI", "system_reset": "a reset"}.get(command, command)
            raise NotSupported(f"{self.label} is a serial line, which cannot carry {what}: nothing was sent",
                               "for a local QEMU VM, give its QMP socket: --qmp SOCKET (QEMU: "
                               f"-qmp unix:/tmp/qmp.sock,server=on,wait=off); on a real board, {what} is a button "
                               "(or its BMC's, e.g. `ipmitool chassis power diag` for an NMI)")
        from sercon.transport.qmp import qmp

        qmp(self.qmp, command, arguments)

    def sysrq(self, key: str) -> None:
        if SYSRQ not in self.controls:  # before anything is written: never type the key letter
            raise break_refused(self.label, self.no_break or "?", "SysRq")
        super().sysrq(key)

    def send_break(self, duration: float = 0.25) -> None:
        if BREAK not in self.controls:
            raise break_refused(self.label, self.no_break or "?", "a BREAK")
        if sercon.TRACE is not None:
            sercon.TRACE.event("serial", "break", ms=int(duration * 1000), via="qmp" if self.qmp and self.no_break
                               else "line")
        if self.qmp and self.no_break:  # the line cannot carry it: QEMU puts it on the VM's serial port
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


def _trace_open(path: str, port: Any) -> None:
    """The settings the port was opened with, and the modem lines where the device has them (a pty has none)."""
    tracer = sercon.TRACE
    if tracer is None:
        return
    tracer.event("serial", "open", path=path, kind=type(port).__module__.rsplit(".", 1)[-1],
                 settings=f"{port.baudrate} {port.bytesize}{port.parity}{port.stopbits:g}",
                 flow="rtscts" if port.rtscts else "xonxoff" if port.xonxoff else "none")
    try:
        lines = {"cts": port.cts, "dsr": port.dsr, "ri": port.ri, "cd": port.cd}
    except (OSError, serial.SerialException, AttributeError, NotImplementedError, ValueError):
        return
    tracer.event("serial", "modem lines", **{name: int(bool(on)) for name, on in lines.items()})


def console_key(url: str) -> str:
    return os.path.realpath(url) if "://" not in url else url


def usb_serial_number(path: str) -> str | None:
    """The USB serial number of the adapter behind *path*, so it can be found again after replugging."""
    real = os.path.realpath(path)
    if sys.platform.startswith("linux") and not os.path.exists(f"/sys/class/tty/{os.path.basename(real)}/device"):
        return None  # no hardware behind it (a pseudo-terminal): skip pyserial's scan of every port at start-up
    from serial.tools import list_ports

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


def device_diagnosis(url: str, qmp: str | None = None) -> tuple[list[CheckResult], SerconError | None]:
    """What `sercon doctor` says about a local device or URL, and the error for its exit status (a
    missing device: 4, as `connect` says)."""
    from sercon.checks import FAIL, CheckResult

    rows = device_checks(url)
    if rows[0].status == FAIL:
        return rows, no_such_device(url)
    try:
        check_line(url)
    except UsageError as exc:  # a file, /dev/null, a URL without its port: as connect says (exit 2)
        return [CheckResult("device", FAIL, exc.message, exc.hint or "")], exc
    rows.append(break_check(url, qmp))
    if qmp:
        rows.append(qmp_check(qmp))
    return rows, None


def device_checks(url: str) -> list[CheckResult]:
    """There, usable by you, not locked."""
    from sercon.checks import FAIL, OK, CheckResult

    if "://" in url:
        return [CheckResult("device", OK, f"{url} is a URL: sercon connects when asked")]
    if not os.path.exists(url):
        return [CheckResult("device", FAIL, f"{url} does not exist", "check the cable and `sercon list`")]
    rows = [CheckResult("device", OK, f"{url} exists")]
    if os.access(url, os.R_OK | os.W_OK):
        rows.append(CheckResult("permission", OK, "you can read and write it"))
    else:
        rows.append(CheckResult("permission", FAIL, "you cannot read and write it", permission_fix(url)))
    holder = lock_holder(url)
    rows.append(CheckResult("lock", FAIL, f"locked by {holder}", "close the other program") if holder
                else CheckResult("lock", OK, "not locked"))
    return rows


def break_check(url: str, qmp: str | None) -> CheckResult:
    from sercon.checks import OK, WARN, CheckResult

    why = break_refusal(url)
    if why is None:
        return CheckResult("break", OK, "the line carries BREAK: sysrq and the menu's b and s work")
    if qmp:
        return CheckResult("break", OK, f"{why}: BREAK goes through QEMU's QMP socket {qmp}")
    return CheckResult("break", WARN, f"{why}, which cannot carry a BREAK: sysrq and the menu's b and s "
                       "are refused", BREAK_INSTEAD)


def qmp_check(path: str) -> CheckResult:
    from sercon.checks import FAIL, OK, CheckResult
    from sercon.transport.qmp import qmp

    try:
        status = qmp(path, "query-status") or {}
    except SerconError as exc:
        return CheckResult("qmp", FAIL, exc.message, exc.hint or "")
    return CheckResult("qmp", OK, f"QEMU answers on {path} ({status.get('status', 'running')})")
