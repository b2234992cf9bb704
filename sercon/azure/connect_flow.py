"""Connecting to an Azure VM's serial console as a library call: the policy around the gateway.

Serial round trips off the critical path: the console's state is read beside the VM, the definite
blockers (console disabled, VM stopped, no boot diagnostics) are judged from those two answers before
any connect call, and the connect call then runs beside the remaining checks (storage firewall,
locks, role), which only warn. A `sercon connect` already running on the console is used (*share*),
or, for a new interactive session, must be ended first (*force*) rather than lose the console silently.

The caller says how lines and the wait are shown (`ConnectHooks`); nothing here prints.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import Future
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sercon.checks import CheckResult
from sercon.errors import DeviceBusy, SerconError
from sercon.transport.options import OpenOptions

if TYPE_CHECKING:
    from sercon.azure.arm import ArmClient
    from sercon.azure.resolve import AzureVm
    from sercon.targets import AzureTarget
    from sercon.transport.base import Transport
    from sercon.transport.control import ControlTransport
    from sercon.transport.gateway import GatewayTransport

RELEASE_WAIT = 10.0  # how long a --force connect waits for the user's other session to let go


def _nothing(_: object) -> None:
    return None


def _no_wait(_: str) -> AbstractContextManager[None]:
    return nullcontext()


@dataclass(frozen=True)
class ConnectHooks:
    """*notify*: a line of sercon's own (the running session used, or ended); *warning*: each check
    that warned (shown before the console's first byte); *connecting*(label): around the connect call."""

    notify: Callable[[str], None] = _nothing
    warning: Callable[[CheckResult], None] = _nothing
    connecting: Callable[[str], AbstractContextManager[None]] = _no_wait


@dataclass(frozen=True)
class Connected:
    """An open console: the gateway's, or the running `sercon connect`'s (*shared*); *warnings*: what
    the checks warned about (also named in the gateway's hint if it fails later)."""

    transport: Transport
    shared: bool = False
    warnings: list[CheckResult] = field(default_factory=list)


def connect_vm(arm: ArmClient, subscription: str, target: AzureTarget, environ: dict[str, str],
               options: OpenOptions, hooks: ConnectHooks) -> Connected:
    """Open the serial console of *target*, once no definite blocker was found (raised as its error)."""
    from sercon.azure import background
    from sercon.azure.gateway import console_transport
    from sercon.azure.known_vms import remember
    from sercon.azure.resolve import resolve_vm
    from sercon.transport.control import find_session

    with background.tasks() as pool:
        console = pool.submit(_console_disabled, arm, subscription) if options.checks else None
        vm = resolve_vm(arm, target, subscription)
        remember(environ, vm)  # for the shell's completion of VM names (no Azure call at a Tab)
        running = find_session(vm.resource_id, environ)
        if running is not None and options.share:
            hooks.notify(f"using the running `sercon connect` to {vm.label}")
            running.label = f"{vm.label} (through the running sercon connect)"  # not its resource ID
            return Connected(running, shared=True)
        state = console.result() if console is not None else None
        if console is not None:
            stop_on_blockers(state, vm)
        if running is not None:
            take_from_own_session(running, vm.resource_id, environ, options.force, hooks.notify)
        transport = console_transport(arm, vm, one_shot=options.one_shot)
        transport.answer_timeout = options.timeout
        checks = pool.submit(_checked, arm, target, subscription, vm, state) if options.checks else None
        warnings = _open(transport, checks, hooks, vm.label)
    return Connected(transport, warnings=warnings)


def _open(transport: GatewayTransport, checks: Future[list[CheckResult]] | None, hooks: ConnectHooks,
          label: str) -> list[CheckResult]:
    """The connect call, then the checks' warnings (in this thread); a failed connect names them."""
    with hooks.connecting(label):
        try:
            transport.open()
        except SerconError as exc:
            transport.suspects = _suspects(_warned(checks, hooks))
            if transport.suspects and exc.hint is None:
                exc.hint = transport.doctor_hint()  # name what the checks warned about
            raise
    try:
        warnings = _warned(checks, hooks)
    except BaseException:
        transport.close()
        raise
    transport.suspects = _suspects(warnings)
    return warnings


def _console_disabled(arm: ArmClient, subscription: str) -> bool | None:
    from sercon.azure.doctor import console_disabled

    try:
        return console_disabled(arm, subscription)
    except SerconError:
        return None  # unknown: the full checks say why


def stop_on_blockers(console_disabled: bool | None, vm: AzureVm) -> None:
    """The definite blockers, before any connect call: console disabled, VM stopped, no boot diagnostics."""
    from sercon.azure.checks import Facts, check_boot_diagnostics, check_console, check_power, gate

    gate([check_console(Facts(console_disabled=console_disabled)), check_power(vm), check_boot_diagnostics(vm)], vm)


def _checked(arm: ArmClient, target: AzureTarget, subscription: str, vm: AzureVm,
             console_disabled: bool | None) -> list[CheckResult]:
    """Raise a definite blocker; return the other findings, to be shown as warnings."""
    from sercon.azure.checks import gate
    from sercon.azure.doctor import diagnose

    report = diagnose(arm, target, subscription, vm, console_disabled)
    if report.error is not None:
        raise report.error
    return gate(report.rows, vm)


def _warned(checks: Future[list[CheckResult]] | None, hooks: ConnectHooks) -> list[CheckResult]:
    """The checks' outcome, in the calling thread, each warning handed to the caller."""
    rows = [] if checks is None else checks.result()
    for row in rows:
        hooks.warning(row)
    return rows


def _suspects(rows: list[CheckResult]) -> list[str]:
    return [f"{row.name}: {row.found}" for row in rows]


def take_from_own_session(running: ControlTransport, key: str, environ: dict[str, str], force: bool,
                          notify: Callable[[str], None]) -> None:
    """A second interactive session would silently take the console from the user's first one."""
    from sercon.transport.control import RUNNING_HINT, SessionRunning, find_session

    try:
        if not force:
            who = running.describe()
            raise SessionRunning(f"already connected in another sercon ({who})", RUNNING_HINT, key)
        notify(f"ending your other sercon session ({running.describe()}): --force")
        running.release()
    finally:
        running.close()
    deadline = time.monotonic() + RELEASE_WAIT
    while (again := find_session(key, environ)) is not None:
        again.close()
        if time.monotonic() > deadline:
            raise DeviceBusy("your other sercon session did not let go of the console", "quit it by hand")
        time.sleep(0.1)
