"""A serial device read without writing to it: `sercon watch` on a device no sercon session holds.

Two readers of one tty split its input between them, so a device another program has open with a
lock (pyserial's flock, as sercon connect takes; /proc/locks shows it) is refused rather than read
beside it. The line is put in raw input at the given speed while it is read (nothing echoed back into
the device) and its own settings are put back afterwards.
"""

from __future__ import annotations

import contextlib
import errno
import os
from collections.abc import Iterator

from sercon.errors import DeviceBusy, PermissionDenied, SerconError
from sercon.transport.device_errors import lock_holder, no_such_device, permission_fix


@contextlib.contextmanager
def opened_read_only(path: str, baud: int) -> Iterator[int]:
    """The device's descriptor (non-blocking, read-only) while the block runs; errors as the contract says."""
    holder = lock_holder(path)
    if holder:
        raise DeviceBusy(f"{path} is in use by {holder}: reading it too would take part of its input",
                         "if that is a sercon connect, `sercon watch` joins it once it is this user's; "
                         "otherwise close the other program first")
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOCTTY | os.O_NONBLOCK)
    except OSError as exc:
        if exc.errno in (errno.ENOENT, errno.ENODEV, errno.ENXIO):
            raise no_such_device(path) from exc
        if exc.errno in (errno.EACCES, errno.EPERM):
            raise PermissionDenied(f"{path}: permission denied", permission_fix(path)) from exc
        raise SerconError(f"cannot open {path} read-only: {exc.strerror}",
                          "check the device name (sercon list)") from exc
    try:
        with _raw_input(fd, baud):
            yield fd
    finally:
        os.close(fd)


def read_available(fd: int) -> bytes | None:
    """What the device has (None: nothing now; b"": it went away)."""
    try:
        return os.read(fd, 65536)
    except BlockingIOError:
        return None
    except OSError:
        return b""


@contextlib.contextmanager
def _raw_input(fd: int, baud: int) -> Iterator[None]:
    import termios

    try:
        saved = termios.tcgetattr(fd)
    except termios.error:  # not a terminal (a plain file, a FIFO): read as it is
        yield
        return
    attrs = [*saved[:6], list(saved[6])]
    attrs[3] &= ~(termios.ICANON | termios.ECHO | termios.ECHONL | termios.ISIG | termios.IEXTEN)
    attrs[0] &= ~(termios.ICRNL | termios.INLCR | termios.IGNCR | termios.ISTRIP | termios.IXON)
    attrs[2] |= termios.CREAD | termios.CLOCAL
    speed = getattr(termios, f"B{baud}", None)
    if speed is not None:
        attrs[4] = attrs[5] = speed
    attrs[6][termios.VMIN], attrs[6][termios.VTIME] = 1, 0
    termios.tcsetattr(fd, termios.TCSANOW, attrs)
    try:
        yield
    finally:
        with contextlib.suppress(termios.error):
            termios.tcsetattr(fd, termios.TCSANOW, saved)
