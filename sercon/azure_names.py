"""Azure's name rules, one table for every check: the target parser (targets.py, config.py), the check
before any ARM call (azure/resolve.py) and the VM names a Tab completes (azure/known_vms.py).

From "Naming rules and restrictions for Azure resources" (learn.microsoft.com, resource-name-rules),
never stricter than Azure, a little looser where Azure's rules differ by OS or the docs disagree:
- subscription: its ID, a GUID; any letters, digits and '-' up to 64.
- resource group: 1-90 letters or digits (Unicode ones too), '_', '-', '.', '(' and ')', not ending in '.'.
- VM or scale set: 1-64 (Linux; 1-15 Windows) of letters, digits, '_', '-' and '.'; Azure further forbids
  a Windows name '.', and a name ending in '-' or '.', which are left to Azure to say. Up to 80 here: a
  flexible scale set's VM is named SET_XXXXXXXX (up to 73). It starts with a letter, digit or '_' (so
  no option-like `-vm`, and no `.` or `..`, which a client library would collapse as a path segment).
- instance: a uniform scale set's instance ID (digits) or a flexible one's VM name: the VM rule.
Each name becomes one segment of an ARM path, so none may hold '/', '?', '#', '%' or a space.

Patterns are strings, compiled on first use (re caches them): targets.py is on every command's way.
"""

from __future__ import annotations

import re

_VM = r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,79}"
RULES: dict[str, tuple[str, str]] = {
    "subscription": (r"[A-Za-z0-9-]{1,64}", "letters, digits and '-'"),
    "resource group": (r"[-\w.()]{0,89}[-\w()]", "letters, digits, '-', '_', '.', '(' and ')', at most 90, not "
                       "ending in '.'"),
    "VM or scale-set name": (_VM, "letters, digits, '-', '_' and '.', at most 80, starting with a letter, digit or "
                             "'_'"),
    "instance id": (_VM, "letters, digits, '-', '_' and '.', at most 80, starting with a letter, digit or '_'"),
}


def valid(kind: str, value: str) -> bool:
    """*value* is a name Azure may have given a *kind* (a key of RULES)."""
    return re.fullmatch(RULES[kind][0], value) is not None


def valid_vm_spec(spec: str) -> bool:
    """NAME or SET/ID, as a VM is named at the command line and in a profile."""
    name, slash, instance = spec.partition("/")
    return valid("VM or scale-set name", name) and (not slash or valid("instance id", instance))
