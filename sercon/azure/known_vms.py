"""The VMs sercon has resolved, kept so a shell can complete their names without calling Azure.

`vm-names.json` in sercon's cache folder (sercon/paths.py): the last LIMIT VMs, newest first, each
{"subscription", "resource_group", "name", "instance_id", "arm"}; "arm" is $SERCON_ARM_ENDPOINT when
one was set (an emulator: its VMs complete only where that emulator is used, as after `. demo.env`),
else "" (Azure's own clouds). It is private (0600 in a 0700 folder,
never reached through a symbolic link) and read only when it is the user's own and private; a name
that is not an Azure name is skipped (a completion is one line). Losing or breaking it costs only
completions: it never fails a command.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
from pathlib import Path
from typing import Any

from sercon.errors import SerconError
from sercon.paths import cache_dir, private_dir

FILE = "vm-names.json"
LIMIT = 200
KEYS = ("subscription", "resource_group", "name", "instance_id")
_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.()-]{0,89}\Z")  # also a resource group's and an id's shape


def known(environ: dict[str, str]) -> list[dict[str, str | None]]:
    """The VMs remembered for this environment's ARM, newest first ([] when there is no usable file)."""
    arm = _arm(environ)
    return [entry for entry in _entries(environ) if entry.get("arm", "") == arm]


def _arm(environ: dict[str, str]) -> str:
    return environ.get("SERCON_ARM_ENDPOINT", "").rstrip("/")


def _entries(environ: dict[str, str]) -> list[dict[str, Any]]:
    path = cache_dir(environ) / FILE
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return []
    try:
        info = os.fstat(fd)
        if info.st_uid != os.getuid() or info.st_mode & 0o077:
            return []
        with os.fdopen(os.dup(fd), encoding="utf-8") as file:
            entries = json.load(file)
    except (OSError, ValueError):
        return []
    finally:
        os.close(fd)
    return [entry for entry in entries if _valid(entry)] if isinstance(entries, list) else []


def _valid(entry: Any) -> bool:
    return (isinstance(entry, dict) and all(isinstance(entry.get(k), str) and _NAME.match(entry[k])
                                            for k in KEYS[:3])
            and (entry.get("instance_id") is None or isinstance(entry["instance_id"], str)
                 and bool(_NAME.match(entry["instance_id"])))
            and isinstance(entry.get("arm", ""), str))


def remember(environ: dict[str, str], vm: Any) -> None:
    """Put *vm* (an AzureVm) first; quietly nothing when the cache folder cannot be written."""
    entry = {**{key: getattr(vm, key) for key in KEYS}, "arm": _arm(environ)}
    entries = _entries(environ)
    if entries[:1] == [entry] or not _valid(entry):
        return
    same = [entry[key] for key in KEYS]  # the same VM seen through another endpoint: one entry, the last
    entries = [entry, *(e for e in entries if [e.get(key) for key in KEYS] != same)][:LIMIT]
    with contextlib.suppress(OSError, SerconError):
        _write(private_dir(cache_dir(environ)) / FILE, json.dumps(entries).encode())


def _write(path: Path, data: bytes) -> None:
    """Whole or not at all: a private temporary file renamed over the old one."""
    import tempfile

    fd, temporary = tempfile.mkstemp(prefix=f".{FILE}.", dir=path.parent)  # 0600
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data)
        os.replace(temporary, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
