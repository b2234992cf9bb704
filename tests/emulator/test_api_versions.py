"""ARM refuses a missing or unpublished api-version, and accepts every version a real client sends."""

from __future__ import annotations

import pytest

from sercon.azure.arm import API_VERSIONS
from sercon_emulator import api_versions
from tests.emulator.conftest import SUB, read_until, vm_path

CONSOLE = f"/subscriptions/{SUB}/providers/Microsoft.SerialConsole/consoleServices/default"
CONNECT = "/providers/Microsoft.SerialConsole/serialPorts/0/connect"
SET_PARENT = f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Compute/virtualMachineScaleSets"


def test_a_missing_api_version_is_refused_in_arms_words(emu):
    reply = emu().arm("GET", CONSOLE, api_version=None)
    assert reply.status_code == 400
    assert reply.json() == {"error": {"code": "MissingApiVersionParameter", "message": "The api-version query "
                                      "parameter (?api-version=) is required for all requests."}}


def test_an_unpublished_api_version_is_refused_with_the_supported_list(emu):
    reply = emu().arm("GET", vm_path("box"), api_version="2099-01-01")
    assert reply.status_code == 400
    error = reply.json()["error"]
    assert error["code"] == "InvalidApiVersionParameter"
    assert error["message"].startswith("The api-version '2099-01-01' is invalid. The supported versions are '")
    assert "2023-09-01" in error["message"] and error["message"].endswith("Please use one of the supported versions.")


@pytest.mark.parametrize("version", api_versions.SERIAL_CONSOLE)
def test_every_published_serial_console_version_works(emu, version):
    env = emu()
    assert env.arm("GET", CONSOLE, version).json() == {"properties": {"disabled": False}}
    assert env.connect(api_version=version).startswith("wss://127.0.0.1:")


@pytest.mark.parametrize("version", ["2021-03-01", "2023-09-01", API_VERSIONS["compute"]])
def test_the_compute_versions_of_the_cli_and_of_sercon_work(emu, version):
    reply = emu().arm("GET", vm_path("box"), version, **{"$expand": "instanceView"})
    assert reply.status_code == 200, reply.text


def test_sercons_own_versions_all_work(emu):
    env = emu()
    calls = {"serialconsole": CONSOLE, "compute": vm_path("box"),
             "storage": f"/subscriptions/{SUB}/providers/Microsoft.Storage/storageAccounts",
             "permissions": f"{vm_path('box')}/providers/Microsoft.Authorization/permissions",
             "locks": f"{vm_path('box')}/providers/Microsoft.Authorization/locks"}
    assert set(calls) == set(API_VERSIONS)
    for api, path in calls.items():
        reply = env.arm("GET", path, API_VERSIONS[api])
        assert reply.status_code == 200, (api, reply.text)


def test_a_version_is_checked_against_the_provider_that_serves_the_path(emu):
    """2018-05-01 is a SerialConsole version, not a Compute one; the connect call nested under a VM is
    SerialConsole's (the last `/providers/` of the path decides)."""
    env = emu()
    assert env.arm("GET", vm_path("box"), "2018-05-01").status_code == 400
    assert env.arm("POST", vm_path("box") + CONNECT, "2018-05-01").status_code == 200


def test_an_emulator_next_link_keeps_working(emu):
    env = emu(page_size=1, vms=[{"name": "a"}, {"name": "b"}])
    first = env.arm("GET", f"/subscriptions/{SUB}/providers/Microsoft.Compute/virtualMachines", "2023-09-01").json()
    assert "api-version=2023-09-01" in first["nextLink"]
    second = env.arm("GET", first["nextLink"], api_version=None)
    assert second.status_code == 200, second.text
    assert [vm["name"] for vm in first["value"] + second.json()["value"]] == ["a", "b"]


def test_a_scale_set_parent_comes_encoded(emu):
    """The official SDK quotes the parent: SET%2FvirtualMachines%2FID (azure-protocol.md §2, §11)."""
    env = emu()
    parent = "set1%2FvirtualMachines%2F0"
    reply = env.arm("POST", f"{SET_PARENT}/{parent}{CONNECT}", "2018-05-01")
    assert reply.status_code == 200, reply.text
    assert f"/{parent}/" in env.emulator.arm.requests[-1]["url"]  # sent (and received) as written
    ws = env.session(reply.json()["connectionString"])
    ws.send("vmss\n")
    assert b"got:vmss" in read_until(ws, b"got:vmss")


def test_a_scale_set_parent_with_literal_slashes_is_refused(emu):
    """No public record shows ARM taking SET/virtualMachines/ID in the serial-port path: the emulator
    takes only what the official client sends (docs/emulator.md, a CHOICE)."""
    env = emu()
    reply = env.arm("POST", f"{SET_PARENT}/set1/virtualMachines/0{CONNECT}", "2018-05-01")
    assert reply.status_code == 400, reply.text
    assert reply.json()["error"]["code"] == "InvalidParentResource"
    assert "set1%2FvirtualMachines%2F0" in reply.json()["error"]["message"]
    assert not env.gateway.sessions


def test_the_boot_log_blob_takes_no_api_version(emu):
    env = emu()
    sas = env.arm("POST", vm_path("box") + "/retrieveBootDiagnosticsData", "2023-09-01").json()
    reply = env.http.get(sas["serialConsoleLogBlobUri"])
    assert reply.status_code == 200 and "login:" in reply.text


def test_the_check_can_be_relaxed_or_extended_in_the_world(emu):
    assert emu(api_version_check=False).arm("GET", CONSOLE, api_version=None).status_code == 200
    env = emu(api_versions={"Microsoft.Compute": ["2099-01-01"]})
    assert env.arm("GET", vm_path("box"), "2099-01-01").status_code == 200
    assert env.arm("GET", CONSOLE, "2099-01-01").status_code == 400
