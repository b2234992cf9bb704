"""From a resolved VM to an open console: the serialPorts/0/connect call, then the gateway transport."""

from __future__ import annotations

from collections.abc import Sequence

from sercon.azure.arm import ArmClient
from sercon.azure.resolve import AzureVm
from sercon.errors import SerconError
from sercon.transport.gateway import GatewayTransport


def connect_path(vm: AzureVm) -> str:
    return (f"/subscriptions/{vm.subscription}/resourceGroups/{vm.resource_group}/providers/Microsoft.Compute/"
            f"{vm.parent_path}/providers/Microsoft.SerialConsole/serialPorts/0/connect")


class ArmTokens:
    """The gateway's token source: the ARM token, from the credential's cache until near expiry.

    The official client uses one ARM token for the connect call, the WebSocket and admin commands;
    an incident session outlives it (about an hour), so each use asks again instead of keeping one.
    """

    def __init__(self, arm: ArmClient) -> None:
        self.arm = arm

    def get(self) -> str:
        return self.arm.credential.get_token(self.arm.scope).token

    def refresh(self) -> str:
        self.arm.credential.invalidate()
        return self.get()


def connection_string(arm: ArmClient, vm: AzureVm) -> str:
    """A fresh session URL: every (re)connect asks ARM again, as the official client does."""
    body = arm.post(connect_path(vm), "serialconsole")
    url = body.get("connectionString")
    if not url:
        raise SerconError(f"Azure returned no console address for {vm.label}", f"run `sercon doctor {vm.label}`")
    return url


def console_transport(arm: ArmClient, vm: AzureVm, suspects: Sequence[str] = (),
                      one_shot: bool = False) -> GatewayTransport:
    """The gateway transport for *vm*, not yet open."""
    return GatewayTransport(lambda: connection_string(arm, vm), ArmTokens(arm), vm.label, vm.resource_id,
                            windows=vm.is_windows, suspects=suspects, one_shot=one_shot, trust=arm.trust)
