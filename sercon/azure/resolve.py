"""Finding the VM or scale-set instance a user named, fast, and saying exactly what was wrong if not."""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from sercon.azure.arm import ArmClient
from sercon.azure_names import RULES, valid
from sercon.errors import SerconError, TargetNotFound, UsageError
from sercon.paths import azure_cli_dir
from sercon.targets import AzureTarget

COMPUTE = "/providers/Microsoft.Compute"


@dataclass
class AzureVm:
    """A resolved VM (or a Uniform scale-set instance) with its model and instance view."""

    subscription: str
    resource_group: str
    name: str
    instance_id: str | None
    resource_id: str
    model: dict[str, Any]
    instance_view: dict[str, Any]
    scale_set: dict[str, Any] | None = None

    @property
    def label(self) -> str:
        return f"{self.resource_group}/{self.name}" + (f"/{self.instance_id}" if self.instance_id else "")

    @property
    def is_instance(self) -> bool:
        return self.instance_id is not None

    @property
    def location(self) -> str:
        return (self.model.get("location") or (self.scale_set or {}).get("location") or "").lower()

    @property
    def is_windows(self) -> bool:
        props = self.model.get("properties", {})
        offer = props.get("storageProfile", {}).get("imageReference", {}).get("offer", "")
        os_type = props.get("storageProfile", {}).get("osDisk", {}).get("osType", "")
        return any("windows" in str(v).lower() for v in (self.instance_view.get("osName", ""), offer, os_type))

    @property
    def parent_path(self) -> str:
        """The parent type and parent of the serial console's connect call (protocol sheet, section 2).

        A scale-set instance's parent `SET/virtualMachines/ID` is one path parameter, quoted whole, as
        the official client's generated SDK sends it: `SET%2FvirtualMachines%2FID` (the literal form is
        not known to work)."""
        if self.scale_set is not None and self.instance_id is not None:
            parent = f"{self.scale_set['name']}/virtualMachines/{self.instance_id}"
            return f"virtualMachineScaleSets/{quote(parent, safe='')}"
        return f"virtualMachines/{quote(self.name, safe='')}"


def pick_subscription(target: AzureTarget, environ: dict[str, str]) -> str:
    """--subscription (or the profile's, or the resource ID's), AZURE_SUBSCRIPTION_ID, else the Azure CLI's default."""
    if target.subscription:
        return target.subscription
    if environ.get("AZURE_SUBSCRIPTION_ID"):
        return environ["AZURE_SUBSCRIPTION_ID"]
    default = azure_cli_default_subscription(environ)
    if default:
        return default
    raise UsageError("no Azure subscription given",
                     "pass --subscription ID, set AZURE_SUBSCRIPTION_ID, put `subscription = \"...\"` in the "
                     "profile, or pick a default with `az account set -s ID`")


def azure_cli_default_subscription(environ: dict[str, str]) -> str | None:
    folder = azure_cli_dir(environ)
    try:
        profile = json.loads((folder / "azureProfile.json").read_text(encoding="utf-8-sig"))
    except (OSError, ValueError):
        return None
    subscriptions = profile.get("subscriptions") if isinstance(profile, dict) else None
    if not isinstance(subscriptions, list):
        return None  # not the Azure CLI's shape: as if there were no default
    return next((s["id"] for s in subscriptions if isinstance(s, dict) and s.get("isDefault") is True
                 and isinstance(s.get("id"), str)), None)


def check_names(target: AzureTarget, subscription: str) -> None:
    """Refuse a name that is not an Azure name (exit 2) before it reaches an ARM path: each becomes one
    segment of it, so `?`, `#`, `/`, `%` or a space would change what is asked for (sercon.azure_names)."""
    for kind, value in (("subscription", subscription), ("resource group", target.resource_group),
                        ("VM or scale-set name", target.name), ("instance id", target.instance_id)):
        if value is not None and not valid(kind, str(value)):
            raise UsageError(f"{value!r} is not a valid Azure {kind}: it may hold only {RULES[kind][1]}",
                             "check the name (`sercon list` shows local devices; `az vm list -o table` VMs)")


def resolve_vm(arm: ArmClient, target: AzureTarget, subscription: str) -> AzureVm:
    check_names(target, subscription)
    if target.instance_id is not None:
        return _resolve_instance(arm, target, subscription)
    if target.resource_group:
        return _get_vm(arm, subscription, target.resource_group, target.name, check_scale_set=True)
    return _find_vm(arm, subscription, target.name)


def _vm_path(subscription: str, rg: str, name: str) -> str:
    return f"/subscriptions/{subscription}/resourceGroups/{rg}{COMPUTE}/virtualMachines/{name}"


def _get_vm(arm: ArmClient, subscription: str, rg: str, name: str, check_scale_set: bool = False) -> AzureVm:
    try:
        model = arm.get(_vm_path(subscription, rg, name), "compute", **{"$expand": "instanceView"})
    except TargetNotFound as exc:
        if not check_scale_set:
            raise
        _raise_if_scale_set(arm, subscription, rg, name)
        try:
            group = list(arm.list(f"/subscriptions/{subscription}/resourceGroups/{rg}{COMPUTE}/virtualMachines",
                                  "compute"))
        except SerconError:
            raise exc from None  # the group's list cannot be read: no guess
        raise _with_near(exc, name, group) from None
    return AzureVm(subscription, rg, model["name"], None, model["id"], model,
                   model.get("properties", {}).get("instanceView", {}))


def _raise_if_scale_set(arm: ArmClient, subscription: str, rg: str, name: str) -> None:
    path = f"/subscriptions/{subscription}/resourceGroups/{rg}{COMPUTE}/virtualMachineScaleSets/{name}"
    try:
        arm.get(path, "compute")
    except TargetNotFound:
        return
    instances = [str(i.get("instanceId") or i.get("name")) for i in arm.list(path + "/virtualMachines", "compute")]
    raise UsageError(
        f"{name!r} is a virtual machine scale set, not a VM",
        f"name one of its instances: `sercon ... -g {rg} {name}/ID` or `--instance-id ID` "
        f"(instances: {', '.join(instances) or 'none'})")


def resource_group_of(resource_id: str) -> str:
    """The resource group named in an ARM resource id (any case of `resourceGroups`)."""
    parts = resource_id.split("/")
    lowered = [part.lower() for part in parts]
    if "resourcegroups" not in lowered or lowered.index("resourcegroups") + 1 >= len(parts):
        return "<resource group>"
    return parts[lowered.index("resourcegroups") + 1]


def _with_near(exc: TargetNotFound, name: str, vms: list[dict[str, Any]]) -> TargetNotFound:
    """*exc* with the close names among *vms* as its fix (as difflib finds them), when there are any."""
    found = {vm["name"].lower(): vm for vm in vms if isinstance(vm.get("name"), str)}
    close = difflib.get_close_matches(name.lower(), list(found), n=3, cutoff=0.6)
    if close:
        options = " or ".join(f"`-g {resource_group_of(found[n].get('id', ''))} {found[n]['name']}`" for n in close)
        exc.hint = f"did you mean {options}?"
    return exc


def _find_vm(arm: ArmClient, subscription: str, name: str) -> AzureVm:
    every = list(arm.list(f"/subscriptions/{subscription}{COMPUTE}/virtualMachines", "compute"))
    matches = [vm for vm in every if vm["name"].lower() == name.lower()]
    if len(matches) > 1:
        options = "; ".join(f"-g {resource_group_of(vm['id'])} {vm['name']}" for vm in matches)
        raise UsageError(f"{len(matches)} VMs are named {name!r} in subscription {subscription}",
                         f"pick one with its resource group: {options}")
    if matches:
        return _get_vm(arm, subscription, resource_group_of(matches[0]["id"]), matches[0]["name"])
    for scale_set in arm.list(f"/subscriptions/{subscription}{COMPUTE}/virtualMachineScaleSets", "compute"):
        if scale_set["name"].lower() == name.lower():
            _raise_if_scale_set(arm, subscription, resource_group_of(scale_set["id"]), scale_set["name"])
    raise _with_near(TargetNotFound(f"no VM or scale set named {name!r} in subscription {subscription}",
                                    "check the name (`az vm list -o table`) and the subscription (--subscription)"),
                     name, every)


def _resolve_instance(arm: ArmClient, target: AzureTarget, subscription: str) -> AzureVm:
    rg = target.resource_group
    if rg is None:
        sets = [s for s in arm.list(f"/subscriptions/{subscription}{COMPUTE}/virtualMachineScaleSets", "compute")
                if s["name"].lower() == target.name.lower()]
        if not sets:
            raise TargetNotFound(f"no scale set named {target.name!r} in subscription {subscription}")
        if len(sets) > 1:
            raise UsageError(f"{len(sets)} scale sets are named {target.name!r}",
                             "pick one with -g: " + "; ".join(f"-g {resource_group_of(s['id'])}" for s in sets))
        rg = resource_group_of(sets[0]["id"])
    set_path = f"/subscriptions/{subscription}/resourceGroups/{rg}{COMPUTE}/virtualMachineScaleSets/{target.name}"
    scale_set = arm.get(set_path, "compute")
    if scale_set.get("properties", {}).get("orchestrationMode") == "Flexible":
        return _flexible_instance(arm, subscription, rg, scale_set, str(target.instance_id))
    model = arm.get(f"{set_path}/virtualMachines/{target.instance_id}", "compute", **{"$expand": "instanceView"})
    view = model.get("properties", {}).get("instanceView") or arm.get(
        f"{set_path}/virtualMachines/{target.instance_id}/instanceView", "compute")
    return AzureVm(subscription, rg, scale_set["name"], str(target.instance_id), model["id"], model, view, scale_set)


def _flexible_instance(arm: ArmClient, subscription: str, rg: str, scale_set: dict[str, Any],
                       instance: str) -> AzureVm:
    """Flexible orchestration: the instances are plain VMs that point back at the scale set."""
    members = [vm for vm in arm.list(f"/subscriptions/{subscription}/resourceGroups/{rg}{COMPUTE}/virtualMachines",
                                     "compute")
               if vm.get("properties", {}).get("virtualMachineScaleSet", {}).get("id", "").lower()
               == scale_set["id"].lower()]
    chosen = next((vm for vm in members if vm["name"].lower() in (instance.lower(),
                                                                   f"{scale_set['name']}_{instance}".lower())), None)
    if chosen is None:
        raise TargetNotFound(f"scale set {scale_set['name']!r} has no instance {instance!r}",
                             f"its instances: {', '.join(vm['name'] for vm in members) or 'none'}")
    return _get_vm(arm, subscription, rg, chosen["name"])
