"""lrzsz's receivers (rx, rb) on the slave side of a real pty, and the sender's end of it as a ByteLink."""

from __future__ import annotations

import contextlib
import os
import select
import subprocess
import tty
from collections.abc import Callable, Iterator
from pathlib import Path


class FdLink:
    """A ByteLink over a pty master: what sercon's sender is given in these tests."""

    def __init__(self, fd: int, corrupt: Callable[[bytes], bytes] | None = None) -> None:
        self.fd, self.corrupt = fd, corrupt
        self.written = 0

    def read(self, n: int, timeout: float) -> bytes:
        ready, _, _ = select.select([self.fd], [], [], timeout)
        if not ready:
            return b""
        try:
            return os.read(self.fd, n)
        except OSError:  # EIO: the receiver's side is closed; a dead line reads as silence
            return b""

    def write(self, data: bytes) -> None:
        if self.corrupt is not None:
            data = self.corrupt(data)
        view = memoryview(data)
        while view:
            view = view[os.write(self.fd, view):]
        self.written += len(data)


class FlipOnce:
    """Flips one bit of the *nth* write (a data block, counted from 1) once: line noise, in transit."""

    def __init__(self, nth: int) -> None:
        self.nth, self.count, self.flipped = nth, 0, False

    def __call__(self, data: bytes) -> bytes:
        self.count += 1
        if self.flipped or self.count != self.nth or len(data) < 100:
            return data
        self.flipped = True
        middle = len(data) // 2
        return data[:middle] + bytes([data[middle] ^ 0x40]) + data[middle + 1:]


@contextlib.contextmanager
def receiver(args: list[str], cwd: Path, stderr_on_line: bool = False
             ) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    """Run an lrzsz receiver with its stdin and stdout on a pty slave; yield it and the master fd.

    ``stderr_on_line``: its messages go to the line too, as when someone types ``rx`` in a shell there."""
    master, slave = os.openpty()
    tty.setraw(slave)
    log = open(cwd / "receiver.log", "wb")  # noqa: SIM115 - closed below, after the process
    process = subprocess.Popen(args, stdin=slave, stdout=slave, stderr=slave if stderr_on_line else log, cwd=cwd,
                               start_new_session=True)
    try:  # the slave stays open here too: when its last holder closes it, the master loses unread output
        yield process, master
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(10)
        log.close()
        os.close(master)
        os.close(slave)
