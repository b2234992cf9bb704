"""The emulator's ARM writes, driven directly over TLS: VM PATCH and start, VM extensions, storage network
rules, and the long-running operations behind them, with ARM's shapes and ARM's 400s for bad bodies.

No sercon client code here, as in the rest of tests/emulator: these pin what the emulator does.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from sercon_emulator.server import Emulator
from sercon_emulator.world import World
from tests.emulator.conftest import SUB, Emu, Stream

COMPUTE = "2024-07-01"  # the Azure CLI's compute profile (2024-11-01 in newer releases, also accepted)
STORAGE = "2023-05-01"
RG = f"/subscriptions/{SUB}/resourceGroups/rg"
VMS = f"{RG}/providers/Microsoft.Compute/virtualMachines"
ACCOUNT = f"{RG}/providers/Microsoft.Storage/storageAccounts/diag1"
EXTENSION = f"{VMS}/keys/extensions/enablevmaccess"
WORLD: dict[str, Any] = {
    "operations": {"polls": 2, "retry_after": 0},
    "subscriptions": [{"id": SUB, "resource_groups": {
        "rg": {
            "vms": [{"name": "off", "power": "deallocated"}, {"name": "nodiag", "boot_diagnostics": "off"},
                    {"name": "keys", "disable_password_authentication": True}],
            "scale_sets": [{"name": "set1", "instances": [{"id": "0", "power": "deallocated"}]}],
            "storage_accounts": [{"name": "diag1", "default_action": "Deny", "ip_rules": ["203.0.113.5"]}],
        },
        "locked": {"vms": [{"name": "frozen", "power": "deallocated"}],
                   "locks": [{"name": "freeze", "level": "ReadOnly"}]},
    }}],
}
VMACCESS = {"location": "westeurope", "properties": {
    "publisher": "Microsoft.OSTCExtensions", "type": "VMAccessForLinux", "typeHandlerVersion": "1.5",
    "autoUpgradeMinorVersion": True, "settings": {},
    "protectedSettings": {"username": "rescue", "password": "Rescue-Pw-1234"}}}


@pytest.fixture
def env() -> Iterator[Emu]:
    emulator = Emulator(World(copy.deepcopy(WORLD))).start()
    try:
        yield Emu(emulator)
    finally:
        emulator.stop()


def call(env: Emu, method: str, path: str, body: Any = None, version: str = COMPUTE, raw: bytes | None = None,
         headers: dict[str, str] | None = None, **params: str) -> requests.Response:
    url = path if path.startswith("https://") else env.base + path
    if not path.startswith("https://"):
        params["api-version"] = version
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    headers = {"Authorization": f"Bearer {env.token}", "Content-Type": "application/json", **(headers or {})}
    return env.http.request(method, url, params=params, data=data, headers=headers, timeout=10)


def world_vm(env: Emu, name: str) -> dict[str, Any]:
    sub = env.emulator.world.subscription(SUB)
    return next(vm for vm in sub["vms"] if vm["name"] == name)


def power(env: Emu, name: str) -> str:
    view = call(env, "GET", f"{VMS}/{name}/instanceView").json()
    return next(s["code"] for s in view["statuses"] if s["code"].startswith("PowerState/"))


def poll_async(env: Emu, url: str) -> list[dict[str, Any]]:
    """Every answer of the Azure-AsyncOperation URL until the operation ends (at most 10 polls)."""
    answers = []
    for _ in range(10):
        reply = call(env, "GET", url)
        assert reply.status_code == 200, reply.text
        answers.append(reply.json())
        if answers[-1]["status"] != "InProgress":
            return answers
    raise AssertionError(answers)


# -- start: POST, 202 and the operation's two URLs ---------------------------------------------------

def test_start_is_a_202_with_both_operation_urls_and_the_vm_runs_once_it_succeeds(env):
    reply = call(env, "POST", f"{VMS}/off/start")
    assert reply.status_code == 202 and reply.content == b""
    status_url, location = reply.headers["Azure-AsyncOperation"], reply.headers["Location"]
    assert reply.headers["Retry-After"] == "0"
    for url in (status_url, location):  # under the region's Compute operations, with the request's api-version
        assert url.startswith(f"{env.base}/subscriptions/{SUB}/providers/Microsoft.Compute/locations/westeurope/"
                              "operations/")
        assert f"api-version={COMPUTE}" in url
    assert "monitor=true" in location and "monitor=true" not in status_url
    assert power(env, "off") == "PowerState/starting"
    answers = poll_async(env, status_url)
    assert [a["status"] for a in answers] == ["InProgress", "InProgress", "Succeeded"]
    assert answers[-1]["name"] in status_url and "startTime" in answers[0] and "endTime" in answers[-1]
    assert power(env, "off") == "PowerState/running"
    done = call(env, "GET", location)  # the same operation through Location: over, 200
    assert done.status_code == 200


def test_the_location_url_answers_202_until_the_operation_is_over(env):
    reply = call(env, "POST", f"{VMS}/off/start")
    location = reply.headers["Location"]
    statuses = [call(env, "GET", location) for _ in range(3)]
    assert [r.status_code for r in statuses] == [202, 202, 200]
    assert statuses[0].headers["Location"] == location and statuses[0].headers["Retry-After"] == "0"
    assert power(env, "off") == "PowerState/running"


def test_a_scale_set_instance_starts_too(env):
    path = f"{RG}/providers/Microsoft.Compute/virtualMachineScaleSets/set1/virtualMachines/0"
    reply = call(env, "POST", f"{path}/start")
    assert reply.status_code == 202
    poll_async(env, reply.headers["Azure-AsyncOperation"])
    view = call(env, "GET", f"{path}/instanceView").json()
    assert "PowerState/running" in [s["code"] for s in view["statuses"]]


def test_an_unknown_operation_is_404_and_a_readonly_lock_refuses_the_start(env):
    missing = call(env, "GET", f"/subscriptions/{SUB}/providers/Microsoft.Compute/locations/westeurope/"
                   "operations/00000000-0000-0000-0000-000000000000")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "NotFound"
    locked = call(env, "POST", f"/subscriptions/{SUB}/resourceGroups/locked/providers/Microsoft.Compute/"
                  "virtualMachines/frozen/start")
    assert locked.status_code == 409 and locked.json()["error"]["code"] == "ScopeLocked"
    assert "cannot perform write operation because following scope(s) are locked" in locked.json()["error"][
        "message"]
    assert world_vm(env, "frozen")["power"] == "deallocated"


# -- VM PATCH: boot diagnostics -----------------------------------------------------------------------

def test_patch_turns_managed_boot_diagnostics_on(env):
    body = {"properties": {"diagnosticsProfile": {"bootDiagnostics": {"enabled": True}}}}
    reply = call(env, "PATCH", f"{VMS}/nodiag", body)
    assert reply.status_code == 200, reply.text
    assert reply.json()["properties"]["diagnosticsProfile"] == {"bootDiagnostics": {"enabled": True}}
    assert reply.json()["properties"]["provisioningState"] == "Updating"
    answers = poll_async(env, reply.headers["Azure-AsyncOperation"])
    assert answers[-1]["status"] == "Succeeded"
    model = call(env, "GET", f"{VMS}/nodiag").json()
    assert model["properties"]["provisioningState"] == "Succeeded"
    assert model["properties"]["diagnosticsProfile"] == {"bootDiagnostics": {"enabled": True}}
    assert world_vm(env, "nodiag")["boot_diagnostics"] == "managed"


@pytest.mark.parametrize("body, code, needle", [
    ({"properties": {"diagnosticsProfile": {"bootDiagnostics": {"enabled": "yes"}}}}, "InvalidRequestContent",
     "properties.diagnosticsProfile.bootDiagnostics.enabled"),
    ({"properties": {"diagnosticsProfile": {"bootDiagnostics": {"enable": True}}}}, "InvalidRequestContent",
     "Could not find member 'enable'"),
    ({"properties": {"diagnosticsProfile": {"bootDiagnostics": {"enabled": True, "storageUri": "not a url"}}}},
     "InvalidParameter", "storageUri"),
    ({"properties": []}, "InvalidRequestContent", "properties"),
    ([1, 2], "InvalidRequestContent", "could not be deserialized"),
])
def test_patch_refuses_malformed_bodies_in_arms_shape(env, body, code, needle):
    reply = call(env, "PATCH", f"{VMS}/nodiag", body)
    assert reply.status_code == 400, reply.text
    error = reply.json()["error"]
    assert error["code"] == code and needle in error["message"], error
    assert world_vm(env, "nodiag")["boot_diagnostics"] == "off"


def test_patch_refuses_a_body_that_is_not_json(env):
    reply = call(env, "PATCH", f"{VMS}/nodiag", raw=b"{not json")
    assert reply.status_code == 400 and reply.json()["error"]["code"] == "InvalidRequestContent"


def test_patch_needs_the_write_action(tmp_path):
    data = copy.deepcopy(WORLD)
    data["role_assignments"] = [{"principal": "*", "scope": "/", "actions": ["*/read"]}]
    with Emulator(World(data)) as emulator:
        reply = call(Emu(emulator), "PATCH", f"{VMS}/nodiag",
                     {"properties": {"diagnosticsProfile": {"bootDiagnostics": {"enabled": True}}}})
        assert reply.status_code == 403
        assert "Microsoft.Compute/virtualMachines/write" in reply.json()["error"]["message"]


# -- VM extensions: VMAccessForLinux ------------------------------------------------------------------

def test_the_access_extension_is_created_and_its_protected_settings_never_come_back(env):
    reply = call(env, "PUT", EXTENSION, VMACCESS)
    assert reply.status_code == 201, reply.text
    created = reply.json()
    assert created["properties"]["provisioningState"] == "Creating"
    assert created["type"] == "Microsoft.Compute/virtualMachines/extensions" and created["name"] == "enablevmaccess"
    assert "protectedSettings" not in created["properties"] and "Rescue-Pw-1234" not in reply.text
    poll_async(env, reply.headers["Azure-AsyncOperation"])
    got = call(env, "GET", EXTENSION)
    assert got.status_code == 200 and "Rescue-Pw-1234" not in got.text and "protectedSettings" not in got.text
    assert got.json()["properties"]["provisioningState"] == "Succeeded"
    assert got.json()["properties"]["typeHandlerVersion"] == "1.5"
    model = call(env, "GET", f"{VMS}/keys", **{"$expand": "instanceView"})
    assert "Rescue-Pw-1234" not in model.text
    assert [r["name"] for r in model.json()["resources"]] == ["enablevmaccess"]
    views = model.json()["properties"]["instanceView"]["extensions"]
    assert views[0]["type"] == "Microsoft.OSTCExtensions.VMAccessForLinux"
    assert views[0]["statuses"][0]["code"] == "ProvisioningState/succeeded"
    listed = call(env, "GET", f"{VMS}/keys/extensions")
    assert [e["name"] for e in listed.json()["value"]] == ["enablevmaccess"] and "Rescue-Pw" not in listed.text
    again = call(env, "PUT", EXTENSION, VMACCESS)
    assert again.status_code == 200 and again.json()["properties"]["provisioningState"] == "Updating"


def test_the_access_extension_user_can_log_in_at_the_console(env):
    reply = call(env, "PUT", EXTENSION, VMACCESS)
    poll_async(env, reply.headers["Azure-AsyncOperation"])
    connection = call(env, "POST", f"{VMS}/keys/providers/Microsoft.SerialConsole/serialPorts/0/connect",
                      version="2024-07-01").json()["connectionString"]
    vm = Stream(env.session(connection))
    vm.send("\r")
    vm.expect(rb"login: ")
    vm.send("rescue\r")
    vm.expect(rb"Password: ")
    vm.send("Rescue-Pw-1234\r")
    vm.expect(rb"rescue@keys:~\$ ")
    vm.send("echo user=$USER\r")
    vm.expect(rb"user=rescue\r\n")


def test_a_new_password_reaches_a_login_prompt_that_is_already_waiting(env):
    connection = call(env, "POST", f"{VMS}/keys/providers/Microsoft.SerialConsole/serialPorts/0/connect",
                      version="2024-07-01").json()["connectionString"]
    vm = Stream(env.session(connection))
    vm.send("\r")
    vm.expect(rb"login: ")
    reply = call(env, "PUT", EXTENSION, VMACCESS)  # while the prompt waits
    poll_async(env, reply.headers["Azure-AsyncOperation"])
    vm.send("rescue\r")
    vm.expect(rb"Password: ")
    vm.send("Rescue-Pw-1234\r")
    vm.expect(rb"rescue@keys:~\$ ")


def test_resetting_the_vms_own_user_replaces_its_password():
    data = copy.deepcopy(WORLD)
    data["subscriptions"][0]["resource_groups"]["rg"]["vms"].append({"name": "pw", "password": "Old-Pw-1234"})
    with Emulator(World(data)) as emulator:
        env = Emu(emulator)
        body = copy.deepcopy(VMACCESS)
        body["properties"]["protectedSettings"] = {"username": "azureuser", "password": "New-Pw-5678"}
        reply = call(env, "PUT", f"{VMS}/pw/extensions/enablevmaccess", body)
        poll_async(env, reply.headers["Azure-AsyncOperation"])
        connection = call(env, "POST", f"{VMS}/pw/providers/Microsoft.SerialConsole/serialPorts/0/connect").json()
        vm = Stream(env.session(connection["connectionString"]))
        vm.send("\r")
        vm.expect(rb"login: ")
        vm.send("azureuser\r")
        vm.expect(rb"Password: ")
        vm.send("Old-Pw-1234\r")
        assert b"Login incorrect" in vm.expect(rb"(.*)pw login: ")[1]
        vm.send("azureuser\r")
        vm.expect(rb"Password: ")
        vm.send("New-Pw-5678\r")
        vm.expect(rb"azureuser@pw:~\$ ")


def test_extension_writes_need_a_running_vm(env):
    body = copy.deepcopy(VMACCESS)
    reply = call(env, "PUT", f"{VMS}/off/extensions/enablevmaccess", body)
    assert reply.status_code == 409
    assert reply.json()["error"] == {"code": "OperationNotAllowed",
                                     "message": "Cannot modify extensions in the VM when the VM is not running."}


@pytest.mark.parametrize("change, needle", [
    (lambda b: b["properties"].pop("publisher"), "Required parameter 'publisher' is missing"),
    (lambda b: b["properties"].pop("typeHandlerVersion"), "Required parameter 'typeHandlerVersion' is missing"),
    (lambda b: b["properties"].update(protectedSettings="username=x"), "protectedSettings"),
    (lambda b: b.update(properties=None), "properties"),
    (lambda b: b["properties"].update(protectedSetting={"password": "x"}), "Could not find member "
     "'protectedSetting' on object of type 'VirtualMachineExtensionProperties'"),
    (lambda b: b["properties"].update(enableAutomaticUpgrade=True), "properties.enableAutomaticUpgrade"),
    (lambda b: b.update(propertie={}), "Could not find member 'propertie'"),
])
def test_malformed_or_unknown_extension_bodies_are_400_change_nothing_and_never_echo_the_password(env, change, needle):
    body = copy.deepcopy(VMACCESS)
    change(body)
    reply = call(env, "PUT", EXTENSION, body)
    assert reply.status_code == 400, reply.text
    assert needle in reply.json()["error"]["message"] and "Rescue-Pw-1234" not in reply.text
    assert world_vm(env, "keys")["extensions"] == {}


def test_the_extension_fails_in_the_guest_without_a_password_or_key(env):
    body = copy.deepcopy(VMACCESS)
    del body["properties"]["protectedSettings"]["password"]
    reply = call(env, "PUT", EXTENSION, body)
    assert reply.status_code == 201
    answers = poll_async(env, reply.headers["Azure-AsyncOperation"])
    assert answers[-1]["status"] == "Failed"
    assert answers[-1]["error"]["code"] == "VMExtensionProvisioningError"
    assert call(env, "GET", EXTENSION).json()["properties"]["provisioningState"] == "Failed"


# -- storage account: network rules -------------------------------------------------------------------

def acls(env: Emu) -> dict[str, Any]:
    return call(env, "GET", ACCOUNT, version=STORAGE).json()["properties"]["networkAcls"]


def test_storage_patch_replaces_the_ip_rules_and_keeps_what_it_is_given(env):
    rules = acls(env)
    rules["ipRules"] = [*rules["ipRules"], {"value": "20.105.209.72", "action": "Allow"}]
    reply = call(env, "PATCH", ACCOUNT, {"properties": {"networkAcls": rules}}, version=STORAGE)
    assert reply.status_code == 200, reply.text
    assert reply.json()["properties"]["networkAcls"]["ipRules"] == [
        {"value": "203.0.113.5", "action": "Allow"}, {"value": "20.105.209.72", "action": "Allow"}]
    assert acls(env)["defaultAction"] == "Deny"
    account = env.emulator.world.subscription(SUB)["storage_accounts"][0]
    assert account["ip_rules"] == ["203.0.113.5", "20.105.209.72"] and account["default_action"] == "Deny"


@pytest.mark.parametrize("rules, needle", [
    ({"ipRules": [{"value": "20.105.209.72"}]}, "networkAcls.defaultAction"),
    ({"defaultAction": "Sometimes", "ipRules": []}, "networkAcls.defaultAction"),
    ({"defaultAction": "Deny", "ipRules": [{"value": "10.1.2.3", "action": "Allow"}]}, "networkAcls.ipRule[*].value"),
    ({"defaultAction": "Deny", "ipRules": [{"value": "20.105.209.72/32"}]}, "networkAcls.ipRule[*].value"),
    ({"defaultAction": "Deny", "ipRules": [{"value": "not-an-ip"}]}, "networkAcls.ipRule[*].value"),
    ({"defaultAction": "Deny", "ipRules": "20.105.209.72"}, "networkAcls.ipRules"),
])
def test_storage_patch_refuses_bad_network_rules(env, rules, needle):
    reply = call(env, "PATCH", ACCOUNT, {"properties": {"networkAcls": rules}}, version=STORAGE)
    assert reply.status_code == 400, reply.text
    error = reply.json()["error"]
    assert error["code"] == "InvalidValuesForRequestParameters" and needle in error["message"], error
    assert acls(env)["ipRules"] == [{"value": "203.0.113.5", "action": "Allow"}]


def test_a_storage_patch_with_a_stale_etag_is_refused_412_and_changes_nothing(env):
    """Optimistic concurrency as ARM has it: If-Match with the ETag of the read, 412 when it changed."""
    read = call(env, "GET", ACCOUNT, version=STORAGE)
    etag = read.headers["ETag"]
    env.emulator.world.subscription(SUB)["storage_accounts"][0]["ip_rules"].append("198.51.100.7")  # another client
    rules = {**read.json()["properties"]["networkAcls"], "ipRules": [{"value": "20.105.209.72", "action": "Allow"}]}
    stale = call(env, "PATCH", ACCOUNT, {"properties": {"networkAcls": rules}}, version=STORAGE,
                 headers={"If-Match": etag})
    assert stale.status_code == 412, stale.text
    assert stale.json()["error"]["code"] == "PreconditionFailed"
    assert [r["value"] for r in acls(env)["ipRules"]] == ["203.0.113.5", "198.51.100.7"]
    fresh = call(env, "GET", ACCOUNT, version=STORAGE)
    assert fresh.headers["ETag"] != etag
    done = call(env, "PATCH", ACCOUNT, {"properties": {"networkAcls": rules}}, version=STORAGE,
                headers={"If-Match": fresh.headers["ETag"]})
    assert done.status_code == 200, done.text
    assert done.headers["ETag"] == call(env, "GET", ACCOUNT, version=STORAGE).headers["ETag"] != fresh.headers["ETag"]


def test_a_storage_patch_without_if_match_or_with_a_star_is_not_conditional(env):
    rules = acls(env)
    for headers in ({}, {"If-Match": "*"}):
        reply = call(env, "PATCH", ACCOUNT, {"properties": {"networkAcls": rules}}, version=STORAGE, headers=headers)
        assert reply.status_code == 200, reply.text


def test_storage_patch_checks_the_api_version_of_storage(env):
    reply = call(env, "PATCH", ACCOUNT, {"properties": {}}, version="2099-01-01")
    assert reply.status_code == 400 and reply.json()["error"]["code"] == "InvalidApiVersionParameter"


# -- the operations' world options ------------------------------------------------------------------

def test_operations_can_send_location_only():
    data = copy.deepcopy(WORLD)
    data["operations"] = {"polls": 1, "retry_after": 3, "headers": ["Location"]}
    with Emulator(World(data)) as emulator:
        reply = call(Emu(emulator), "POST", f"{VMS}/off/start")
        assert reply.status_code == 202 and "Azure-AsyncOperation" not in reply.headers
        assert reply.headers["Retry-After"] == "3" and "Location" in reply.headers


@pytest.mark.parametrize("options", [{"polls": -1}, {"retry_after": 0.5}, {"headers": []},
                                     {"headers": ["Operation-Location"]}, {"seconds": 0}, {"speed": 1}])
def test_bad_operation_options_fail_at_load(options):
    with pytest.raises(ValueError):
        World({"operations": options})


# -- the Azure CLI's api-versions for these calls -----------------------------------------------------

@pytest.mark.parametrize("version", ["2022-03-01", "2024-07-01", "2024-11-01", "2025-04-01"])
def test_the_compute_versions_of_the_azure_cli_start_and_follow_a_vm(env, version):
    reply = call(env, "POST", f"{VMS}/off/start", version=version)
    assert reply.status_code == 202, reply.text
    assert f"api-version={version}" in reply.headers["Azure-AsyncOperation"]
    assert poll_async(env, reply.headers["Azure-AsyncOperation"])[-1]["status"] == "Succeeded"


@pytest.mark.parametrize("version", ["2023-01-01", "2023-05-01", "2024-01-01", "2025-01-01"])
def test_the_storage_versions_of_the_azure_sdk_update_network_rules(env, version):
    rules = acls(env)
    reply = call(env, "PATCH", ACCOUNT, {"properties": {"networkAcls": rules}}, version=version)
    assert reply.status_code == 200, reply.text


# -- strictness: lock scopes, unknown members, passwords that are not text ---------------------------

def test_a_lock_covers_its_own_group_only_not_one_whose_name_starts_the_same():
    data = copy.deepcopy(WORLD)
    groups = data["subscriptions"][0]["resource_groups"]
    groups["prod"] = {"locks": [{"name": "freeze", "level": "ReadOnly"}]}
    groups["prod-rg"] = {"vms": [{"name": "free", "power": "deallocated"}]}
    with Emulator(World(data)) as emulator:
        env = Emu(emulator)
        vm = f"/subscriptions/{SUB}/resourceGroups/prod-rg/providers/Microsoft.Compute/virtualMachines/free"
        assert call(env, "GET", f"{vm}/providers/Microsoft.Authorization/locks", version="2016-09-01").json() == {
            "value": []}
        reply = call(env, "POST", f"{vm}/start")
        assert reply.status_code == 202, reply.text
        locked = call(env, "POST", f"/subscriptions/{SUB}/resourceGroups/locked/providers/Microsoft.Compute/"
                      "virtualMachines/frozen/start")
        assert locked.status_code == 409  # the lock's own group still is locked





@pytest.mark.parametrize("rules, needle", [
    ({"defaultAction": "Deny", "ipRules": [], "defaultActon": "Allow"}, "networkAcls.defaultActon"),
    ({"defaultAction": "Deny", "ipRules": [{"value": "20.105.209.72", "actoin": "Allow"}]},
     "networkAcls.ipRules[0].actoin"),
    ({"defaultAction": "Deny", "ipRules": [], "resourceAccessRules": [{"tenantId": "t", "resourceId": "r"}]},
     "networkAcls.resourceAccessRules"),
])
def test_network_acls_refuse_members_they_do_not_know_instead_of_dropping_them(env, rules, needle):
    reply = call(env, "PATCH", ACCOUNT, {"properties": {"networkAcls": rules}}, version=STORAGE)
    assert reply.status_code == 400, reply.text
    assert needle in reply.json()["error"]["message"], reply.json()
    assert acls(env)["defaultAction"] == "Deny" and acls(env)["ipRules"] == [{"value": "203.0.113.5",
                                                                              "action": "Allow"}]


@pytest.mark.parametrize("password", [r"\udcff\udcfepw", r"pw\u0085x", r"pw\u007fx"])
def test_a_password_that_is_not_text_fails_the_operation_and_never_the_server(env, password):
    """JSON can carry a lone surrogate (what non-UTF-8 bytes become in Python) or a C1 control: the
    extension fails in the guest, and every poll still answers."""
    raw = json.dumps(VMACCESS).replace("Rescue-Pw-1234", password).encode()  # the escape, as JSON has it
    reply = call(env, "PUT", EXTENSION, raw=raw)
    assert reply.status_code == 201, reply.text
    answers = poll_async(env, reply.headers["Azure-AsyncOperation"])
    assert answers[-1]["status"] == "Failed" and "control characters" in answers[-1]["error"]["message"]
    assert call(env, "GET", reply.headers["Location"]).status_code == 400  # the failure, not a 500
    assert world_vm(env, "keys")["access_users"] == {}


def test_disabled_boot_diagnostics_keep_their_old_storage_uri_which_a_patch_merges():
    """ARM keeps a custom storageUri after boot diagnostics are disabled; a PATCH merges, so enabling
    without storageUri brings the old account back. Only an explicit null gives managed storage."""
    data = copy.deepcopy(WORLD)
    data["subscriptions"][0]["resource_groups"]["rg"]["vms"].append(
        {"name": "stale", "boot_diagnostics": "off", "storage_account": "olddiag"})
    with Emulator(World(data)) as emulator:
        env = Emu(emulator)
        old = {"enabled": False, "storageUri": "https://olddiag.blob.core.windows.net/"}
        assert call(env, "GET", f"{VMS}/stale").json()["properties"]["diagnosticsProfile"]["bootDiagnostics"] == old
        assert "bootDiagnostics" not in call(env, "GET", f"{VMS}/stale/instanceView").json()
        on = {"properties": {"diagnosticsProfile": {"bootDiagnostics": {"enabled": True}}}}
        reply = call(env, "PATCH", f"{VMS}/stale", on)
        assert reply.json()["properties"]["diagnosticsProfile"]["bootDiagnostics"] == {**old, "enabled": True}
        off = {"properties": {"diagnosticsProfile": {"bootDiagnostics": {"enabled": False}}}}
        reply = call(env, "PATCH", f"{VMS}/stale", off)
        assert reply.json()["properties"]["diagnosticsProfile"]["bootDiagnostics"] == old
        managed = {"properties": {"diagnosticsProfile": {"bootDiagnostics": {"enabled": True, "storageUri": None}}}}
        reply = call(env, "PATCH", f"{VMS}/stale", managed)
        assert reply.json()["properties"]["diagnosticsProfile"]["bootDiagnostics"] == {"enabled": True}
        vm = next(v for v in emulator.world.subscription(SUB)["vms"] if v["name"] == "stale")
        assert vm["boot_diagnostics"] == "managed" and vm["storage_account"] is None


def test_a_role_on_one_group_does_not_cover_a_group_whose_name_starts_the_same():
    from sercon_emulator.world import _within

    assert _within("/subscriptions/s/resourceGroups/prod/providers/x/vm1", "/subscriptions/s/resourceGroups/prod")
    assert _within("/subscriptions/s/resourceGroups/prod", "/subscriptions/s/resourceGroups/prod/")
    assert not _within("/subscriptions/s/resourceGroups/prod-rg/providers/x/vm1",
                       "/subscriptions/s/resourceGroups/prod")
