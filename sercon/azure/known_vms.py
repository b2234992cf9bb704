"""The VMs sercon has resolved, kept so a shell can complete their names without calling Azure.

`vm-names.json` in sercon's cache folder (sercon/paths.py): the last LIMIT VMs, newest first, each
{"subscription", "resource_group", "name", "instance_id", "arm"}; "arm" is $SERCON_ARM_ENDPOINT when
one was set (an emulator: its VMs complete only where that emulator is used, as after `. demo.env`),
else "" (Azure's own clouds). It is read and written by sercon.private_files (0600 in a 0700
folder, written whole, never through a symbolic link, read only when it is the user's own and
private); a name that is not an Azure name (sercon.azure_names) is skipped (a completion is one
line). Losing or breaking it costs only completions: it never fails a command.
"""

from __future__ import annotations

import contextlib
import json
from typing import Any

from sercon import private_files
from sercon.azure_names import valid
from sercon.errors import SerconError
from sercon.paths import cache_dir

FILE = "vm-names.json"
LIMIT = 200
KEYS = ("subscription", "resource_group", "name", "instance_id")
# Each key's rule in sercon.azure_names: a name Azure cannot have is no completion.
KINDS = {"subscription": "subscription", "resource_group": "resource group", "name": "VM or scale-set name",
         "instance_id": "instance id"}


def known(environ: dict[str, str]) -> list[dict[str, str | None]]:
    """The VMs remembered for this environment's ARM, newest first ([] when there is no usable file)."""
    arm = _arm(environ)
    return [entry for entry in _entries(environ) if entry.get("arm", "") == arm]


def _arm(environ: dict[str, str]) -> str:
    return environ.get("SERCON_ARM_ENDPOINT", "").rstrip("/")


def _entries(environ: dict[str, str]) -> list[dict[str, Any]]:
    data = private_files.read_or_none(cache_dir(environ) / FILE)
    try:
        entries = json.loads(data) if data is not None else []
    except ValueError:
        return []
    return [entry for entry in entries if _valid(entry)] if isinstance(entries, list) else []


def _valid(entry: Any) -> bool:
    return (isinstance(entry, dict) and all(isinstance(entry.get(k), str) and valid(KINDS[k], entry[k])
                                            for k in KEYS[:3])
            and (entry.get("instance_id") is None or isinstance(entry["instance_id"], str)
                 and valid(KINDS["instance_id"], entry["instance_id"]))
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
        private_files.write(cache_dir(environ) / FILE, json.dumps(entries))
