"""Local stand-ins for consoles: machines sercon can talk to with no hardware and no Azure account."""

from __future__ import annotations

import importlib

from sercon.errors import PreconditionFailed

# What only the emulator needs (pyproject's `emulator` extra): module name, then the package that has it.
EXTRA_MODULES = {"aiohttp": "aiohttp", "jwt": "PyJWT"}


def require_extra() -> None:
    """Fail with how to install the extra when its packages are missing, before any emulator module is imported.

    A plain `pip install sercon` leaves them out, so `sercon demo` and `sercon emulator` say so in one line
    instead of ending on an ImportError."""
    missing = []
    for module, package in EXTRA_MODULES.items():
        try:
            importlib.import_module(module)
        except ImportError:
            missing.append(package)
    if missing:
        raise PreconditionFailed(
            f"the Azure emulator needs {' and '.join(missing)}, which this install of sercon leaves out",
            "pip install 'sercon[emulator]' (with pipx: pipx inject sercon " + " ".join(EXTRA_MODULES.values()) + ")")
