"""Commands for Azure: doctor, enable, disable, log, login, logout, account, emulator."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

import click

from sercon.cli.context import arm_for, azure_vm_context, check_rows, resolve
from sercon.cli.env import Env
from sercon.cli.options import (
    Seconds,
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
@click.option("--fix", is_flag=True, help="Azure: repair what ARM can repair, asking before each, then check again.")
@click.option("--yes", is_flag=True, help="With --fix: repair without asking.")
@click.option("--user", "fix_user", metavar="NAME",
              help="With --fix: the console user to create or reset (set even when the check passes).")
@click.option("--password-stdin", is_flag=True, help="With --fix and --user: read that user's password from stdin.")
@click.pass_obj
def doctor(env: Env, target: str | None, identity: bool, as_json: bool, fix: bool, yes: bool,
           fix_user: str | None, password_stdin: bool, **options: Any) -> int:
    """Check every prerequisite of the console on TARGET, each with what was found and the fix.

    With --fix (Azure VMs), repair what Azure Resource Manager can repair: the console switch, power,
    boot diagnostics, the storage firewall's service IPs, a password user (through the VM access
    extension); print the command for the rest (a role...); then check again.

    Exit 0 when nothing failed, 6 when a check failed, 4 when the target is not found, 5 when the VM
    may not be read. With --fix, from the checks made again: 6 when one asked for failed or was declined
    while its check fails, or when a check still fails (a lock, a role: for someone else to repair); 3
    when a repair was sent but Azure has not confirmed it; else 0.
    """
    from sercon.checks import FAIL
    from sercon.cli.render import checking, render_checks
    from sercon.targets import AzureTarget

    resolved, _ = resolve(env, target, options)
    if fix or yes or fix_user or password_stdin:
        return _doctor_fix(env, resolved, identity, as_json, FixFlags(fix, yes, fix_user, password_stdin))
    with checking(env, resolved.label) if isinstance(resolved, AzureTarget) else contextlib.nullcontext():
        rows, error = check_rows(env, resolved, identity)
    render_checks(env, resolved.label, rows, as_json, error.message if error is not None else None)
    if error is not None:
        raise error  # after the table, which leaves its row to it: the message on stderr, its exit status
    return ExitStatus.PRECONDITION if any(r.status == FAIL for r in rows) else ExitStatus.SUCCESS


@dataclass(frozen=True)
class FixFlags:
    fix: bool
    yes: bool
    user: str | None
    password_stdin: bool


def _fix_usage(env: Env, target: Any, request: FixFlags) -> str | None:
    """Every refusal that needs no call to Azure, first; the password from stdin with --password-stdin."""
    from sercon.azure.fixes import check_user_name, password_from_stdin
    from sercon.targets import SerialTarget

    if not request.fix:
        raise UsageError("--yes, --user and --password-stdin go with --fix", "add --fix (or leave them out)")
    if isinstance(target, SerialTarget):
        _local_target(target)
    if not request.yes and not env.stdin_is_tty():
        raise UsageError("doctor --fix asks before each repair, and standard input is not a terminal",
                         "add --yes to repair without asking (with --user NAME --password-stdin for a password user)")
    if request.password_stdin and request.user is None:
        raise UsageError("--password-stdin needs --user NAME: the console user whose password it is",
                         "add --user NAME (the console user to create or reset)")
    if request.user is not None:
        check_user_name(request.user)
    if not request.password_stdin:
        if request.user is not None and not env.stdin_is_tty():
            raise UsageError(f"a password is needed for --user {request.user}, and standard input is not a terminal "
                             "to ask for it on", "pipe the password in with --password-stdin")
        return None
    if env.stdin_is_tty():
        raise UsageError("--password-stdin reads a pipe, and standard input is a terminal",
                         "leave --password-stdin out: sercon asks for the password, without showing it")
    buffer = getattr(env.stdin, "buffer", None)
    return password_from_stdin(buffer.read() if buffer is not None else env.stdin.read().encode(
        "utf-8", "surrogateescape"))


def _local_target(target: Any) -> None:
    """--fix is for Azure: a missing device is not found (as for doctor), any other local target a usage error."""
    from sercon.transport.serial import device_diagnosis

    _, missing = device_diagnosis(target.url)
    if missing is not None:
        raise missing
    raise UsageError(f"--fix repairs Azure VMs; {target.label} is a local device",
                     "run the fix doctor prints under each check")


def _doctor_fix(env: Env, target: Any, identity: bool, as_json: bool, flags: FixFlags) -> int:
    """doctor --fix: the run is azure/fix_run.py's; here its questions go to the terminal and its
    results to render.py."""
    from sercon.azure.fix_run import FixHooks, FixRequest, run_fixes
    from sercon.cli.render import checking, progress_line, render_checks, render_fix_run, render_outcome

    password = _fix_usage(env, target, flags)
    arm, subscription = azure_vm_context(env, target, identity)

    def checked(report: Any) -> None:
        if report.error is not None or not as_json:
            render_checks(env, target.label, report.rows, as_json, report.error.message if report.error else None)

    def outcome(done: Any, why: str) -> None:
        if not as_json:
            render_outcome(env, done, why)

    hooks = FixHooks(confirm=None if flags.yes else env.confirm, prompt=env.prompt, password=env.password,
                     checking=lambda: checking(env, target.label), progress=lambda: progress_line(env),
                     checked=checked, outcome=outcome)
    run = run_fixes(arm, target, subscription, FixRequest(flags.user, password, env.stdin_is_tty()), hooks)
    render_fix_run(env, target.label, run, as_json)
    if run.error is not None:
        raise run.error
    return run.exit_status


def _console_switch(env: Env, subscription: str | None, cloud: str | None, identity: bool, enable: bool) -> int:
    from sercon.azure.doctor import set_console
    from sercon.azure.resolve import pick_subscription
    from sercon.targets import AzureTarget

    sub = pick_subscription(AzureTarget("-", subscription=subscription), env.environ)
    disabled = set_console(arm_for(env, cloud, identity), sub, enable)
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
        return ExitStatus.PRECONDITION  # declined: as a declined `doctor --fix` (1 is for bugs)
    return _console_switch(env, subscription, cloud, identity, enable=False)


@click.command()
@target_argument
@azure_target_options
@azure_options
@click.option("--tail", type=click.IntRange(min=0), metavar="N", help="Only the last N lines.")
@click.option("--follow", "-f", is_flag=True, help="Keep printing new output as it arrives (Ctrl-C stops).")
@click.option("--interval", type=Seconds(min=0.1), default=2.0, show_default=True,
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
