"""The serial console's prerequisites as pure functions over what ARM returned: each says what it
found and the exact fix. `sercon doctor` shows them all; `sercon connect` stops on a definite
blocker only (see ``gate``)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

from sercon.azure.resolve import AzureVm, resource_group_of
from sercon.checks import FAIL, OK, WARN, CheckResult
from sercon.errors import PreconditionFailed

CONNECT_ACTION = "Microsoft.SerialConsole/serialPorts/connect/action"


@dataclass
class Facts:
    """Everything the checks look at, gathered concurrently by doctor.py."""

    console_disabled: bool | None = None
    vm: AzureVm | None = None
    storage_account: dict[str, Any] | None = None
    storage_name: str | None = None
    locks: list[dict[str, Any]] | None = field(default_factory=list)  # None: could not be read
    permissions: list[dict[str, Any]] | None = None
    caller: str = "<your object id>"


@cache
def service_ips() -> dict[str, Any]:
    text = resources.files("sercon.azure").joinpath("data/serialconsole_ips.json").read_text()
    return json.loads(text)["geographies"]


def geography(region: str) -> tuple[str, list[str]] | None:
    for name, geo in service_ips().items():
        if region.lower() in geo["regions"]:
            return name, geo["ips"]
    return None


def check_console(facts: Facts) -> CheckResult:
    if facts.console_disabled:
        return CheckResult("console", FAIL, "serial console is disabled for the subscription",
                           "sercon enable   (needs write access to the subscription)")
    return CheckResult("console", OK, "enabled for the subscription")


def _start_fix(vm: AzureVm) -> str:
    if vm.is_instance:
        return f"az vmss start -g {vm.resource_group} -n {vm.name} --instance-ids {vm.instance_id}"
    return f"az vm start -g {vm.resource_group} -n {vm.name}"


def power_state(vm: AzureVm) -> str:
    """running, stopped, deallocated, starting... from the instance view; unknown when it has none."""
    states = [s.get("code", "").split("/", 1)[1] for s in vm.instance_view.get("statuses", [])
              if s.get("code", "").lower().startswith("powerstate/")]
    return states[0].lower() if states else "unknown"


def check_power(vm: AzureVm) -> CheckResult:
    state = power_state(vm)
    if state in ("deallocated", "deallocating"):
        return CheckResult("power", FAIL, f"VM {state}: the serial console needs a running VM", _start_fix(vm))
    if state == "running":
        return CheckResult("power", OK, "running")
    return CheckResult("power", WARN, f"VM {state}: the console shows nothing until it runs", _start_fix(vm))


def check_boot_diagnostics(vm: AzureVm) -> CheckResult:
    if vm.is_instance:
        # Scale-set instances: the instance view's top-level bootDiagnostics must exist ({} when managed).
        if vm.instance_view.get("bootDiagnostics") is not None:
            return CheckResult("boot diagnostics", OK, _storage_kind(vm))
        return CheckResult("boot diagnostics", FAIL, "boot diagnostics are off for the scale set",
                           f"az vmss update -g {vm.resource_group} -n {vm.name} --set "
                           "virtualMachineProfile.diagnosticsProfile.bootDiagnostics.enabled=true && "
                           f"az vmss update-instances -g {vm.resource_group} -n {vm.name} --instance-ids "
                           f"{vm.instance_id}")
    profile = vm.model.get("properties", {}).get("diagnosticsProfile", {}).get("bootDiagnostics", {})
    if profile.get("enabled") is True:
        return CheckResult("boot diagnostics", OK, _storage_kind(vm))
    return CheckResult("boot diagnostics", FAIL, "boot diagnostics are off",
                       f"az vm boot-diagnostics enable -g {vm.resource_group} -n {vm.name}")


def storage_uri(vm: AzureVm) -> str | None:
    """Where boot diagnostics are written, when they are on and not in managed storage."""
    if vm.is_instance:
        return vm.instance_view.get("bootDiagnostics", {}).get("consoleScreenshotBlobUri") if vm.instance_view.get(
            "bootDiagnostics") else None
    profile = _boot_profile(vm)
    return profile.get("storageUri") if profile.get("enabled") is True else None


def _boot_profile(vm: AzureVm) -> dict[str, Any]:
    return vm.model.get("properties", {}).get("diagnosticsProfile", {}).get("bootDiagnostics") or {}


def account_of(uri: str | None) -> str | None:
    match = re.match(r"https://([a-z0-9]+)\.blob\.", uri or "", re.I)
    return match[1].lower() if match else None


def storage_account_name(vm: AzureVm) -> str | None:
    return account_of(storage_uri(vm))


def kept_storage_account(vm: AzureVm) -> str | None:
    """The custom account ARM keeps in a VM's model after boot diagnostics were turned off (a PATCH that
    turns them on again without saying storageUri brings it back)."""
    profile = _boot_profile(vm)
    return account_of(profile.get("storageUri")) if not vm.is_instance and profile.get("enabled") is not True \
        else None


def _storage_kind(vm: AzureVm) -> str:
    name = storage_account_name(vm)
    return f"enabled, custom storage account {name}" if name else "enabled, managed storage"


def network_rules(account: dict[str, Any]) -> dict[str, Any]:
    props = account.get("properties", {})
    return props.get("networkAcls") or props.get("networkRuleSet") or {}


def allowed_ips(rules: dict[str, Any]) -> list[str]:
    return [r.get("value", r.get("ipAddressOrRange", "")) for r in rules.get("ipRules", [])]


def missing_service_ips(facts: Facts) -> tuple[str, list[str]] | None:
    """(geography, the SerialConsole IPs the account's firewall lacks), or None when there is nothing to add:
    no custom account, no firewall, or no published IPs for the VM's region."""
    if facts.storage_account is None or facts.vm is None:
        return None
    rules = network_rules(facts.storage_account)
    allowed = allowed_ips(rules)
    geo = geography(facts.vm.location)
    if open_to_all(rules) or geo is None:
        return None
    return geo[0], [ip for ip in geo[1] if ip not in allowed]


def open_to_all(rules: dict[str, Any]) -> bool:
    """Default action Allow: every network reaches the account, and its IP rules are not looked at."""
    return rules.get("defaultAction", "Allow") == "Allow"


def check_storage_firewall(facts: Facts) -> CheckResult:
    vm = facts.vm
    if facts.storage_name is None:
        return CheckResult("storage firewall", OK, "managed boot diagnostics storage: nothing to open")
    if facts.storage_account is None:
        return CheckResult("storage firewall", WARN, f"storage account {facts.storage_name} not found or not "
                           "readable", "check that the boot diagnostics storage account exists and you can read it")
    rules = network_rules(facts.storage_account)
    allowed = set(allowed_ips(rules))
    if open_to_all(rules):
        return CheckResult("storage firewall", OK, f"{facts.storage_name}: no firewall (default action Allow: "
                           "every network may reach it)" if allowed else f"{facts.storage_name}: no firewall")
    geo = geography(vm.location) if vm else None
    if geo is None:
        return CheckResult("storage firewall", WARN, f"{facts.storage_name} has a firewall, and the serial console "
                           f"lists no service IPs for region {vm.location if vm else '?'}",
                           "storage firewalls are not supported in single-region geographies: remove the "
                           "firewall or use managed boot diagnostics (az vm boot-diagnostics enable without "
                           "--storage)")
    name, ips = geo
    missing = [ip for ip in ips if ip not in allowed]
    if not missing:
        return CheckResult("storage firewall", OK, f"{facts.storage_name}: all {len(ips)} SerialConsole IPs for "
                           f"{name} are allowed")
    rg = resource_group_of(facts.storage_account.get("id", ""))
    return CheckResult("storage firewall", FAIL,
                       f"{facts.storage_name} blocks {len(missing)} of the {len(ips)} SerialConsole IPs for {name}",
                       f"for ip in {' '.join(missing)}; do az storage account network-rule add -g {rg} "
                       f"--account-name {facts.storage_name} --ip-address $ip; done")


def check_shared_key(facts: Facts) -> CheckResult:
    if facts.storage_account is None:
        return CheckResult("shared key access", OK, "not applicable (managed storage)" if facts.storage_name is None
                           else "storage account not readable")
    if facts.storage_account.get("properties", {}).get("allowSharedKeyAccess") is False:
        return CheckResult("shared key access", FAIL, f"{facts.storage_name} disallows storage account key access, "
                           "which the serial console needs",
                           f"az storage account update -g {resource_group_of(facts.storage_account.get('id', ''))} -n "
                           f"{facts.storage_name} --allow-shared-key-access true")
    return CheckResult("shared key access", OK, "allowed")


def check_locks(facts: Facts) -> CheckResult:
    if facts.locks is None:
        return CheckResult("locks", WARN, "could not read the locks on the VM and its storage",
                           "az lock list --resource-group <the VM's resource group> -o table")
    read_only = [lock for lock in facts.locks if lock.get("properties", {}).get("level") == "ReadOnly"]
    if read_only:
        names = ", ".join(lock["name"] for lock in read_only)
        return CheckResult("locks", FAIL, f"read-only lock(s) {names}: the serial console cannot use the VM or "
                           "its storage", " && ".join(f"az lock delete --ids {lock['id']}" for lock in read_only))
    return CheckResult("locks", OK, "no read-only locks" if not facts.locks else "only delete locks")


def check_permission(facts: Facts) -> CheckResult:
    vm = facts.vm
    if facts.permissions is None:
        return CheckResult("permission", WARN, "could not read your permissions on the VM",
                           "ask for the Virtual Machine Contributor role on the VM")
    if holds(facts.permissions, CONNECT_ACTION):
        return CheckResult("permission", OK, f"you hold {CONNECT_ACTION}")
    # A role is assigned on a VM or a scale set (not on one instance of it).
    scope = (vm.scale_set or {}).get("id") if vm and vm.is_instance else (vm.resource_id if vm else None)
    return CheckResult("permission", FAIL, f"you lack {CONNECT_ACTION} on the VM",
                       f'az role assignment create --assignee {facts.caller} --role "Virtual Machine Contributor" '
                       f"--scope {scope or '<vm id>'}")


def holds(permissions: list[dict[str, Any]], action: str) -> bool:
    def matches(patterns: list[str]) -> bool:
        return any(re.fullmatch(re.escape(p).replace(r"\*", ".*"), action, re.I) for p in patterns)

    return any(matches(p.get("actions", [])) and not matches(p.get("notActions", [])) for p in permissions)


def check_password_user(vm: AzureVm) -> CheckResult:
    os_profile = vm.model.get("properties", {}).get("osProfile", {})
    if vm.is_windows:
        return CheckResult("password user", OK, "Windows: the administrator signs in with a password")
    linux = os_profile.get("linuxConfiguration", {})
    user = os_profile.get("adminUsername", "azureuser")
    if linux.get("disablePasswordAuthentication") is not True:
        return CheckResult("password user", OK, f"password sign-in allowed ({user})")
    fix = (f"az vm user update -g {vm.resource_group} -n {vm.name} -u {user} -p '<new password>'"
           if not vm.is_instance else "reset a password with the VMAccess extension (portal: Reset password)")
    access = access_extension(vm)
    if access and access.get("properties", {}).get("provisioningState") == "Succeeded":
        # The same extension resets SSH keys too, and its settings are protected: a warning at most.
        return CheckResult("password user", WARN, f"password sign-in is off for {user}; a user may have been set "
                           f"through the VM access extension ({access.get('name')}), with a password or only an "
                           "SSH key: Azure does not say", fix)
    return CheckResult("password user", WARN, f"password sign-in is off ({user} has SSH keys only); the console "
                       "needs a user with a password", fix)


VMACCESS = ("Microsoft.OSTCExtensions", "VMAccessForLinux")


def access_extension(vm: AzureVm) -> dict[str, Any] | None:
    """The VM's VMAccessForLinux extension (ARM lists a VM's extensions under `resources`), if it has one."""
    return next((r for r in vm.model.get("resources", []) if isinstance(r, dict) and
                 (r.get("properties", {}).get("publisher", "").lower(), r.get("properties", {}).get("type", "").lower())
                 == tuple(part.lower() for part in VMACCESS)), None)


def check_guest(vm: AzureVm) -> CheckResult:
    if vm.is_windows:
        return CheckResult("guest", WARN, "Windows: the console is SAC; SysRq is not available",
                           "at the SAC> prompt type `cmd`, then `ch -si 1`, and sign in")
    return CheckResult("guest", OK, "Linux")


def run_checks(facts: Facts) -> list[CheckResult]:
    rows = [check_console(facts)]
    vm = facts.vm
    if vm is None:
        return rows
    rows.append(CheckResult("vm", OK, f"{vm.label} in {vm.location}" + (" (scale-set instance)" if vm.is_instance
                                                                        else "")))
    rows += [check_power(vm), check_boot_diagnostics(vm), check_storage_firewall(facts), check_shared_key(facts),
             check_locks(facts), check_permission(facts), check_password_user(vm), check_guest(vm)]
    return rows


# Only these stop `connect`, `send` and the control commands: each is a definite blocker. The others
# are read from APIs the console itself may not need (a stale IP list, a PIM or conditional role, a
# service that no longer reads the storage account), so they warn and sercon goes on to the connect call.
BLOCKERS = frozenset({"console", "vm", "power", "boot diagnostics"})
INFORMATIONAL = frozenset({"guest"})


def gate(rows: list[CheckResult], vm: AzureVm | None = None) -> list[CheckResult]:
    """Raise on the first definite blocker (its fix: `sercon doctor --fix` first when that repairs it);
    return the rows to warn about before connecting."""
    for row in rows:
        if row.status == FAIL and row.name in BLOCKERS:
            raise PreconditionFailed(f"{row.name}: {row.found}", blocker_fix(row, vm))
    return [row for row in rows if row.status != OK and row.name not in INFORMATIONAL]


def blocker_fix(row: CheckResult, vm: AzureVm | None) -> str | None:
    """A blocker's fix: `sercon doctor ... --fix` (which asks first) where it repairs the row with an `az`
    command, that command after it; else the row's own fix."""
    if vm is None or not row.fix:
        return row.fix or None
    repairs = ((row.name == "power" and power_state(vm) in ("deallocated", "stopped")) or
               (row.name == "boot diagnostics" and not vm.is_instance))
    if not repairs:
        return row.fix
    target = f"{vm.name}/{vm.instance_id}" if vm.is_instance else vm.name
    return f"sercon doctor -g {vm.resource_group} {target} --fix   (or: {row.fix})"
