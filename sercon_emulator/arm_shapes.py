"""ARM JSON for the emulated resources, shaped as the recordings in docs/azure-protocol.md show, and
ARM's error answer."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from aiohttp import web

POWER_TEXT = {"running": "VM running", "stopped": "VM stopped", "deallocated": "VM deallocated",
              "starting": "VM starting", "deallocating": "VM deallocating"}


def arm_error(status: int, code: str, message: str, flat: bool = False) -> web.Response:
    body = {"code": code, "message": message} if flat else {"error": {"code": code, "message": message}}
    headers = {"x-ms-failure-cause": "gateway"} if status == 404 else {}
    return web.json_response(body, status=status, headers=headers)


def rid(sub: dict[str, Any], rg: str, kind: str, name: str) -> str:
    return f"/subscriptions/{sub['id']}/resourceGroups/{rg}/providers/{kind}/{name}"


def _statuses(power: str) -> list[dict[str, str]]:
    return [{"code": "ProvisioningState/succeeded", "level": "Info", "displayStatus": "Provisioning succeeded"},
            {"code": f"PowerState/{power}", "level": "Info", "displayStatus": POWER_TEXT.get(power, power)}]


def _boot_diagnostics_profile(item: dict[str, Any]) -> dict[str, Any]:
    mode = item["boot_diagnostics"]
    profile: dict[str, Any] = {"enabled": mode != "off"}
    if mode == "custom" or (mode == "off" and item.get("storage_account")):  # disabled: ARM keeps the old one
        profile["storageUri"] = f"https://{item['storage_account']}.blob.core.windows.net/"
    return {"bootDiagnostics": profile}


def _view_boot_diagnostics(item: dict[str, Any], name: str) -> dict[str, Any] | None:
    if item["boot_diagnostics"] == "off":
        return None
    if item["boot_diagnostics"] == "custom":
        base = f"https://{item['storage_account']}.blob.core.windows.net/bootdiagnostics-{name}"
        return {"consoleScreenshotBlobUri": f"{base}/{name}.screenshot.bmp",
                "serialConsoleLogBlobUri": f"{base}/{name}.serialconsole.log"}
    return {}


def _os_profile(item: dict[str, Any], name: str) -> dict[str, Any]:
    profile: dict[str, Any] = {"computerName": name, "adminUsername": item.get("admin_username", "azureuser")}
    if item.get("os", "Linux") == "Windows":
        profile["windowsConfiguration"] = {"provisionVMAgent": True}
    else:
        profile["linuxConfiguration"] = {
            "disablePasswordAuthentication": bool(item.get("disable_password_authentication", False))}
    return profile


def _image(item: dict[str, Any]) -> dict[str, Any]:
    windows = item.get("os", "Linux") == "Windows"
    return {"imageReference": {"publisher": "MicrosoftWindowsServer" if windows else "Canonical",
                               "offer": "WindowsServer" if windows else item.get("offer", "ubuntu"),
                               "sku": "2022-datacenter" if windows else "22_04-lts", "version": "latest"},
            "osDisk": {"osType": item.get("os", "Linux"), "name": f"{item['name']}_OsDisk"}}


def vm_instance_view(sub: dict[str, Any], vm: dict[str, Any]) -> dict[str, Any]:
    view: dict[str, Any] = {"computerName": vm["name"], "hyperVGeneration": "V2", "statuses": _statuses(vm["power"])}
    if vm["os"] == "Windows":
        view["osName"] = "Windows Server 2022 Datacenter"
    boot = _view_boot_diagnostics(vm, vm["name"])
    if boot:
        view["bootDiagnostics"] = boot
    if vm.get("extensions"):
        view["extensions"] = [_extension_view(name, ext) for name, ext in vm["extensions"].items()]
    return view


def _extension_view(name: str, ext: dict[str, Any]) -> dict[str, Any]:
    state = ext["provisioning_state"]
    return {"name": name, "type": f"{ext['publisher']}.{ext['type']}", "typeHandlerVersion": ext["typeHandlerVersion"],
            "statuses": [{"code": f"ProvisioningState/{state.lower()}", "level": "Error" if state == "Failed" else
                          "Info", "displayStatus": f"Provisioning {state.lower()}", "message": ext.get("message", "")}]}


def extension_json(sub: dict[str, Any], vm: dict[str, Any], name: str) -> dict[str, Any]:
    """A VM extension as ARM returns it: never its protectedSettings (they go to the VM only)."""
    ext = vm["extensions"][name]
    props = {key: ext[key] for key in ("publisher", "type", "typeHandlerVersion", "autoUpgradeMinorVersion",
                                       "settings") if key in ext}
    props["provisioningState"] = ext["provisioning_state"]
    vm_id = rid(sub, vm["resource_group"], "Microsoft.Compute/virtualMachines", vm["name"])
    return {"id": f"{vm_id}/extensions/{name}", "name": name, "type": "Microsoft.Compute/virtualMachines/extensions",
            "location": vm["location"], "properties": props}


def vm_json(sub: dict[str, Any], vm: dict[str, Any], expand: bool = False) -> dict[str, Any]:
    props: dict[str, Any] = {
        "vmId": vm["vm_id"], "hardwareProfile": {"vmSize": "Standard_B1s"}, "storageProfile": _image(vm),
        "osProfile": _os_profile(vm, vm["name"]), "diagnosticsProfile": _boot_diagnostics_profile(vm),
        "provisioningState": vm.get("provisioning_state", "Succeeded"),
    }
    if vm.get("scale_set"):
        props["virtualMachineScaleSet"] = {"id": rid(sub, vm["resource_group"], "Microsoft.Compute/"
                                                     "virtualMachineScaleSets", vm["scale_set"])}
    if expand:
        props["instanceView"] = vm_instance_view(sub, vm)
    body = {"id": rid(sub, vm["resource_group"], "Microsoft.Compute/virtualMachines", vm["name"]), "name": vm["name"],
            "type": "Microsoft.Compute/virtualMachines", "location": vm["location"], "properties": props}
    if vm.get("extensions"):  # as ARM lists a VM's child extensions
        body["resources"] = [extension_json(sub, vm, name) for name in vm["extensions"]]
    return body


def vmss_json(sub: dict[str, Any], scale_set: dict[str, Any]) -> dict[str, Any]:
    props: dict[str, Any] = {"orchestrationMode": scale_set["orchestration"], "provisioningState": "Succeeded",
                             "uniqueId": f"vmss-{scale_set['name']}"}
    if scale_set["orchestration"] == "Uniform":
        props["virtualMachineProfile"] = {"storageProfile": _image(scale_set),
                                          "osProfile": _os_profile(scale_set, scale_set["name"]),
                                          "diagnosticsProfile": _boot_diagnostics_profile(scale_set)}
    return {"id": rid(sub, scale_set["resource_group"], "Microsoft.Compute/virtualMachineScaleSets",
                      scale_set["name"]),
            "name": scale_set["name"], "type": "Microsoft.Compute/virtualMachineScaleSets",
            "location": scale_set["location"], "sku": {"name": "Standard_B1s", "capacity": len(scale_set.get(
                "instances", []))}, "properties": props}


def vmss_instance_json(sub: dict[str, Any], scale_set: dict[str, Any], inst: dict[str, Any]) -> dict[str, Any]:
    merged = {**scale_set, **inst}
    name = f"{scale_set['name']}_{inst['id']}"
    view: dict[str, Any] = {"platformUpdateDomain": 0, "platformFaultDomain": 0, "hyperVGeneration": "V2",
                            "statuses": _statuses(inst.get("power", "running"))}
    if merged.get("os") == "Windows":
        view["osName"] = "Windows Server 2022 Datacenter"
    boot = _view_boot_diagnostics(merged, name)
    if boot is not None:
        view["bootDiagnostics"] = boot
    base = rid(sub, scale_set["resource_group"], "Microsoft.Compute/virtualMachineScaleSets", scale_set["name"])
    return {"id": f"{base}/virtualMachines/{inst['id']}", "name": name, "instanceId": str(inst["id"]),
            "type": "Microsoft.Compute/virtualMachineScaleSets/virtualMachines", "location": scale_set["location"],
            "properties": {"storageProfile": _image(merged), "osProfile": _os_profile(merged, name),
                           "diagnosticsProfile": _boot_diagnostics_profile(merged), "instanceView": view,
                           "provisioningState": "Succeeded"}}


def storage_json(sub: dict[str, Any], acct: dict[str, Any]) -> dict[str, Any]:
    return {"id": rid(sub, acct["resource_group"], "Microsoft.Storage/storageAccounts", acct["name"]),
            "name": acct["name"], "type": "Microsoft.Storage/storageAccounts", "location": acct["location"],
            "kind": "StorageV2",
            "properties": {"allowSharedKeyAccess": acct["allow_shared_key_access"],
                           "networkAcls": {"bypass": acct.get("bypass", "AzureServices"),
                                           "defaultAction": acct["default_action"],
                                           "ipRules": [{"value": ip, "action": "Allow"} for ip in acct["ip_rules"]],
                                           "virtualNetworkRules": list(acct.get("virtual_network_rules", []))},
                           "primaryEndpoints": {"blob": f"https://{acct['name']}.blob.core.windows.net/"}}}


def storage_etag(acct: dict[str, Any]) -> str:
    """The account's ETag: a digest of everything it holds, so that any change (a write, a test editing
    the world) gives a new one."""
    digest = hashlib.sha256(json.dumps(acct, sort_keys=True, default=str).encode()).hexdigest()
    return f'"{digest[:16]}"'


def lock_json(lock: dict[str, Any]) -> dict[str, Any]:
    return {"id": f"{lock['scope']}/providers/Microsoft.Authorization/locks/{lock.get('name', 'lock')}",
            "name": lock.get("name", "lock"), "type": "Microsoft.Authorization/locks",
            "properties": {"level": lock.get("level", "ReadOnly"), "notes": lock.get("notes", "")}}


def boot_log_text(name: str, custom: str | None = None) -> str:
    if custom is not None:
        return custom
    lines = ["[    0.000000] Linux version 6.1.0-emulated (sercon emulator)",
             "[    0.000000] Command line: console=ttyS0,115200n8 earlyprintk=ttyS0",
             *(f"[    {i / 10:.6f}] emulated boot message {i}" for i in range(1, 40)),
             "[  OK  ] Reached target Multi-User System.", "", f"Ubuntu 22.04.4 LTS {name} ttyS0", "",
             f"{name} login: "]
    return "\r\n".join(lines)


def storage_missing(params: dict[str, str]) -> web.Response:
    """ARM's 404 for a storage account that is not there."""
    return arm_error(404, "ResourceNotFound", f"The Resource 'Microsoft.Storage/storageAccounts/"
                     f"{params['acct']}' under resource group '{params['rg']}' was not found.")
