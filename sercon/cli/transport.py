"""The one place that picks a transport for a resolved target."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sercon.cli.env import Env
from sercon.errors import DeviceBusy, SerconError
from sercon.targets import AzureTarget, Target
from sercon.transport.base import Transport

if TYPE_CHECKING:
    from concurrent.futures import Future

RELEASE_WAIT = 10.0  # how long a --force connect waits for the user's other session to let go


@dataclass(frozen=True)
class OpenOptions:
    """How a command wants its console.

    *share*: use a `sercon connect` already running on the console (a second Azure session would
    take the console from it; a device would be locked). *force*: a new interactive session may end
    the user's own running one. *checks*: run the prerequisite checks first (`--no-checks` skips
    them). *one_shot*: a control command with no session behind it (admin commands retry refusals).
    """

    share: bool = True
    force: bool = False
    checks: bool = True
    one_shot: bool = False
    timeout: float | None = None  # the command's own deadline for the console to answer (send --timeout)


def open_transport(target: Target, env: Env, identity: bool = False, options: OpenOptions | None = None) -> Transport:
    """Build and open the transport for *target* (for Azure, once no definite blocker was found)."""
    from sercon.transport.control import find_session

    options = options or OpenOptions()
    if isinstance(target, AzureTarget):
        return _open_azure(target, env, identity, options)
    from sercon.transport.serial import SerialTransport, console_key

    if options.share and (running := find_session(console_key(target.url), env.environ)) is not None:
        env.info(f"using the running `sercon connect` to {target.url}")
        return running
    transport = SerialTransport(target.url, target.line, qmp=target.qmp)
    transport.open()
    return transport


def _open_azure(target: AzureTarget, env: Env, identity: bool, options: OpenOptions) -> Transport:
    """Serial round trips off the critical path: the console's state is read beside the VM, the
    definite blockers are judged from those two answers, and the connect call then runs beside the
    remaining checks (storage firewall, locks, role), which only warn."""
    from sercon.azure import background
    from sercon.azure.gateway import console_transport
    from sercon.azure.known_vms import remember
    from sercon.azure.resolve import resolve_vm
    from sercon.cli.context import azure_vm_context
    from sercon.transport.control import find_session

    arm, subscription = azure_vm_context(env, target, identity)
    with background.tasks() as pool:
        console = pool.submit(_console_disabled, arm, subscription) if options.checks else None
        vm = resolve_vm(arm, target, subscription)
        remember(env.environ, vm)  # for the shell's completion of VM names (no Azure call at a Tab)
        running = find_session(vm.resource_id, env.environ)
        if running is not None and options.share:
            env.info(f"using the running `sercon connect` to {vm.label}")
            running.label = f"{vm.label} (through the running sercon connect)"  # not its resource ID
            return running
        state = console.result() if console is not None else None
        if console is not None:
            _stop_on_blockers(state, vm)
        if running is not None:
            _take_from_own_session(env, running, vm.resource_id, options.force)
        transport = console_transport(arm, vm, one_shot=options.one_shot)
        transport.answer_timeout = options.timeout
        checks = pool.submit(_checked, arm, target, subscription, vm, state) if options.checks else None
        with connecting(env, vm.label):
            try:
                transport.open()
            except SerconError as exc:
                transport.suspects = _warned(env, checks)
                if transport.suspects and exc.hint is None:
                    exc.hint = transport.doctor_hint()  # name what the checks warned about
                raise
        try:
            transport.suspects = _warned(env, checks)
        except BaseException:
            transport.close()
            raise
    return transport


def _console_disabled(arm, subscription: str) -> bool | None:
    from sercon.azure.doctor import console_disabled

    try:
        return console_disabled(arm, subscription)
    except SerconError:
        return None  # unknown: the full checks say why


def _stop_on_blockers(console_disabled: bool | None, vm) -> None:
    """The definite blockers, before any connect call: console disabled, VM stopped, no boot diagnostics."""
    from sercon.azure.checks import Facts, check_boot_diagnostics, check_console, check_power, gate

    gate([check_console(Facts(console_disabled=console_disabled)), check_power(vm), check_boot_diagnostics(vm)], vm)


def _checked(arm, target: AzureTarget, subscription: str, vm, console_disabled: bool | None) -> list[Any]:
    """Raise a definite blocker; return the other findings, to be shown as warnings."""
    from sercon.azure.checks import gate
    from sercon.azure.doctor import diagnose

    report = diagnose(arm, target, subscription, vm, console_disabled)
    if report.error is not None:
        raise report.error
    return gate(report.rows, vm)


def _warned(env: Env, checks: Future[list[Any]] | None) -> list[str]:
    """The checks' outcome, in the main thread: one warning line each (with its fix); their names."""
    rows = [] if checks is None else checks.result()
    for row in rows:
        env.info(f"warning: {row.name}: {row.found}" + (f" (fix: {row.fix})" if row.fix else ""))
    return [f"{row.name}: {row.found}" for row in rows]


def _take_from_own_session(env: Env, running, key: str, force: bool) -> None:
    """A second interactive session would silently take the console from the user's first one."""
    from sercon.transport.control import find_session

    try:
        if not force:
            who = running.describe()
            raise DeviceBusy(f"already connected in another sercon ({who})",
                             "quit that session, or use it: sercon send/sysrq/nmi/reset go through it; "
                             "--force ends it and connects here")
        env.info(f"ending your other sercon session ({running.describe()}): --force")
        running.release()
    finally:
        running.close()
    deadline = time.monotonic() + RELEASE_WAIT
    while (again := find_session(key, env.environ)) is not None:
        again.close()
        if time.monotonic() > deadline:
            raise DeviceBusy("your other sercon session did not let go of the console", "quit it by hand")
        time.sleep(0.1)


@contextlib.contextmanager
def connecting(env: Env, label: str) -> Iterator[None]:
    """A spinner on a terminal until the console answers (Azure sessions take a moment)."""
    from sercon.cli.render import spinner

    with spinner(env, f"connecting to the serial console of {label}"):
        yield
