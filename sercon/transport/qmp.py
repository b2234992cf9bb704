"""QEMU's machine protocol (QMP) over its Unix socket: NMI, reset, and BREAK on a chardev.

QEMU serves one QMP client at a time (a second one hangs), so each command connects, greets,
runs and leaves.
"""

from __future__ import annotations

import json
import os
import socket
import stat
from typing import Any

from sercon.errors import ConnectionLost, PreconditionFailed, TargetNotFound, UsageError

TIMEOUT = 10.0


START_QEMU = "start QEMU with -qmp unix:PATH,server=on,wait=off and give that PATH to --qmp"


def qmp(path: str, command: str, arguments: dict[str, Any] | None = None) -> Any:
    """Run one QMP *command*. A wrong --qmp is the user's error: missing or refused (4), not a socket or
    not QMP (2); a command QEMU refuses is one this VM cannot do (6)."""
    _check_socket(path)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(TIMEOUT)
    try:
        try:
            sock.connect(path)
        except ConnectionRefusedError as exc:
            raise TargetNotFound(f"QEMU's QMP socket {path}: nothing answers on it (the VM has stopped?)",
                                 f"is the VM running? {START_QEMU}") from exc
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


def _check_socket(path: str) -> None:
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError as exc:
        raise TargetNotFound(f"QEMU's QMP socket {path} does not exist", f"is the VM running? {START_QEMU}") from exc
    except (OSError, ValueError):
        return  # the connect says what is wrong
    if not stat.S_ISSOCK(mode):
        raise UsageError(f"{path} is not QEMU's QMP socket: it is not a socket at all", START_QEMU)


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
            raise UsageError("this socket does not speak QMP (is it QEMU's human monitor, -monitor?): "
                             f"it said {line[:60]!r}", START_QEMU)
        if "error" in message:
            error = message["error"]
            raise PreconditionFailed(f"QEMU refused: {error.get('desc', error) if isinstance(error, dict) else error}")
        if "event" not in message:
            return message
