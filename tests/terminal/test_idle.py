"""An idle session does not wake up: the reader blocks until output or shutdown (no polling)."""

from __future__ import annotations

import io
import os
import threading
import time

from sercon.targets import LineSettings
from sercon.terminal.session import Session, SessionOptions
from sercon.transport.serial import SerialTransport


class CountingTransport(SerialTransport):
    """The real serial transport on a pty, counting how often the session's reader calls read()."""

    reads = 0

    def read(self, timeout):
        CountingTransport.reads += 1
        return super().read(timeout)


def test_an_idle_session_does_not_poll(device):
    transport = CountingTransport(device.path, LineSettings())
    transport.open()
    keys_r, keys_w = os.pipe()
    out_r, out_w = os.pipe()
    counts: list[int] = []

    def watch() -> None:
        """The far end and the user: print a line, then leave the session idle, then end the input."""
        try:
            device.write(b"hello\r\n")
            seen, deadline = b"", time.monotonic() + 10
            while b"hello" not in seen and time.monotonic() < deadline:
                seen += os.read(out_r, 4096)
            time.sleep(0.5)  # the reader is back in its (blocking) read
            counts.append(CountingTransport.reads)
            time.sleep(2.5)  # the absence of wake-ups is the point: watch a while
            counts.append(CountingTransport.reads)
        finally:
            os.close(keys_w)  # end of input: the session ends

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    session = Session(transport, io.TextIOWrapper(io.FileIO(keys_r, closefd=False)), out_w, SessionOptions())
    session.run()  # on the main thread, as in sercon (it installs signal handlers)
    watcher.join(5)
    for fd in (keys_r, out_r, out_w):
        os.close(fd)
    assert len(counts) == 2 and counts[1] == counts[0], f"the reader woke up {counts[1] - counts[0]} times idle"
