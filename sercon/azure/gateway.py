"""From a resolved VM to an open console: the serialPorts/0/connect call, then the gateway transport."""

from __future__ import annotations

from sercon.azure.arm import ArmClient
from sercon.azure.resolve import AzureVm
from sercon.errors import SerconError
from sercon.transport.gateway import GatewayEndpoint, GatewayTransport


def connect_path(vm: AzureVm) -> str:
    return (f"/subscriptions/{vm.subscription}/resourceGroups/{vm.resource_group}/providers/Microsoft.Compute/"
            f"{vm.parent_path}/providers/Microsoft.SerialConsole/serialPorts/0/connect")


def console_endpoint(arm: ArmClient, vm: AzureVm) -> GatewayEndpoint:
    """A fresh session URL and token: every (re)connect asks ARM again, as the official client does."""
    body = arm.post(connect_path(vm), "serialconsole")
    url = body.get("connectionString")
    if not url:
        raise SerconError(f"Azure returned no console address for {vm.label}", f"run `sercon doctor {vm.label}`")
    return GatewayEndpoint(url, arm.credential.get_token(arm.scope).token)


def open_console(arm: ArmClient, vm: AzureVm) -> GatewayTransport:
    transport = GatewayTransport(lambda: console_endpoint(arm, vm), vm.label, vm.resource_id, windows=vm.is_windows)
    transport.open()
    return transport
