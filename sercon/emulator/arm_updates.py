"""The emulator's ARM writes: VM update (boot diagnostics), VM start, VM extensions (VMAccessForLinux
creates console users), storage account network rules; with ARM's refusals (docs/emulator.md, "ARM
writes"): a ReadOnly lock (409 ScopeLocked), a body that does not deserialize, a value out of range.

A mixin of the Arm class (arm.py), whose table routes to these handlers; the long-running ones answer
through operations.py. No error message ever quotes a value from the request body: it may hold a password.
"""

from __future__ import annotations

import ipaddress
import json
import re
from typing import Any

from aiohttp import web

from sercon.emulator.arm_shapes import arm_error, extension_json, storage_json, vm_json
from sercon.emulator.operations import Operations
from sercon.emulator.world import World

VMACCESS = ("Microsoft.OSTCExtensions", "VMAccessForLinux")
LINUX_USER = re.compile(r"[a-z_][a-z0-9_.-]{0,31}")
ACCESS_PASSWORD_LIMIT = 256  # bytes: a CHOICE of the emulator (the extension publishes none)
MAX_ACCESS_USERS = 16  # per VM, a CHOICE: they all reach the login program on one pipe
MAX_IP_RULES = 400  # Azure Storage's documented limit
RFC1918 = tuple(ipaddress.ip_network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"))
Answer = tuple[Any, "web.Response | None"]


def bad_content(path: str, why: str) -> web.Response:
    return arm_error(400, "InvalidRequestContent", f"The request content was invalid and could not be "
                     f"deserialized: '{why} Path '{path}'.'")


def bad_acls(what: str) -> web.Response:
    return arm_error(400, "InvalidValuesForRequestParameters", f"Values for request parameters are invalid: "
                     f"networkAcls.{what}. For more information, see - https://aka.ms/storagenetworkruleset")


def not_modelled(path: str) -> web.Response:
    return arm_error(400, "InvalidParameter", f"Changing '{path}' is not supported by the emulator.")


async def object_body(request: web.Request) -> Answer:
    """The request's JSON object, or ARM's 400 (naming where it broke, never what it held)."""
    try:
        body = json.loads(await request.read() or b"null")
    except (ValueError, UnicodeDecodeError) as exc:
        where = f"line {exc.lineno}, position {exc.colno}" if isinstance(exc, json.JSONDecodeError) else "bytes"
        return None, bad_content("", f"Unexpected character encountered while parsing value at {where}.")
    if not isinstance(body, dict):
        return None, bad_content("", "The body must be a JSON object.")
    return body, None


def members(value: Any, path: str, kind: str, allowed: tuple[str, ...]) -> web.Response | None:
    """ARM's deserializer: an object of the right type, with known members only."""
    if not isinstance(value, dict):
        return bad_content(path, f"Could not convert the value to type '{kind}'.")
    unknown = next((key for key in value if key not in allowed), None)
    if unknown is not None:
        return bad_content(f"{path}.{unknown}".lstrip("."), f"Could not find member '{unknown}' on object of type "
                           f"'{kind}'.")
    return None


def boot_diagnostics_change(body: dict[str, Any]) -> Answer:
    """The bootDiagnostics object of a VM PATCH (None when it does not touch them), or a 400."""
    for key in body:
        if key != "properties":
            return None, not_modelled(key)
    props = body.get("properties", {})
    if not isinstance(props, dict):
        return None, bad_content("properties", "Could not convert the value to type 'VirtualMachineProperties'.")
    for key in props:
        if key != "diagnosticsProfile":
            return None, not_modelled(f"properties.{key}")
    profile = props.get("diagnosticsProfile", {})
    path = "properties.diagnosticsProfile"
    if error := members(profile, path, "DiagnosticsProfile", ("bootDiagnostics",)):
        return None, error
    boot = profile.get("bootDiagnostics")
    if boot is None:
        return None, None
    if error := members(boot, f"{path}.bootDiagnostics", "BootDiagnostics", ("enabled", "storageUri")):
        return None, error
    if "enabled" in boot and not isinstance(boot["enabled"], bool):
        return None, bad_content(f"{path}.bootDiagnostics.enabled", "Could not convert the value to type 'Boolean'.")
    uri = boot.get("storageUri")
    if uri is not None and not (isinstance(uri, str) and re.fullmatch(r"https://[a-z0-9]{3,24}\.blob\.[^/\s]+/?",
                                                                     uri)):
        return None, arm_error(400, "InvalidParameter", "The value of parameter storageUri is invalid "
                               "(https://ACCOUNT.blob.core.windows.net/).")
    return boot, None


def extension_properties(body: dict[str, Any]) -> Answer:
    props = body.get("properties")
    if not isinstance(props, dict):
        return None, arm_error(400, "InvalidParameter", "Required parameter 'properties' is missing (null).")
    for name in ("publisher", "type", "typeHandlerVersion"):
        if not isinstance(props.get(name), str) or not props[name]:
            return None, arm_error(400, "InvalidParameter", f"Required parameter '{name}' is missing (null).")
    for name in ("settings", "protectedSettings"):
        if props.get(name) is not None and not isinstance(props[name], dict):
            return None, bad_content(f"properties.{name}", "Could not convert the value to type 'Object'.")
    if not isinstance(props.get("autoUpgradeMinorVersion", False), bool):
        return None, bad_content("properties.autoUpgradeMinorVersion", "Could not convert the value to type "
                                 "'Boolean'.")
    return props, None


def ip_rule_values(rules: Any) -> Answer:
    """The IPs of a networkAcls.ipRules list: public IPv4 addresses or ranges (no RFC 1918, no /31, /32)."""
    if not isinstance(rules, list):
        return None, bad_acls("ipRules")
    if len(rules) > MAX_IP_RULES:
        return None, bad_acls("ipRules")
    values = []
    for rule in rules:
        value = rule.get("value") if isinstance(rule, dict) else None
        if not isinstance(value, str) or rule.get("action", "Allow") != "Allow" or not public_ipv4(value):
            return None, bad_acls("ipRule[*].value")
        values.append(value)
    return values, None


def public_ipv4(value: str) -> bool:
    try:
        network = ipaddress.ip_network(value, strict=True)
    except ValueError:
        return False
    if network.version != 4 or ("/" in value and network.prefixlen > 30):
        return False
    return not any(network.subnet_of(private) for private in RFC1918)


class ArmUpdates:
    """The write handlers; mixed into Arm, whose world, gateway and lookups they use."""

    world: World
    operations: Operations
    gateway: Any

    def _locked(self, params: dict[str, str], path: str) -> web.Response | None:
        """ARM's answer to a write under a ReadOnly lock (before the provider sees the request)."""
        for lock in self._sub(params)["locks"]:
            if lock.get("level") == "ReadOnly" and path.lower().startswith(lock["scope"].lower()):
                return arm_error(409, "ScopeLocked", f"The scope '{path}' cannot perform write operation because "
                                 f"following scope(s) are locked: '{lock['scope']}'. Please remove the lock and try "
                                 "again.")
        return None

    @staticmethod
    def _group(sub: dict[str, Any], item: dict[str, Any]) -> str:
        return f"/subscriptions/{sub['id']}/resourceGroups/{item['resource_group']}"

    async def patch_vm(self, request, params, who):
        vm, error = self._vm(params)
        error = error or self._locked(params, request.path)
        body, error = (None, error) if error else await object_body(request)
        boot, error = (None, error) if error else boot_diagnostics_change(body)
        if error:
            return error
        if boot is not None:
            enabled = boot.get("enabled", vm["boot_diagnostics"] != "off")
            account = vm["storage_account"] if vm["boot_diagnostics"] == "custom" else None
            if "storageUri" in boot:
                account = re.match(r"https://([a-z0-9]+)\.", boot["storageUri"])[1] if boot["storageUri"] else None
            vm["boot_diagnostics"] = ("custom" if account else "managed") if enabled else "off"
            if enabled:
                vm["storage_account"] = account
        vm["provisioning_state"] = "Updating"
        sub = self._sub(params)

        def finish() -> None:
            vm["provisioning_state"] = "Succeeded"

        headers = self.operations.begin(request, sub["id"], vm["location"], self._group(sub, vm), finish,
                                        lambda: vm_json(sub, vm))
        return web.json_response(vm_json(sub, vm), headers=headers)

    async def start_vm(self, request, params, who):
        if "iid" in params:
            scale_set, target, error = self._instance(params)
            location = scale_set["location"] if scale_set else ""
        else:
            target, error = self._vm(params)
            location = target["location"] if target else ""
        error = error or self._locked(params, request.path)
        if error:
            return error
        sub = self._sub(params)
        if target.get("power", "running") != "running":
            target["power"] = "starting"

        def finish() -> None:
            target["power"] = "running"

        headers = self.operations.begin(request, sub["id"], location, f"/subscriptions/{sub['id']}/resourceGroups/"
                                        f"{params['rg']}", finish)
        return web.Response(status=202, headers=headers)

    async def list_extensions(self, request, params, who):
        vm, error = self._vm(params)
        return error or web.json_response({"value": [extension_json(self._sub(params), vm, name)
                                                     for name in vm["extensions"]]})

    async def get_extension(self, request, params, who):
        vm, error = self._vm(params)
        if error:
            return error
        name = next((n for n in vm["extensions"] if n.lower() == params["ext"].lower()), None)
        if name is None:
            return arm_error(404, "ResourceNotFound", f"The Resource 'Microsoft.Compute/virtualMachines/{vm['name']}/"
                             f"extensions/{params['ext']}' under resource group '{params['rg']}' was not found.")
        return web.json_response(extension_json(self._sub(params), vm, name))

    async def put_extension(self, request, params, who):
        vm, error = self._vm(params)
        error = error or self._locked(params, request.path)
        body, error = (None, error) if error else await object_body(request)
        props, error = (None, error) if error else extension_properties(body)
        if error:
            return error
        if vm["power"] != "running":
            return arm_error(409, "OperationNotAllowed", "Cannot modify extensions in the VM when the VM is not "
                             "running.")
        name = next((n for n in vm["extensions"] if n.lower() == params["ext"].lower()), params["ext"])
        handler = (props["publisher"].lower(), props["type"].lower())
        if any((e["publisher"].lower(), e["type"].lower()) == handler for n, e in vm["extensions"].items()
               if n != name):
            return arm_error(400, "BadRequest", f"Multiple VMExtensions per handler not supported for OS type "
                             f"'{vm['os']}'. VMExtension '{name}' with handler '{props['publisher']}.{props['type']}' "
                             "already added or specified in input.")
        existed = name in vm["extensions"]
        record = {key: props[key] for key in ("publisher", "type", "typeHandlerVersion", "autoUpgradeMinorVersion",
                                              "settings") if key in props}
        record["provisioning_state"] = "Updating" if existed else "Creating"
        vm["extensions"][name] = record
        protected = dict(props.get("protectedSettings") or {})  # kept for the guest only, in this closure
        sub = self._sub(params)

        def finish() -> tuple[str, str] | None:
            failure = self._run_in_guest(sub, vm, handler, protected)
            record["provisioning_state"] = "Failed" if failure else "Succeeded"
            record["message"] = failure or "Enable succeeded."
            if failure is None:
                return None
            return "VMExtensionProvisioningError", (f"VM has reported a failure when processing extension '{name}' "
                                                    f"(publisher '{record['publisher']}' and type '{record['type']}'). "
                                                    f"Error message: '{failure}'.")

        headers = self.operations.begin(request, sub["id"], vm["location"], self._group(sub, vm), finish,
                                        lambda: extension_json(sub, vm, name))
        return web.json_response(extension_json(sub, vm, name), status=200 if existed else 201, headers=headers)

    def _run_in_guest(self, sub: dict[str, Any], vm: dict[str, Any], handler: tuple[str, str],
                      protected: dict[str, Any]) -> str | None:
        """What the extension does in the VM: VMAccessForLinux sets a user's password; others do nothing."""
        if handler != tuple(part.lower() for part in VMACCESS):
            return None
        if vm["os"] != "Linux":
            return "VMAccessForLinux runs on Linux VMs only."
        user, password = protected.get("username"), protected.get("password")
        if not isinstance(password, str) or not password:
            return "No password or ssh_key is specified."
        if not isinstance(user, str) or not LINUX_USER.fullmatch(user):
            return "The user name is missing or is not a valid Linux user name."
        if len(password.encode()) > ACCESS_PASSWORD_LIMIT or any(ord(c) < 32 for c in password):
            return f"The password is longer than {ACCESS_PASSWORD_LIMIT} bytes or holds control characters."
        if user not in vm["access_users"] and len(vm["access_users"]) >= MAX_ACCESS_USERS:
            return f"The emulated VM has {MAX_ACCESS_USERS} users already."
        vm["access_users"][user] = password
        console = self.gateway.consoles.get(f"{sub['id']}/{vm['resource_group']}/{vm['name']}".lower())
        if console is not None and hasattr(console, "set_account"):
            console.set_account(user, password)  # a login prompt already waiting learns it at once
        return None

    async def patch_storage(self, request, params, who):
        sub = self._sub(params)
        acct = World.find(sub["storage_accounts"], params["rg"], params["acct"])
        if acct is None:
            return arm_error(404, "ResourceNotFound", f"The Resource 'Microsoft.Storage/storageAccounts/"
                             f"{params['acct']}' under resource group '{params['rg']}' was not found.")
        error = self._locked(params, request.path)
        body, error = (None, error) if error else await object_body(request)
        if error:
            return error
        changes, error = storage_changes(body)
        if error:
            return error
        acct.update(changes)
        return web.json_response(storage_json(sub, acct))


def storage_changes(body: dict[str, Any]) -> Answer:
    """The world keys a storage account PATCH changes: networkAcls (replaced whole) and allowSharedKeyAccess."""
    unknown = next((key for key in body if key != "properties"), None)
    props = body.get("properties", {})
    if unknown is not None or not isinstance(props, dict):
        return None, not_modelled(unknown) if unknown else bad_content("properties", "Could not convert the value.")
    unknown = next((key for key in props if key not in ("networkAcls", "allowSharedKeyAccess")), None)
    if unknown is not None:
        return None, not_modelled(f"properties.{unknown}")
    changes: dict[str, Any] = {}
    if "allowSharedKeyAccess" in props:
        if not isinstance(props["allowSharedKeyAccess"], bool):
            return None, bad_content("properties.allowSharedKeyAccess", "Could not convert the value to type "
                                     "'Boolean'.")
        changes["allow_shared_key_access"] = props["allowSharedKeyAccess"]
    if "networkAcls" in props:
        rules = props["networkAcls"]
        if not isinstance(rules, dict) or rules.get("defaultAction") not in ("Allow", "Deny"):
            return None, bad_acls("defaultAction")
        ips, error = ip_rule_values(rules.get("ipRules", []))
        if error:
            return None, error
        vnets = rules.get("virtualNetworkRules", [])
        if not isinstance(vnets, list) or not isinstance(rules.get("bypass", "AzureServices"), str):
            return None, bad_acls("virtualNetworkRules")
        changes.update(default_action=rules["defaultAction"], ip_rules=ips, virtual_network_rules=vnets,
                       bypass=rules.get("bypass", "AzureServices"))
    return changes, None
