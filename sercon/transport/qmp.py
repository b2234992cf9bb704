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

import sercon
from sercon.errors import ConnectionLost, PreconditionFailed, TargetNotFound, UsageError

TIMEOUT = 10.0
QMP_FIX = ("start QEMU with -qmp unix:PATH,server=on,wait=off and give that PATH to --qmp (-monitor makes the "
           "human monitor, which sercon cannot use)")


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
                                 f"is the VM running? {QMP_FIX}") from exc
        stream = sock.makefile("rwb")
        _greeting(stream, path)
        for execute, args in (("qmp_capabilities", None), (command, arguments)):
            request = {"execute": execute} | ({"arguments": args} if args else {})
            stream.write(json.dumps(request).encode() + b"\n")
            stream.flush()
            if sercon.TRACE is not None:
                sercon.TRACE.event("qmp", f"execute {execute}", socket=path)
            reply = _answer(stream, execute)
            if sercon.TRACE is not None:
                sercon.TRACE.event("qmp", f"return {execute}")
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
        raise TargetNotFound(f"QEMU's QMP socket {path} does not exist", f"is the VM running? {QMP_FIX}") from exc
    except (OSError, ValueError):
        return  # the connect says what is wrong
    if not stat.S_ISSOCK(mode):
        raise UsageError(f"{path} is not QEMU's QMP socket: it is not a socket at all", QMP_FIX)


def _greeting(stream: Any, path: str) -> None:
    """QMP greets first with {"QMP": {...}}. Anything else is another program's socket, most often QEMU's
    human monitor (-monitor): the option's value is wrong (exit 2), nothing was sent."""
    line = stream.readline()
    if not line:
        raise ConnectionLost(f"QEMU closed the QMP socket {path} before it greeted")
    try:
        message = json.loads(line)
    except ValueError:
        message = None
    if isinstance(message, dict) and isinstance(message.get("QMP"), dict):
        return
    said = line.decode("utf-8", "replace").strip()[:60]
    kind = "QEMU's human monitor (HMP)" if said.startswith("QEMU ") and "monitor" in said else "another program"
    raise UsageError(f"{path} is not a QMP socket: it is {kind}, which said {said!r}", QMP_FIX)


def _answer(stream: Any, execute: str) -> dict[str, Any]:
    """The reply to *execute*, skipping asynchronous events (RESET, NMI, ...)."""
    while True:
        line = stream.readline()
        if not line:
            raise ConnectionLost("QEMU closed the QMP socket")
        try:
            message = json.loads(line)
        except ValueError:
            message = None
        if not isinstance(message, dict):
            raise ConnectionLost(f"QEMU's QMP answer to {execute} is not a JSON object: {line[:60]!r}")
        if "error" in message:
            error = message["error"]
            desc = error.get("desc", error) if isinstance(error, dict) else error
            raise PreconditionFailed(f"QEMU refused {execute}: {desc}",
                                     "QEMU cannot do this for this machine (a guest without the device?); "
                                     "see QEMU's documentation of the QMP command " + execute)
        if "event" not in message:
            return message
