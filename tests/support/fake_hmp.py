"""A socket that answers as QEMU's human monitor, where --qmp expects the machine protocol."""

from __future__ import annotations

import socket
import threading


def fake_hmp(path: str) -> threading.Thread:
    """QEMU's human monitor where --qmp expected the machine protocol (a common mix-up)."""
    server = socket.socket(socket.AF_UNIX)
    server.bind(path)
    server.listen(4)

    def serve() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            conn.sendall(b"QEMU 8.2.2 monitor - type 'help' for more information\r\n(qemu) ")
            conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return thread
