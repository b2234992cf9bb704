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
