"""What `sercon doctor --fix` repairs through ARM, and how: one repair per check that failed or warned.

`plan` turns doctor's report into repairs: those sercon makes (the console switch, a start, boot
diagnostics, the storage firewall's service IPs, a password user through the VM access extension) and
manual ones (a role, a lock...), whose command is for someone allowed to run it. `apply` makes one; the
CLI asks before each. Long-running ones are followed to their end (lro.py).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from sercon.azure import lro
from sercon.azure.arm import ArmClient, hide
from sercon.azure.checks import (
    BLOCKERS,
    VMACCESS,
    access_extension,
    allowed_ips,
    missing_service_ips,
    network_rules,
    power_state,
    storage_account_name,
)
from sercon.azure.doctor import Report, set_console
from sercon.azure.resolve import AzureVm
from sercon.checks import FAIL, OK, CheckResult
from sercon.errors import ExitStatus, SerconError, UsageError

APPLIED, DECLINED, FAILED, MANUAL = "applied", "declined", "failed", "manual"
ACCESS_EXTENSION = "enablevmaccess"  # the name the portal and `az vm user update` give it
ACCESS_VERSION = "1.5"
LINUX_USER = re.compile(r"[a-z_][a-z0-9_.-]{0,31}")
Progress = Callable[[str], None] | None


@dataclass(frozen=True)
class Repair:
    """One repair: made by sercon when it has an `action`, else `manual` is the command for someone else."""

    name: str  # the check's row
    action: str = ""  # console, start, boot, firewall, password
    question: str = ""  # asked before it is made
    manual: str = ""
    why: str = ""  # for a manual one: why sercon leaves it to someone else


@dataclass(frozen=True)
class Outcome:
    name: str
    status: str  # applied, declined, failed, manual
    detail: str


@dataclass(frozen=True)
class Credentials:
    """The console user to create or reset; the password is never printed, logged or put in an error."""

    user: str
    password: str = field(repr=False)


def plan(report: Report, subscription: str) -> list[Repair]:
    """The repairs for doctor's report, in the order of its rows (the VM starts before it gets a user)."""
    repairs = (_repair_for(row, report, subscription) for row in report.rows if row.status != OK)
    return [repair for repair in repairs if repair is not None]


def _repair_for(row: CheckResult, report: Report, subscription: str) -> Repair | None:
    vm = report.vm
    if row.name == "console":
        return Repair("console", "console", f"Enable the serial console for every VM of subscription {subscription}?")
    if vm is None or row.name in ("vm", "guest"):
        return None
    if row.name == "power":
        state = power_state(vm)
        return Repair("power", "start", f"Start VM {vm.label}?") if state in ("deallocated", "stopped") else None
    if row.name == "boot diagnostics" and not vm.is_instance:
        return Repair(row.name, "boot", f"Enable boot diagnostics on {vm.label}, with managed storage?")
    if row.name == "storage firewall" and row.status == FAIL and report.facts is not None:
        found = missing_service_ips(report.facts)
        if found and found[1]:
            return Repair(row.name, "firewall", f"Add the {len(found[1])} SerialConsole IPs for {found[0]} to the "
                          f"firewall of storage account {report.facts.storage_name} (nothing else changes)?")
    if row.name == "password user" and not vm.is_instance:
        return Repair(row.name, "password", f"Create or reset a console user with a password on {vm.label} through "
                      "the VM access extension (VMAccessForLinux: the user gets sudo rights)?")
    if row.name == "permission":
        return Repair(row.name, manual=row.fix, why="only an owner of the VM (or a User Access Administrator) can "
                      "grant a role: ask one to run")
    return Repair(row.name, manual=row.fix, why="sercon does not change this for you: run") if row.fix else None


def apply(arm: ArmClient, report: Report, subscription: str, repair: Repair, progress: Progress = None,
          credentials: Credentials | None = None) -> str:
    """Make one repair; what was done. Raises SerconError when Azure refuses it."""
    vm = report.vm
    if repair.action == "console":
        set_console(arm, subscription, enable=True)
        return f"serial console enabled for subscription {subscription}"
    if vm is None:  # pragma: no cover - plan() makes no VM repair without a VM
        raise SerconError(f"{repair.name}: no VM to repair")
    if repair.action == "start":
        return start_vm(arm, vm, progress)
    if repair.action == "boot":
        return enable_boot_diagnostics(arm, vm, progress)
    if repair.action == "firewall":
        return allow_service_ips(arm, report, progress)
    if repair.action == "password" and credentials is not None:
        return set_password_user(arm, vm, credentials, progress)
    raise SerconError(f"{repair.name}: nothing sercon can do here")  # pragma: no cover


def start_vm(arm: ArmClient, vm: AzureVm, progress: Progress = None) -> str:
    """POST .../start (a VM or a scale-set instance), followed until the VM runs."""
    reply = arm.send("POST", f"{vm.resource_id}/start", "compute")
    lro.wait(arm, reply, f"starting VM {vm.label}", progress)
    return f"VM {vm.label} started: running"


def enable_boot_diagnostics(arm: ArmClient, vm: AzureVm, progress: Progress = None) -> str:
    """A VM PATCH of bootDiagnostics {enabled: true} and no storageUri: managed storage, nothing to open."""
    body = {"properties": {"diagnosticsProfile": {"bootDiagnostics": {"enabled": True}}}}
    reply = arm.patch(vm.resource_id, "compute", body)
    lro.wait(arm, reply, f"enabling boot diagnostics on {vm.label}", progress)
    account = storage_account_name(vm)
    return f"boot diagnostics enabled on {vm.label}, " + (f"with storage account {account}" if account
                                                          else "with managed storage")


def allow_service_ips(arm: ArmClient, report: Report, progress: Progress = None) -> str:
    """Add exactly the missing SerialConsole IPs to the account's firewall, read afresh; every other rule and
    the default action stay as they are (the account is never opened to all networks)."""
    facts = report.facts
    if facts is None or facts.storage_account is None:  # pragma: no cover - plan() checked
        raise SerconError("storage firewall: the storage account could not be read")
    account = arm.get(facts.storage_account["id"], "storage")
    found = missing_service_ips(replace(facts, storage_account=account))
    if not found or not found[1]:
        return f"nothing to add: {facts.storage_name} allows the SerialConsole IPs now"
    geography, missing = found
    rules = network_rules(account)
    if rules.get("defaultAction") not in ("Allow", "Deny"):
        raise SerconError(f"storage firewall: the default action of {facts.storage_name} could not be read; "
                          "nothing was changed")
    acls = {**rules, "ipRules": [*({"value": ip, "action": "Allow"} for ip in allowed_ips(rules)),
                                 *({"value": ip, "action": "Allow"} for ip in missing)]}
    reply = arm.patch(account["id"], "storage", {"properties": {"networkAcls": acls}})
    lro.wait(arm, reply, f"updating the firewall of {facts.storage_name}", progress)
    return (f"added {len(missing)} SerialConsole IPs for {geography} to the firewall of {facts.storage_name}: "
            f"{', '.join(missing)}")


def set_password_user(arm: ArmClient, vm: AzureVm, credentials: Credentials, progress: Progress = None) -> str:
    """PUT the VM access extension with the user and password in its protectedSettings (which Azure never
    returns), and follow it until the guest has run it.

    Every error raised while the password is around is replaced by one that cannot carry it: ARM's
    message with the password blanked, and no chained exception (tracebacks print those).
    """
    existing = access_extension(vm)
    name = existing.get("name", ACCESS_EXTENSION) if existing else ACCESS_EXTENSION
    body = {"location": vm.model.get("location", vm.location), "properties": {
        "publisher": VMACCESS[0], "type": VMACCESS[1], "typeHandlerVersion": ACCESS_VERSION,
        "autoUpgradeMinorVersion": True, "settings": {},
        "protectedSettings": {"username": credentials.user, "password": credentials.password}}}
    secrets = (credentials.password,)
    what = f"setting user {credentials.user} on {vm.label}"
    try:
        reply = arm.send("PUT", f"{vm.resource_id}/extensions/{name}", "compute", body=body, secrets=secrets)
        lro.wait(arm, reply, what, progress, secrets=secrets)
    except SerconError as exc:
        raise _without(exc, secrets) from None
    except Exception as exc:  # whatever it is, its message might quote the request
        raise SerconError(f"{what}: failed ({type(exc).__name__})", "run again with --debug") from None
    finally:
        body.clear()
    return (f"user {credentials.user} set through the VM access extension ({name}): sign in at the console with "
            "the password you gave")


def _without(exc: SerconError, secrets: tuple[str, ...]) -> SerconError:
    clean = SerconError(hide(exc.message, secrets), hide(exc.hint, secrets) if exc.hint else None)
    clean.exit_status = exc.exit_status
    return clean


def check_user_name(name: str) -> str:
    """A Linux user name VMAccessForLinux can create (checked before any call)."""
    if not LINUX_USER.fullmatch(name):
        raise UsageError(f"{name!r} is not a valid console user name",
                         "a Linux user name: lower-case letters, digits, '_', '-' and '.', starting with a letter "
                         "or '_', at most 32")
    return name


def check_password(password: str) -> str:
    """A password a console login can take; the error never quotes it."""
    if not password:
        raise UsageError("the password is empty", "give the console user a password")
    if any(ord(c) < 32 or ord(c) == 127 for c in password):
        raise UsageError("the password holds control characters (a tab, a newline...), which a console login "
                         "cannot take", "give one line of printable characters")
    return password


def exit_status(report: Report) -> ExitStatus:
    """After the fixes: 0 when no definite blocker fails (the rows `connect` stops on), else doctor's own."""
    if report.error is not None:
        return report.error.exit_status
    if any(row.status == FAIL and row.name in BLOCKERS for row in report.rows):
        return ExitStatus.PRECONDITION
    return ExitStatus.SUCCESS


def outcomes_json(outcomes: list[Outcome]) -> list[dict[str, Any]]:
    return [{"name": o.name, "status": o.status, "detail": o.detail} for o in outcomes]
