"""The far end of the conftest's socat_device."""

from __future__ import annotations

import os
import time
from pathlib import Path


def peer_write(peer: Path, data: bytes) -> None:
    """Write *data* into the device from its peer end (opened and closed around it, as a replug would)."""
    fd = os.open(peer, os.O_RDWR | os.O_NOCTTY)
    try:
        os.write(fd, data)
        time.sleep(0.2)  # socat relays it before the peer closes
    finally:
        os.close(fd)


def unplug_and_replug(term, socat_device) -> None:
    """A line printed, the device unplugged (the session says it reconnects), plugged in again
    (reconnected), another line printed: both lines shown."""
    dev, peer, procs, start = socat_device
    peer_write(peer, b"before unplug\r\n")
    term.wait_text("before unplug")
    procs[0].terminate()
    procs[0].wait()
    term.wait_text("reconnecting in")
    procs.append(start())
    term.wait_text(f"reconnected to {dev}")
    peer_write(peer, b"after replug\r\n")
    term.wait_text("after replug")
