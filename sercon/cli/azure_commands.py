"""Commands for Azure: doctor, enable, disable, log, login, logout, account, emulator."""

from __future__ import annotations

import contextlib
from typing import Any

import click

from sercon.cli.context import arm_for, azure_vm_context, check_rows, resolve
from sercon.cli.env import Env
from sercon.cli.options import (
    azure_options,
    azure_target_options,
    cloud_option,
    qmp_option,
    subscription_option,
    target_argument,
)
from sercon.errors import ExitStatus, UsageError


@click.command()
@target_argument
@azure_target_options
@qmp_option
@azure_options
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@click.pass_obj
def doctor(env: Env, target: str | None, identity: bool, as_json: bool, **options: Any) -> int:
    """Check every prerequisite of the console on TARGET, each with what was found and the fix.

    Exit 0 when nothing failed, 6 when a check failed, 4 when the target is not found, 5 when the VM
    may not be read.
    """
    from sercon.checks import FAIL
    from sercon.cli.render import checking, render_checks
    from sercon.targets import AzureTarget

    resolved, _ = resolve(env, target, options)
    with checking(env, resolved.label) if isinstance(resolved, AzureTarget) else contextlib.nullcontext():
        rows, error = check_rows(env, resolved, identity)
    render_checks(env, resolved.label, rows, as_json)
    if error is not None:
        raise error  # after the table: the same message, on stderr, with its exit status
    return ExitStatus.PRECONDITION if any(r.status == FAIL for r in rows) else ExitStatus.SUCCESS


def _console_switch(env: Env, subscription: str | None, cloud: str | None, identity: bool, enable: bool) -> int:
    from sercon.azure.doctor import console_path
    from sercon.azure.resolve import pick_subscription
    from sercon.targets import AzureTarget

    sub = pick_subscription(AzureTarget("-", subscription=subscription), env.environ)
    arm = arm_for(env, cloud, identity)
    body = arm.post(console_path(sub) + ("/enableConsole" if enable else "/disableConsole"), "serialconsole")
    disabled = body.get("properties", body).get("disabled")
    env.info(f"serial console {'disabled' if disabled else 'enabled'} for subscription {sub}")
    return ExitStatus.SUCCESS


@click.command()
@subscription_option
@cloud_option
@azure_options
@click.pass_obj
def enable(env: Env, subscription: str | None, cloud: str | None, identity: bool) -> int:
    """Enable the serial console for the subscription (needs write access to it)."""
    return _console_switch(env, subscription, cloud, identity, enable=True)


@click.command()
@subscription_option
@cloud_option
@azure_options
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.pass_obj
def disable(env: Env, subscription: str | None, cloud: str | None, identity: bool, yes: bool) -> int:
    """Disable the serial console for every VM of the subscription (asks first)."""
    if not env.confirmed("Disable the serial console for every VM in the subscription?", yes):
        env.info("nothing changed")
        return ExitStatus.ERROR
    return _console_switch(env, subscription, cloud, identity, enable=False)


@click.command()
@target_argument
@azure_target_options
@azure_options
@click.option("--tail", type=click.IntRange(min=0), metavar="N", help="Only the last N lines.")
@click.option("--follow", "-f", is_flag=True, help="Keep printing new output as it arrives (Ctrl-C stops).")
@click.option("--interval", type=click.FloatRange(min=0.1), default=2.0, show_default=True,
              help="Seconds between polls with --follow.")
@click.pass_obj
def log(env: Env, target: str | None, identity: bool, tail: int | None, follow: bool, interval: float,
        **options: Any) -> int:
    """Print the boot diagnostics serial log of an Azure VM (what the console printed while booting)."""
    from sercon.azure.bootlog import BootLog, tail_lines
    from sercon.azure.bootlog import follow as follow_log
    from sercon.azure.resolve import resolve_vm
    from sercon.cli.progress import download_progress
    from sercon.targets import SerialTarget
    from sercon.terminal.screen import write_all

    resolved, _ = resolve(env, target, options)
    if isinstance(resolved, SerialTarget):
        raise UsageError(f"{resolved.label} is a local device: it has no boot diagnostics log",
                         "`sercon log` reads Azure VMs; use `sercon connect --log FILE` for devices")
    arm, subscription = azure_vm_context(env, resolved, identity)
    boot_log = BootLog(arm, resolve_vm(arm, resolved, subscription))
    out = env.stdout_fd
    with download_progress(env) as progress:
        data = b"".join(boot_log.read_from(0, progress))
    write_all(out, tail_lines(data, tail) if tail is not None else data)
    if follow:
        follow_log(boot_log, lambda chunk: write_all(out, chunk), interval, stop=lambda: False)
    return ExitStatus.SUCCESS


COMMANDS = (doctor, enable, disable, log)
