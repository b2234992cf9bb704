"""The one place that picks a transport for a resolved target."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from sercon.cli.env import Env
from sercon.targets import AzureTarget, Target
from sercon.transport.base import Transport


def open_transport(target: Target, env: Env, identity: bool = False, share: bool = True) -> Transport:
    """Build and open the transport for *target* (for Azure, after its prerequisites pass).

    With *share*, a `sercon connect` already running on the same console is used instead (a second
    Azure session would take the console from it; a device would be locked).
    """
    from sercon.transport.control import find_session

    if isinstance(target, AzureTarget):
        from sercon.azure.checks import raise_on_failure
        from sercon.azure.doctor import diagnose
        from sercon.azure.resolve import resolve_vm
        from sercon.cli.azure_commands import azure_vm_context

        arm, subscription = azure_vm_context(env, target, identity)
        vm = resolve_vm(arm, target, subscription)
        if share and (running := find_session(vm.resource_id, env.environ)) is not None:
            env.info(f"using the running `sercon connect` to {vm.label}")
            return running
        report = diagnose(arm, target, subscription, vm)
        if report.error is not None:
            raise report.error
        raise_on_failure(report.rows)
        from sercon.azure.gateway import open_console

        with connecting(env, report.vm.label):
            return open_console(arm, report.vm)
    from sercon.transport.serial import SerialTransport, console_key

    if share and (running := find_session(console_key(target.url), env.environ)) is not None:
        env.info(f"using the running `sercon connect` to {target.url}")
        return running
    transport = SerialTransport(target.url, target.line, qmp=target.qmp)
    transport.open()
    return transport


@contextlib.contextmanager
def connecting(env: Env, label: str) -> Iterator[None]:
    """A spinner on a terminal until the console answers (Azure sessions take a moment)."""
    if not env.stderr.isatty():
        yield
        return
    from rich.console import Console

    with Console(file=env.stderr).status(f"connecting to the serial console of {label}"):
        yield
