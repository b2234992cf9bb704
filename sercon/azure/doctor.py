"""Gathering what the checks need, concurrently, so a healthy VM is diagnosed in well under a second."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sercon.azure import background
from sercon.azure.arm import ArmClient
from sercon.azure.auth import token_claims
from sercon.azure.checks import Facts, run_checks, storage_account_name
from sercon.azure.resolve import AzureVm, check_names, resolve_vm
from sercon.checks import FAIL, CheckResult
from sercon.errors import SerconError
from sercon.targets import AzureTarget


@dataclass
class Report:
    rows: list[CheckResult]
    vm: AzureVm | None
    error: SerconError | None = None  # resolution failed: the VM row says so, this is the exit status
    facts: Facts | None = None  # what the rows were made from (the fixes need it)


def console_path(subscription: str) -> str:
    return f"/subscriptions/{subscription}/providers/Microsoft.SerialConsole/consoleServices/default"


def console_disabled(arm: ArmClient, subscription: str) -> bool:
    body = arm.get(console_path(subscription), "serialconsole")
    # As the official client does: anything but an explicit properties.disabled == false counts as disabled.
    return not (isinstance(body.get("properties"), dict) and body["properties"].get("disabled") is False)


def set_console(arm: ArmClient, subscription: str, enable: bool) -> bool:
    """Turn the subscription's serial console on or off; True when it is disabled afterwards."""
    body = arm.post(console_path(subscription) + ("/enableConsole" if enable else "/disableConsole"), "serialconsole")
    return bool(body.get("properties", body).get("disabled"))


def diagnose(arm: ArmClient, target: AzureTarget, subscription: str, vm: AzureVm | None = None,
             known_console: bool | None = None) -> Report:
    """All the checks; *vm* and the console's state (*known_console*: disabled or not) when the caller
    has read them already (no ARM call is made twice)."""
    check_names(target, subscription)
    facts = Facts()
    with background.tasks() as pool:
        console = pool.submit(lambda: known_console) if known_console is not None else \
            pool.submit(console_disabled, arm, subscription)
        caller = pool.submit(lambda: token_claims(arm.credential.get_token(arm.scope).token).get("oid"))
        try:
            facts.vm = vm or resolve_vm(arm, target, subscription)
        except SerconError as exc:
            facts.console_disabled = console.result()
            rows = run_checks(facts) + [CheckResult("vm", FAIL, exc.message, exc.hint or "")]
            return Report(rows, None, exc, facts)
        vm = facts.vm
        facts.storage_name = storage_account_name(vm)
        storage = pool.submit(_find_storage, arm, subscription, facts.storage_name) if facts.storage_name else None
        locks = pool.submit(_locks, arm, vm.resource_id)
        permissions = pool.submit(_permissions, arm, vm.resource_id)
        facts.console_disabled = console.result()
        facts.caller = caller.result() or facts.caller
        facts.storage_account = storage.result() if storage else None
        facts.locks = locks.result()
        facts.permissions = permissions.result()
        if facts.storage_account is not None and facts.locks is not None:
            both = facts.locks + (_locks(arm, facts.storage_account["id"]) or [])
            facts.locks = list({lock["id"].lower(): lock for lock in both}.values())
    return Report(run_checks(facts), vm, facts=facts)


def _find_storage(arm: ArmClient, subscription: str, name: str) -> dict[str, Any] | None:
    """The account may live in any resource group: look it up across the subscription."""
    try:
        return next((a for a in arm.list(f"/subscriptions/{subscription}/providers/Microsoft.Storage/"
                                         "storageAccounts", "storage") if a["name"].lower() == name), None)
    except SerconError:
        return None


def _locks(arm: ArmClient, scope: str) -> list[dict[str, Any]] | None:
    try:
        return list(arm.list(f"{scope}/providers/Microsoft.Authorization/locks", "locks"))
    except SerconError:
        return None


def _permissions(arm: ArmClient, scope: str) -> list[dict[str, Any]] | None:
    try:
        return list(arm.list(f"{scope}/providers/Microsoft.Authorization/permissions", "permissions"))
    except SerconError:
        return None
