"""The one place that picks a transport for a resolved target."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from sercon.cli.env import Env
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
        from sercon.azure.gateway import open_console

        with connecting(env, report.vm.label):
            return open_console(arm, report.vm)
    from sercon.transport.serial import SerialTransport

    transport = SerialTransport(target.url, target.line)
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
