"""`sercon watch`: a console read-only, without ever taking it.

With a `sercon connect` running on the console, its output comes through the session's control
socket (its recent output first). Without one: an Azure VM's boot diagnostics log, polled (no
connect call is made, so nobody's console session is taken over); a local device opened read-only.
A network URL (telnet, rfc2217, socket) has no read-only way in: it needs the running session.
"""

from __future__ import annotations

from typing import Any

import click

from sercon.cli.context import resolve
from sercon.cli.env import Env
from sercon.cli.options import Seconds, azure_options, azure_target_options, target_argument
from sercon.cli.session_setup import watch_running
from sercon.errors import ExitStatus, PreconditionFailed
from sercon.targets import AzureTarget, SerialTarget


@click.command()
@target_argument
@azure_target_options
@azure_options
@click.option("-b", "--baud", type=click.IntRange(min=1), help="A device's line speed (default 115200).")
@click.option("--escape", metavar="KEY", help="With q after it, quits: ctrl-] (default), ^T, ..., or none.")
@click.option("--interval", type=Seconds(min=0.1), default=5.0, show_default=True,
              help="Seconds between polls of an Azure VM's boot log (when no session runs).")
@click.pass_obj
def watch(env: Env, target: str | None, identity: bool, interval: float, **options: Any) -> int:
    """Watch TARGET's console read-only (a running `sercon connect`, else the boot log or the device).

    A running session's last output comes first, then live output. Your keys never reach the console;
    Ctrl-C or the escape key then q quits.
    """
    from sercon.config import escape_key
    from sercon.transport.control import find_session

    resolved, prefs = resolve(env, target, options)
    escape = escape_key(prefs.get("escape") or "ctrl-]")
    if isinstance(resolved, AzureTarget):
        return _watch_azure(env, resolved, identity, interval, escape)
    from sercon.transport.serial import console_key

    running = find_session(console_key(resolved.url), env.environ)
    if running is not None:
        return watch_running(env, running, resolved.label, escape)
    if "://" in resolved.url:
        raise PreconditionFailed(f"no sercon session is running on {resolved.label}, and a network console has no "
                                 "read-only way in (reading it would be a second connection that can type)",
                                 f"start one in another terminal: sercon connect {resolved.label}")
    return _watch_device(env, resolved, escape)


def _watch_azure(env: Env, target: AzureTarget, identity: bool, interval: float, escape: int | None) -> int:
    from sercon.azure.bootlog import BootLog
    from sercon.azure.resolve import resolve_vm
    from sercon.cli.context import azure_vm_context
    from sercon.terminal.watcher import Watcher
    from sercon.transport.control import find_session

    arm, subscription = azure_vm_context(env, target, identity)
    vm = resolve_vm(arm, target, subscription)
    running = find_session(vm.resource_id, env.environ)
    if running is not None:
        return watch_running(env, running, vm.label, escape)
    boot_log = BootLog(arm, vm)
    watcher = Watcher(env.stdin, env.stdout_fd, env.info, escape)
    watcher.notice(f"no sercon session runs on {vm.label}: following its boot diagnostics log instead "
                   f"(Azure writes it late, by minutes; polled every {interval:g} s)")
    watcher.source(None, lambda: b"".join(boot_log.read_from(boot_log.offset)), interval)
    return int(ExitStatus.SUCCESS)


def _watch_device(env: Env, target: SerialTarget, escape: int | None) -> int:
    from sercon.terminal.watcher import Watcher
    from sercon.transport.read_only import opened_read_only, read_available

    with opened_read_only(target.url, target.line.baud) as fd:
        watcher = Watcher(env.stdin, env.stdout_fd, env.info, escape)
        watcher.notice(f"no sercon session runs on {target.url}: reading the device itself")
        ended = watcher.source(fd, lambda: read_available(fd))
    if ended != "quit":
        env.info(ended)
    return int(ExitStatus.SUCCESS)


COMMANDS = (watch,)
