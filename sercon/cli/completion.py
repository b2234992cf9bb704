"""What a Tab completes (click's shell_complete callbacks): quick, local, and never an error.

TARGET: profiles from the config file, serial devices, URL schemes and the Azure VMs sercon resolved
before (sercon/azure/known_vms.py: no Azure call at a Tab); a word that is a path gets the shell's
own file completion, but for `/dev/tty...` and `/dev/serial/...`, which get the serial devices only
(when there are any). `-g` and `-n` complete the resource groups and names of those VMs, `--baud`
the standard rates, `--qmp` files.
"""

from __future__ import annotations

from typing import Any

import click
from click.shell_completion import CompletionItem

SCHEMES = ("telnet://", "socket://", "rfc2217://")
RATES = ("9600", "19200", "38400", "57600", "115200", "230400", "460800", "921600")
SERIAL_PREFIXES = ("/dev/tty", "/dev/serial/")


def complete_target(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    if incomplete.startswith(("/", ".", "~")):
        if incomplete == "/dev/" or incomplete.startswith(SERIAL_PREFIXES):
            devices = [d for d in serial_devices() if d.startswith(incomplete)]
            if devices:
                return [CompletionItem(d) for d in devices]
        return [CompletionItem(incomplete, type="file")]
    words = [*_profiles(ctx), *SCHEMES, *_vm_targets(ctx), *serial_devices()]
    return [CompletionItem(w) for w in dict.fromkeys(words) if w.startswith(incomplete)]


def complete_send_args(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    """send's positionals: the first is a TARGET unless -t named one; the rest is TEXT."""
    if ctx.params.get("args") or ctx.params.get("target"):
        return []
    return complete_target(ctx, param, incomplete)


def complete_group(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    groups = dict.fromkeys(str(vm["resource_group"]) for vm in _known(ctx))
    return [CompletionItem(g) for g in groups if g.lower().startswith(incomplete.lower())]


def complete_name(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    names = dict.fromkeys(str(vm["name"]) for vm in _known(ctx, ctx.params.get("resource_group")))
    return [CompletionItem(n) for n in names if n.startswith(incomplete)]


def complete_rate(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    return [CompletionItem(rate) for rate in RATES if rate.startswith(incomplete)]


def complete_file(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    return [CompletionItem(incomplete, type="file")]


def serial_devices() -> list[str]:
    """The serial ports `sercon list` shows, and their stable names under /dev/serial/by-id."""
    import glob

    try:
        from serial.tools import list_ports

        ports = sorted(port.device for port in list_ports.comports())
    except Exception:  # noqa: BLE001 - a Tab must never print a traceback
        ports = []
    return ports + sorted(glob.glob("/dev/serial/by-id/*"))


def _profiles(ctx: click.Context) -> list[str]:
    try:
        return sorted(ctx.find_root().obj.config.profiles)
    except Exception:  # noqa: BLE001 - a broken config file is said when a command runs, not at a Tab
        return []


def _known(ctx: click.Context, group: str | None = None) -> list[dict[str, Any]]:
    from sercon.azure.known_vms import known

    try:
        vms = known(ctx.find_root().obj.environ)
    except Exception:  # noqa: BLE001
        return []
    return [vm for vm in vms if group is None or str(vm["resource_group"]).lower() == group.lower()]


def _vm_targets(ctx: click.Context) -> list[str]:
    """A VM by its name, a scale-set instance as SET/ID (within -g's group when one was given)."""
    return [str(vm["name"]) + (f"/{vm['instance_id']}" if vm.get("instance_id") else "")
            for vm in _known(ctx, ctx.params.get("resource_group"))]
