"""The one place that picks a transport for a resolved target."""

from __future__ import annotations

from sercon.cli.env import Env
from sercon.errors import NotSupported
from sercon.targets import AzureTarget, Target
from sercon.transport.base import Transport


def open_transport(target: Target, env: Env, identity: bool = False) -> Transport:
    """Build and open the transport for *target* (for Azure, after its prerequisites pass)."""
    if isinstance(target, AzureTarget):
        from sercon.azure.checks import raise_on_failure
        from sercon.azure.doctor import diagnose
        from sercon.cli.azure_commands import azure_vm_context

        arm, subscription = azure_vm_context(env, target, identity)
        report = diagnose(arm, target, subscription)
        if report.error is not None:
            raise report.error
        raise_on_failure(report.rows)
        raise NotSupported(
            f"{report.vm.label} passes every check, but this build of sercon cannot open Azure consoles yet",
            f"`sercon log {target.label} --follow` shows what the console prints")
    from sercon.transport.serial import SerialTransport

    transport = SerialTransport(target.url, target.line)
    transport.open()
    return transport
