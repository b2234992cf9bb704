"""What the emulator's ARM writes accept: ARM's deserializer (known members only, the right types) and
the providers' value checks, each answering ARM's 400 in ARM's words (docs/emulator.md, "ARM writes").

Pure functions of the request body; the handlers are in arm_updates.py. No message ever quotes a value
from the body: it may hold a password.
"""

from __future__ import annotations

import ipaddress
import json
import re
from typing import Any

from aiohttp import web

from sercon_emulator.arm_shapes import arm_error

ACCESS_PASSWORD_LIMIT = 256  # bytes: a CHOICE of the emulator (the extension publishes none)
MAX_IP_RULES = 400  # Azure Storage's documented limit
RFC1918 = tuple(ipaddress.ip_network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"))
Answer = tuple[Any, "web.Response | None"]


def within(path: str, scope: str) -> bool:
    """Whether *path* is *scope* or under it: on a '/' boundary (a lock on group `prod` is not on `prod-rg`)."""
    path, scope = path.lower().rstrip("/"), scope.lower().rstrip("/")
    return path == scope or path.startswith(scope + "/")


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


EXTENSION_MEMBERS = ("id", "name", "type", "location", "tags", "properties")
EXTENSION_PROPERTIES = ("publisher", "type", "typeHandlerVersion", "autoUpgradeMinorVersion", "settings",
                        "protectedSettings")
# In Compute's VirtualMachineExtensionProperties, but not modelled here: refused rather than ignored.
EXTENSION_NOT_MODELLED = ("forceUpdateTag", "enableAutomaticUpgrade", "suppressFailures",
                          "protectedSettingsFromKeyVault", "provisionAfterExtensions", "instanceView",
                          "provisioningState")


def extension_properties(body: dict[str, Any]) -> Answer:
    if error := members(body, "", "VirtualMachineExtension", EXTENSION_MEMBERS):
        return None, error
    props = body.get("properties")
    if not isinstance(props, dict):
        return None, arm_error(400, "InvalidParameter", "Required parameter 'properties' is missing (null).")
    if error := members(props, "properties", "VirtualMachineExtensionProperties",
                        EXTENSION_PROPERTIES + EXTENSION_NOT_MODELLED):
        return None, error
    unmodelled = next((key for key in props if key in EXTENSION_NOT_MODELLED), None)
    if unmodelled is not None:
        return None, not_modelled(f"properties.{unmodelled}")
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


ACL_MEMBERS = ("bypass", "defaultAction", "ipRules", "virtualNetworkRules")
ACL_NOT_MODELLED = ("resourceAccessRules", "ipv6Rules")  # in Storage's NetworkRuleSet; refused unless empty


def acl_members(rules: Any) -> web.Response | None:
    """A networkAcls object with Storage's members only: an unknown one is refused, never dropped."""
    if not isinstance(rules, dict):
        return bad_acls("defaultAction")
    for key, value in rules.items():
        if key in ACL_NOT_MODELLED and value in (None, []):
            continue
        if key not in ACL_MEMBERS:
            return bad_acls(key) if key not in ACL_NOT_MODELLED else not_modelled(f"properties.networkAcls.{key}")
    for index, rule in enumerate(rules.get("ipRules") if isinstance(rules.get("ipRules"), list) else []):
        unknown = next((key for key in rule if key not in ("value", "action")), None) if isinstance(rule, dict) \
            else None
        if unknown is not None:
            return bad_acls(f"ipRules[{index}].{unknown}")
    return None


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


def text_password(password: str) -> bool:
    """A password a login takes: UTF-8 (JSON may carry lone surrogates), no C0 or C1 controls nor DEL,
    at most ACCESS_PASSWORD_LIMIT bytes."""
    try:
        size = len(password.encode())
    except UnicodeEncodeError:
        return False
    return size <= ACCESS_PASSWORD_LIMIT and not any(ord(c) < 32 or 127 <= ord(c) < 160 for c in password)


def public_ipv4(value: str) -> bool:
    try:
        network = ipaddress.ip_network(value, strict=True)
    except ValueError:
        return False
    if network.version != 4 or ("/" in value and network.prefixlen > 30):
        return False
    return not any(network.subnet_of(private) for private in RFC1918)


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
        if error := acl_members(rules):
            return None, error
        if rules.get("defaultAction") not in ("Allow", "Deny"):
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
