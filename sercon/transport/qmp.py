"""QEMU's machine protocol (QMP) over its Unix socket: NMI, reset, and BREAK on a chardev.

QEMU serves one QMP client at a time (a second one hangs), so each command connects, greets,
runs and leaves.
"""

from __future__ import annotations

import json
import socket
from typing import Any

from sercon.errors import ConnectionLost, SerconError

TIMEOUT = 10.0


def qmp(path: str, command: str, arguments: dict[str, Any] | None = None) -> Any:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(TIMEOUT)
    try:
        sock.connect(path)
        stream = sock.makefile("rwb")
        _answer(stream)  # the greeting
        for execute, args in (("qmp_capabilities", None), (command, arguments)):
            request = {"execute": execute} | ({"arguments": args} if args else {})
            stream.write(json.dumps(request).encode() + b"\n")
            stream.flush()
            reply = _answer(stream)
        return reply.get("return")
    except OSError as exc:
        raise ConnectionLost(f"QEMU's QMP socket {path}: {exc}",
                             "is the VM running with -qmp unix:PATH,server=on,wait=off?") from exc
    finally:
        sock.close()


def _answer(stream: Any) -> dict[str, Any]:
    """The next reply, skipping asynchronous events (RESET, NMI, ...)."""
    while True:
        line = stream.readline()
        if not line:
            raise ConnectionLost("QEMU closed the QMP socket")
        try:
            message = json.loads(line)
        except ValueError:
            message = None
        if not isinstance(message, dict):  # a common mix-up: -monitor (HMP) instead of -qmp
            raise SerconError("this socket does not speak QMP (is it QEMU's human monitor, -monitor?): "
                              f"it said {line[:60]!r}", "start QEMU with -qmp unix:PATH,server=on,wait=off "
                              "and give that PATH to --qmp")
        if "error" in message:
            raise SerconError(f"QEMU refused: {message['error'].get('desc', message['error'])}")
        if "event" not in message:
            return message
