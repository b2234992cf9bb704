"""The ARM writes of `sercon doctor --fix`, one function per repair (fixes.py plans them and says how
each ended): start a VM, turn boot diagnostics on with managed storage, add the missing SerialConsole
IPs to a storage firewall, set a console user through the VM access extension.

Each one writes down in *sent* what it is about to send before it sends it, so that an interrupted
run can say what Azure may still be doing. Long-running ones are followed to their end (lro.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace

from sercon.azure import lro
from sercon.azure.arm import ArmClient, ChangedMeanwhile, hide
from sercon.azure.checks import (
    VMACCESS,
    Facts,
    access_extension,
    account_of,
    allowed_ips,
    missing_service_ips,
    network_rules,
)
from sercon.azure.doctor import Report
from sercon.azure.resolve import AzureVm
from sercon.errors import SerconError

ACCESS_EXTENSION = "enablevmaccess"  # the name the portal and `az vm user update` give it
ACCESS_VERSION = "1.5"
Progress = Callable[[str], None] | None
Confirm = Callable[[str], bool] | None  # asks the user again; None: --yes, nothing more is asked


class Declined(Exception):
    """The user said no when asked again (the storage firewall changed after the first question)."""


@dataclass(frozen=True)
class Credentials:
    """The console user to create or reset; the password is never printed, logged or put in an error."""

    user: str
    password: str = field(repr=False)


def start_vm(arm: ArmClient, vm: AzureVm, sent: list[str], progress: Progress = None) -> str:
    """POST .../start (a VM or a scale-set instance), followed until the VM runs."""
    sent.append(f"start VM {vm.label}")
    reply = arm.send("POST", f"{vm.resource_id}/start", "compute")
    lro.wait(arm, reply, f"starting VM {vm.label}", progress)
    return f"VM {vm.label} started: running"


def enable_boot_diagnostics(arm: ArmClient, vm: AzureVm, sent: list[str], progress: Progress = None) -> str:
    """A VM PATCH of bootDiagnostics {enabled: true, storageUri: null}: managed storage, nothing to open.

    A PATCH merges, and ARM keeps a custom storageUri after boot diagnostics are turned off: without
    the explicit null, turning them on again would write to that old account (behind its firewall)."""
    body = {"properties": {"diagnosticsProfile": {"bootDiagnostics": {"enabled": True, "storageUri": None}}}}
    sent.append(f"enable boot diagnostics on {vm.label}")
    reply = arm.patch(vm.resource_id, "compute", body)
    lro.wait(arm, reply, f"enabling boot diagnostics on {vm.label}", progress)
    profile = reply.body.get("properties", {}).get("diagnosticsProfile", {}) if isinstance(reply.body, dict) else {}
    account = account_of((profile.get("bootDiagnostics") or {}).get("storageUri"))
    return f"boot diagnostics enabled on {vm.label}, " + (f"but Azure kept storage account {account}" if account
                                                          else "with managed storage")


def allow_service_ips(arm: ArmClient, report: Report, confirmed: tuple[str, ...], sent: list[str],
                      progress: Progress = None, confirm: Confirm = None) -> str:
    """Add the missing SerialConsole IPs to the account's firewall, read afresh; every other rule and the
    default action stay as they are (the account is never opened to all networks).

    Only the IPs the user *confirmed* are added. When more are missing by now, *confirm* asks again (on
    a terminal); with --yes (no *confirm*) they are left out, and the answer says which.

    The rule set is written whole, so it is written If-Match the ETag of the read: a rule another client
    added in between is not lost. On a 412 the account is read and the write planned again, once."""
    facts = report.facts
    if facts is None or facts.storage_account is None:  # pragma: no cover - plan() checked
        raise SerconError("storage firewall: the storage account could not be read")
    name, account_id = facts.storage_name, facts.storage_account["id"]
    for again in (True, False):
        read = arm.send("GET", account_id, "storage")
        if not isinstance(read.body, dict):
            raise SerconError(f"storage firewall: the answer for {name} could not be read; nothing was changed")
        planned = _firewall_plan(replace(facts, storage_account=read.body), confirmed, confirm)
        if isinstance(planned, str):
            return planned
        etag = lro.header(read, "ETag")
        sent.append(f"add {len(planned.adding)} IPs to the firewall of storage account {name}")
        try:
            reply = arm.patch(account_id, "storage", {"properties": {"networkAcls": planned.acls}},
                              {"If-Match": etag} if etag else None)
        except ChangedMeanwhile:
            if again:
                continue
            raise SerconError(f"storage firewall: the firewall of {name} changed while sercon wrote it, twice; "
                              "sercon's write was refused each time and changed nothing",
                              "run `sercon doctor --fix` again") from None
        lro.wait(arm, reply, f"updating the firewall of {name}", progress)
        return (f"added {len(planned.adding)} SerialConsole IPs for {planned.geography} to the firewall of {name}: "
                f"{', '.join(planned.adding)}{planned.notes}")
    raise AssertionError("unreachable")  # pragma: no cover


@dataclass(frozen=True)
class _FirewallPlan:
    geography: str
    adding: list[str]
    acls: dict
    notes: str


def _firewall_plan(facts: Facts, confirmed: tuple[str, ...], confirm: Confirm) -> _FirewallPlan | str:
    """The rule set to write from the account as just read, or what to answer when nothing is to be added."""
    name, account = facts.storage_name, facts.storage_account or {}
    found = missing_service_ips(facts)
    if not found or not found[1]:
        return f"nothing to add: {name} allows the SerialConsole IPs now"
    geography, missing = found
    unconfirmed = [ip for ip in missing if ip not in confirmed]
    if unconfirmed and confirm is not None:
        if not confirm(f"The firewall of {name} changed since: add the {len(missing)} SerialConsole IPs for "
                       f"{geography} (nothing else changes)?"):
            raise Declined
        unconfirmed = []
    adding = [ip for ip in missing if ip not in unconfirmed]
    notes = _firewall_notes([ip for ip in confirmed if ip not in missing], unconfirmed)
    if not adding:
        return f"nothing added to the firewall of {name}" + notes
    rules = network_rules(account)
    if rules.get("defaultAction") not in ("Allow", "Deny"):
        raise SerconError(f"storage firewall: the default action of {name} could not be read; nothing was changed")
    acls = {**rules, "ipRules": [*({"value": ip, "action": "Allow"} for ip in allowed_ips(rules)),
                                 *({"value": ip, "action": "Allow"} for ip in adding)]}
    return _FirewallPlan(geography, adding, acls, notes)


def _firewall_notes(there: list[str], unconfirmed: list[str]) -> str:
    """What changed between the question and the write, said after the repair's own line."""
    notes = [f"allowed by someone else meanwhile: {', '.join(there)}"] if there else []
    if unconfirmed:
        were = "it was" if len(unconfirmed) == 1 else "they were"
        notes.append(f"missing since the question, and not added, as {were} not confirmed: "
                     f"{', '.join(unconfirmed)} (run `sercon doctor --fix` again)")
    return "".join(f"; {note}" for note in notes)


def set_password_user(arm: ArmClient, vm: AzureVm, credentials: Credentials, sent: list[str],
                      progress: Progress = None) -> str:
    """PUT the VM access extension with the user and password in its protectedSettings (which Azure never
    returns), and follow it until the guest has run it.

    Every error raised while the password is around is replaced by one that cannot carry it: ARM's
    message with the password blanked, and no chained exception (tracebacks print those).
    """
    name = access_extension_name(vm)
    body = {"location": vm.model.get("location", vm.location), "properties": {
        "publisher": VMACCESS[0], "type": VMACCESS[1], "typeHandlerVersion": ACCESS_VERSION,
        "autoUpgradeMinorVersion": True, "settings": {},
        "protectedSettings": {"username": credentials.user, "password": credentials.password}}}
    secrets = (credentials.password,)
    what = f"setting user {credentials.user} on {vm.label}"
    try:
        sent.append(f"set user {credentials.user} on {vm.label} through the VM access extension")
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


def access_extension_name(vm: AzureVm) -> str:
    """The VM's own VMAccessForLinux extension's name (a VM takes one per handler), else the portal's."""
    existing = access_extension(vm)
    return existing.get("name", ACCESS_EXTENSION) if existing else ACCESS_EXTENSION


def _without(exc: SerconError, secrets: tuple[str, ...]) -> SerconError:
    """The same error (its class, so an Unconfirmed one stays so), with every secret blanked."""
    clean = exc.__class__.__new__(exc.__class__)
    clean.__dict__.update(exc.__dict__)
    clean.message = hide(exc.message, secrets)
    clean.hint = hide(exc.hint, secrets) if exc.hint else None
    clean.args = (clean.message,)
    return clean
