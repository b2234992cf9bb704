"""The one place that picks a transport for a resolved target (for Azure, azure/connect_flow.py's
policy, its lines and wait drawn here)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING

from sercon.cli.env import Env
from sercon.targets import AzureTarget, Target
from sercon.transport.base import Transport
from sercon.transport.options import OpenOptions

if TYPE_CHECKING:
    from sercon.transport.control import ControlTransport

__all__ = ["OpenOptions", "connecting", "open_transport"]


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
    if not options.share and not options.force and (running := _own_session(console_key(target.url), env)):
        from sercon.transport.control import RUNNING_HINT, SessionRunning

        who = running.describe()
        running.close()
        raise SessionRunning(f"already connected in another sercon ({who})", RUNNING_HINT, console_key(target.url))
    transport = SerialTransport(target.url, target.line, qmp=target.qmp)
    transport.open()
    return transport


def _own_session(key: str, env: Env) -> ControlTransport | None:
    """The user's own running `sercon connect` on a device, if any; a socket folder that cannot be used
    is no session here (the device's own errors come first; the session says the rest)."""
    from sercon.errors import SerconError
    from sercon.transport.control import find_session

    try:
        return find_session(key, env.environ)
    except SerconError:
        return None


def _open_azure(target: AzureTarget, env: Env, identity: bool, options: OpenOptions) -> Transport:
    from sercon.azure.connect_flow import ConnectHooks, connect_vm
    from sercon.cli.context import azure_vm_context
    from sercon.cli.render import render_warning

    arm, subscription = azure_vm_context(env, target, identity)
    hooks = ConnectHooks(notify=env.info, warning=lambda row: render_warning(env, row),
                         connecting=lambda label: connecting(env, label))
    return connect_vm(arm, subscription, target, env.environ, options, hooks).transport


@contextlib.contextmanager
def connecting(env: Env, label: str) -> Iterator[None]:
    """A spinner on a terminal until the console answers (Azure sessions take a moment)."""
    from sercon.cli.render import spinner

    with spinner(env, f"connecting to the serial console of {label}"):
        yield
