"""doctor --fix's run as a library call (azure/fix_run.py), with no click: against the emulator on
loopback, asked through a plain callable."""

from __future__ import annotations

from sercon.azure import fixes
from sercon.azure.client import arm_client
from sercon.azure.fix_run import FixHooks, FixRequest, run_fixes
from sercon.errors import ExitStatus
from sercon.targets import AzureTarget
from tests.azure.conftest import SUB, WORLD

TWO_REPAIRS = {"name": "two", "power": "deallocated", "boot_diagnostics": "off"}


def with_vm(vm: dict) -> dict:
    group = WORLD["subscriptions"][0]["resource_groups"]["prod-rg"]
    changed = {**group, "vms": [*group["vms"], vm]}
    first = {**WORLD["subscriptions"][0], "resource_groups": {**WORLD["subscriptions"][0]["resource_groups"],
                                                              "prod-rg": changed}}
    return {"subscriptions": [first, *WORLD["subscriptions"][1:]]}


def test_the_fix_run_makes_the_repairs_asked_for_and_not_the_declined_one(azure_with):
    azure = azure_with(**with_vm(TWO_REPAIRS))
    asked: list[str] = []
    ended: list[tuple[str, str]] = []
    checked = []

    def confirm(question: str) -> bool:
        asked.append(question)
        return "boot diagnostics" not in question  # the start yes, boot diagnostics no

    hooks = FixHooks(confirm=confirm, checked=checked.append, outcome=lambda o, why: ended.append((o.name, o.status)))
    run = run_fixes(arm_client(azure.env), AzureTarget("two", "prod-rg"), SUB, FixRequest(can_ask=False), hooks)

    assert len(asked) == 2 and len(checked) == 1
    assert ended == [("power", fixes.APPLIED), ("boot diagnostics", fixes.DECLINED)]
    assert run.rechecked and run.interrupted is None and run.error is None
    after = {row.name: row.status for row in run.after.rows}
    assert after["power"] == "ok" and after["boot diagnostics"] == "fail"
    assert run.exit_status == ExitStatus.PRECONDITION  # declined while its check fails
    vm = azure.vm("two")
    assert vm["power"] == "running" and vm["boot_diagnostics"] == "off"


def test_the_fix_run_with_nothing_to_ask_changes_nothing_on_a_healthy_vm(azure):
    def never(question: str) -> bool:
        raise AssertionError(f"asked: {question}")

    run = run_fixes(arm_client(azure.env), AzureTarget("web1", "prod-rg"), SUB, FixRequest(can_ask=False),
                    FixHooks(confirm=never))
    assert not run.rechecked and run.sent == [] and azure.writes() == []
    assert run.exit_status == ExitStatus.SUCCESS
