"""What sercon puts on the wire to ARM, compared with what the official client sends."""

from __future__ import annotations

from tests.azure.conftest import SUB


def test_a_scale_set_instance_is_named_encoded_in_the_connect_call(azure):
    """The official client (azure-cli's serial-console extension, its generated SDK) quotes the parent
    resource whole: `set1%2FvirtualMachines%2F0`, the type `virtualMachineScaleSets` left as is."""
    result = azure.cli("send", "-g", "prod-rg", "set1/0", "", "--expect", "login: $", "--timeout", "15")
    assert result.returncode == 0, result.stderr
    connects = [r["url"].split("?")[0] for r in azure.requests if "serialPorts/0/connect" in r["url"]]
    assert connects == [f"/subscriptions/{SUB}/resourceGroups/prod-rg/providers/Microsoft.Compute/"
                        "virtualMachineScaleSets/set1%2FvirtualMachines%2F0/providers/Microsoft.SerialConsole/"
                        "serialPorts/0/connect"]
