"""`sercon doctor --fix` against the emulated Azure: each repair end to end, what it changes in the
emulator's world (and nothing else), the questions on a real pty, the refusals, --json.
"""

from __future__ import annotations

import copy
import json
import signal

import pytest

from sercon.azure import fixes
from sercon.azure.doctor import Report
from sercon.checks import FAIL, OK, WARN, CheckResult
from tests.azure.conftest import EUROPE_IPS, READER, SUB, SUB_DISABLED, WORLD
from tests.conftest import Terminal
from tests.support.fix import fix, rows, spawn
from tests.support.waiting import wait_for


def test_a_deallocated_vm_is_started(azure):
    report, result = fix(azure, "-g", "prod-rg", "dealloc1")
    assert rows(report["before"])["power"]["status"] == "fail"
    assert report["fixes"] == [{"name": "power", "status": "applied", "detail": "VM prod-rg/dealloc1 started: running"}]
    assert rows(report["checks"])["power"] == {"name": "power", "status": "ok", "found": "running", "fix": ""}
    assert result.returncode == 0, result.stderr
    assert azure.vm("dealloc1")["power"] == "running"
    started = [w for w in azure.writes()]
    assert [(w["method"], w["url"].split("?")[0]) for w in started] == [
        ("POST", f"/subscriptions/{SUB}/resourceGroups/prod-rg/providers/Microsoft.Compute/virtualMachines/"
                 "dealloc1/start")]
    polls = [r for r in azure.requests if "/operations/" in r["url"]]
    assert len(polls) == 3  # InProgress, InProgress, Succeeded: the Azure-AsyncOperation URL, followed


def test_a_stopped_vm_is_started_too(azure):
    report, result = fix(azure, "-g", "prod-rg", "stopped1")
    assert [f["status"] for f in report["fixes"]] == ["applied"]
    assert azure.vm("stopped1")["power"] == "running" and result.returncode == 0


def test_a_scale_set_instance_is_started(azure):
    report, result = fix(azure, "-g", "prod-rg", "set1/1")
    assert report["fixes"][0]["status"] == "applied", report
    assert azure.emulator.world.subscription(SUB)["scale_sets"][0]["instances"][1]["power"] == "running"
    assert result.returncode == 0


def test_boot_diagnostics_are_turned_on_with_managed_storage(azure):
    report, result = fix(azure, "-g", "prod-rg", "nodiag")
    assert report["fixes"] == [{"name": "boot diagnostics", "status": "applied",
                                "detail": "boot diagnostics enabled on prod-rg/nodiag, with managed storage"}]
    assert rows(report["checks"])["boot diagnostics"]["found"] == "enabled, managed storage"
    vm = azure.vm("nodiag")
    assert vm["boot_diagnostics"] == "managed" and vm["storage_account"] is None
    assert [w["method"] for w in azure.writes()] == ["PATCH"]
    assert result.returncode == 0


def test_the_storage_firewall_gets_exactly_the_missing_service_ips(azure):
    account = azure.account("diagclosed")
    account["ip_rules"].append(EUROPE_IPS[3])  # one of the eight is there already
    before = dict(account)
    report, result = fix(azure, "-g", "prod-rg", "fw-closed")
    missing = [ip for ip in EUROPE_IPS if ip != EUROPE_IPS[3]]
    assert report["fixes"] == [{"name": "storage firewall", "status": "applied",
                                "detail": f"added {len(missing)} SerialConsole IPs for Europe to the firewall of "
                                          f"diagclosed: {', '.join(missing)}"}]
    after = azure.account("diagclosed")
    assert after["ip_rules"] == ["203.0.113.5", EUROPE_IPS[3], *missing]  # kept, then added: no IP twice
    assert after["default_action"] == "Deny"  # never opened to all networks
    assert {k: v for k, v in after.items() if k != "ip_rules"} == {k: v for k, v in before.items() if k != "ip_rules"}
    assert rows(report["checks"])["storage firewall"]["status"] == "ok"
    assert [w["method"] for w in azure.writes()] == ["PATCH"]
    assert result.returncode == 0


def test_the_console_is_enabled_for_the_subscription(azure):
    report, result = fix(azure, "vm2", "--subscription", SUB_DISABLED)
    assert report["fixes"][0] == {"name": "console", "status": "applied",
                                  "detail": f"serial console enabled for subscription {SUB_DISABLED}"}
    assert azure.emulator.world.subscription(SUB_DISABLED)["console_disabled"] is False
    assert rows(report["checks"])["console"]["status"] == "ok" and result.returncode == 0


def test_a_healthy_vm_needs_nothing(azure):
    report, result = fix(azure, "-g", "prod-rg", "web1")
    assert report["fixes"] == [] and azure.writes() == [] and result.returncode == 0
    assert report["checks"] == report["before"]


def test_a_missing_role_prints_the_command_for_an_owner_and_changes_nothing(azure):
    report, result = fix(azure, "-g", "prod-rg", "web1", AZURE_CLIENT_ID=READER,
                         AZURE_CLIENT_SECRET="reader-secret-value")
    scope = f"/subscriptions/{SUB}/resourceGroups/prod-rg/providers/Microsoft.Compute/virtualMachines/web1"
    command = f'az role assignment create --assignee oid-reader --role "Virtual Machine Contributor" --scope {scope}'
    assert report["fixes"] == [{"name": "permission", "status": "manual", "detail": command}]
    assert azure.writes() == []
    assert result.returncode == 6  # its check still fails, as for doctor: the role is for an owner to grant
    human = azure.cli("doctor", "--fix", "--yes", "-g", "prod-rg", "web1", input=b"", AZURE_CLIENT_ID=READER,
                      AZURE_CLIENT_SECRET="reader-secret-value")
    assert f"\n    {command}\n" in human.stdout.decode()  # whole, on its own line, to copy
    assert azure.writes() == []


def test_a_fix_that_azure_refuses_is_failed_and_the_exit_status_says_so(azure_with):
    azure = azure_with(faults=[{"match": "virtualMachines/nodiag$", "method": "PATCH", "status": 409,
                                "code": "OperationNotAllowed", "message": "The VM is busy."}])
    report, result = fix(azure, "-g", "prod-rg", "nodiag")
    assert report["fixes"][0]["status"] == "failed"
    assert "The VM is busy. (OperationNotAllowed, HTTP 409)" in report["fixes"][0]["detail"]
    assert azure.vm("nodiag")["boot_diagnostics"] == "off"
    assert result.returncode == 6


def test_a_read_only_lock_fails_the_start_with_arms_message(azure_with):
    azure = azure_with()
    azure.vm("lockedvm", SUB)["power"] = "deallocated"
    report, result = fix(azure, "-g", "locked-rg", "lockedvm")
    by_name = {f["name"]: f for f in report["fixes"]}
    assert by_name["power"]["status"] == "failed" and "ScopeLocked" in by_name["power"]["detail"]
    assert by_name["locks"]["status"] == "manual" and "az lock delete --ids" in by_name["locks"]["detail"]
    assert azure.vm("lockedvm")["power"] == "deallocated" and result.returncode == 6


def test_human_output_shows_the_fixes_then_the_new_state(azure):
    result = azure.cli("doctor", "--fix", "--yes", "-g", "prod-rg", "dealloc1", input=b"")
    text = result.stdout.decode()
    first, _, rest = text.partition("ok   fix power: applied: VM prod-rg/dealloc1 started: running\n")
    assert "FAIL power: VM deallocated" in first and rest, text
    assert rest.startswith("doctor: prod-rg/dealloc1, after the fixes\n") and "ok   power: running" in rest
    assert rest.rstrip().endswith("all 10 checks passed")
    assert result.returncode == 0


def test_without_a_terminal_and_without_yes_it_refuses_before_any_call(azure):
    result = azure.cli("doctor", "--fix", "-g", "prod-rg", "dealloc1", input=b"")
    assert result.returncode == 2
    assert b"sercon: error: doctor --fix asks before each repair" in result.stderr
    assert b"\n  fix: " in result.stderr and b"--yes" in result.stderr
    assert azure.requests == []


@pytest.mark.parametrize("args", [["--yes"], ["--user", "rescue"], ["--password-stdin"]])
def test_fix_options_need_fix(azure, args):
    result = azure.cli("doctor", *args, "-g", "prod-rg", "web1", input=b"")
    assert result.returncode == 2 and b"--fix" in result.stderr


def test_fix_is_for_azure_vms(azure, device):
    result = azure.cli("doctor", "--fix", "--yes", device.path, input=b"")
    assert result.returncode == 2 and b"Azure" in result.stderr


def decline(azure, vm: str, question: str) -> tuple[int, Terminal]:
    """doctor --fix on a terminal, answering n to *question*."""
    term = Terminal(["doctor", "--fix", "-g", "prod-rg", vm], env=azure.env, cols=160, rows=40)
    try:
        term.wait_text(question, timeout=20)
        term.send("n\r")
        return term.wait_exit(timeout=20), term
    finally:
        term.close()


def test_declining_on_a_terminal_changes_nothing(azure):
    status, term = decline(azure, "nodiag", "Enable boot diagnostics on prod-rg/nodiag, with managed storage? [y/N]")
    assert "fix boot diagnostics: declined: nothing changed" in term.text()
    assert status == 6
    assert azure.vm("nodiag")["boot_diagnostics"] == "off" and azure.writes() == []


def test_yes_on_a_terminal_shows_progress_until_the_vm_runs(azure_with):
    azure = azure_with(operations={"polls": 2, "retry_after": 1})
    term = Terminal(["doctor", "--fix", "-g", "prod-rg", "dealloc1"], env=azure.env, cols=120, rows=40)
    try:
        term.wait_text("Start VM prod-rg/dealloc1? [y/N]", timeout=20)
        term.send("y\r")
        term.wait_raw(rb"\rsercon: starting VM prod-rg/dealloc1: InProgress", timeout=20)
        status = term.wait_exit(timeout=30)
    finally:
        term.close()
    assert status == 0, term.text()
    assert "fix power: applied: VM prod-rg/dealloc1 started: running" in term.text()
    times = [r["time"] for r in azure.requests if "/operations/" in r["url"]]
    gaps = [later - earlier for earlier, later in zip(times, times[1:], strict=False)]
    assert len(times) == 3 and all(gap >= 0.9 for gap in gaps), times  # Retry-After: 1


def test_no_progress_line_when_stderr_is_not_a_terminal(azure_with):
    azure = azure_with(operations={"polls": 2, "retry_after": 1})
    report, result = fix(azure, "-g", "prod-rg", "dealloc1")
    assert report["fixes"][0]["status"] == "applied"
    assert b"InProgress" not in result.stderr and b"\r" not in result.stderr


def test_location_is_followed_when_there_is_no_async_operation_header(azure_with):
    azure = azure_with(operations={"polls": 2, "retry_after": 0, "headers": ["Location"]})
    report, result = fix(azure, "-g", "prod-rg", "dealloc1")
    assert report["fixes"][0]["status"] == "applied" and azure.vm("dealloc1")["power"] == "running"
    polls = [r["url"] for r in azure.requests if "/operations/" in r["url"]]
    assert len(polls) == 3 and all("monitor=true" in url for url in polls)


def with_vm(vm: dict, account: dict | None = None) -> dict:
    """The test world's subscriptions with one more VM in prod-rg (and a storage account in other-rg)."""
    subscriptions = copy.deepcopy(WORLD["subscriptions"])
    groups = subscriptions[0]["resource_groups"]
    groups["prod-rg"]["vms"].append(vm)
    if account is not None:
        groups["other-rg"]["storage_accounts"].append(account)
    return subscriptions


# -- the exit status tells whether what was asked for was done ---------------------------------------

def test_declining_a_repair_whose_check_still_fails_exits_6_even_if_connect_would_go_on(azure):
    status, term = decline(azure, "fw-closed", "firewall of storage account diagclosed (nothing else changes)? [y/N]")
    assert "fix storage firewall: declined" in term.text() and status == 6
    assert azure.writes() == []


@pytest.mark.parametrize("status, before, after, requested, expected", [
    (fixes.ACCEPTED, WARN, WARN, False, 3),  # sent, not confirmed, not visible yet: a timeout
    (fixes.ACCEPTED, FAIL, OK, False, 0),  # not confirmed, but done by the time doctor looked again
    (fixes.DECLINED, FAIL, FAIL, False, 6),
    (fixes.DECLINED, WARN, WARN, False, 0),  # a warning declined: as plain doctor, 0
    (fixes.FAILED, WARN, WARN, False, 6),
    (fixes.FAILED, OK, OK, False, 0),
    (fixes.FAILED, OK, OK, True, 6),  # --user asked for it, and it failed
    (fixes.APPLIED, FAIL, FAIL, False, 6),  # only part of it could be made
    (fixes.MANUAL, FAIL, FAIL, False, 6),  # someone else's to run, and still failing: as for doctor
    (fixes.MANUAL, WARN, WARN, False, 0),
    (fixes.ACCEPTED, FAIL, FAIL, False, 3),  # sent, not confirmed: its own failing check waits for Azure
])
def test_the_exit_status_after_the_repairs(status, before, after, requested, expected):
    outcome = fixes.Outcome("storage firewall", status, "detail", requested)
    report = Report([CheckResult("power", OK, "running"), CheckResult("storage firewall", after, "found")], None)
    assert fixes.exit_status(report, [outcome]) == expected


# -- writes Azure has not confirmed, and Ctrl-C after a write --------------------------------------

def test_a_start_azure_does_not_confirm_is_accepted_checked_again_and_exits_3(azure_with):
    azure = azure_with(faults=[{"match": "/operations/", "method": "GET", "status": 500, "count": -1,
                                "retry_after": 0}])
    report, result = fix(azure, "-g", "prod-rg", "dealloc1")
    assert [f["status"] for f in report["fixes"]] == ["accepted"], report["fixes"]
    assert "Azure has not confirmed it yet" in report["fixes"][0]["detail"]
    power = rows(report["checks"])["power"]  # doctor ran again: the VM is starting, no longer deallocated
    assert power["status"] == "warn" and "starting" in power["found"], power
    assert result.returncode == 3, result.stderr


@pytest.mark.parametrize("as_json", [True, False])
def test_ctrl_c_while_following_a_write_says_what_was_sent(azure_with, as_json):
    azure = azure_with(operations={"polls": 100, "retry_after": 1})
    child = spawn(azure, "doctor", "--fix", "--yes", *(["--json"] if as_json else []), "-g", "prod-rg", "dealloc1")
    try:
        wait_for(lambda: any("/operations/" in r["url"] for r in azure.requests))
        child.send_signal(signal.SIGINT)
        out, err = child.communicate(timeout=30)
    finally:
        child.kill()
    assert child.returncode == 130, err
    text = err.decode()
    assert "interrupted" in text and "start VM prod-rg/dealloc1" in text and "sercon doctor" in text, text
    assert "\n  fix: " in text
    if as_json:
        report = json.loads(out)
        assert report["interrupted"] is True and report["checks"] is None
        assert [(f["name"], f["status"]) for f in report["fixes"]] == [("power", "accepted")]
    else:
        assert "fix power: accepted" in out.decode()


# -- boot diagnostics: a custom storageUri left from before they were disabled -----------------------

def test_boot_diagnostics_left_with_an_old_storage_uri_are_turned_on_with_managed_storage(azure_with):
    azure = azure_with(subscriptions=with_vm({"name": "stale", "boot_diagnostics": "off",
                                              "storage_account": "diagclosed"}))
    term = Terminal(["doctor", "--fix", "-g", "prod-rg", "stale"], env=azure.env, cols=200, rows=40)
    try:
        term.wait_text("Enable boot diagnostics on prod-rg/stale, with managed storage (replacing its old custom "
                       "storage account diagclosed)? [y/N]", timeout=20)
        term.send("y\r")
        status = term.wait_exit(timeout=30)
    finally:
        term.close()
    assert "boot diagnostics enabled on prod-rg/stale, with managed storage" in term.text()
    vm = azure.vm("stale")
    assert vm["boot_diagnostics"] == "managed" and vm["storage_account"] is None
    assert status == 0, term.text()


# -- the storage firewall -----------------------------------------------------------------------------

def test_an_account_whose_default_action_is_allow_has_no_firewall_to_open(azure_with):
    azure = azure_with(subscriptions=with_vm(
        {"name": "fw-allow", "boot_diagnostics": "custom", "storage_account": "diagallow"},
        {"name": "diagallow", "default_action": "Allow", "ip_rules": ["203.0.113.5"]}))
    report, result = fix(azure, "-g", "prod-rg", "fw-allow")
    row = rows(report["before"])["storage firewall"]
    assert row["status"] == "ok" and "no firewall" in row["found"], row
    assert report["fixes"] == [] and azure.writes() == [] and result.returncode == 0


def test_with_yes_only_the_confirmed_ips_still_missing_are_added_and_the_difference_is_said(azure_with):
    """Between doctor's look and the write, someone removes one IP (never confirmed: not added) and
    adds another (no longer missing: not added twice)."""
    azure = azure_with(faults=[{"match": "storageAccounts/diagclosed$", "method": "GET", "delay": 3}])
    account = azure.account("diagclosed")
    account["ip_rules"] = ["203.0.113.5", EUROPE_IPS[0]]
    child = spawn(azure, "doctor", "--fix", "--yes", "--json", "-g", "prod-rg", "fw-closed")
    try:
        wait_for(lambda: any(r["url"].split("?")[0].endswith("/storageAccounts/diagclosed") for r in azure.requests))
        account["ip_rules"] = ["203.0.113.5", EUROPE_IPS[1]]  # while sercon reads it again
        out, err = child.communicate(timeout=60)
    finally:
        child.kill()
    report = json.loads(out)
    detail = report["fixes"][0]["detail"]
    assert report["fixes"][0]["status"] == "applied", report["fixes"]
    assert detail.startswith(f"added {len(EUROPE_IPS) - 2} SerialConsole IPs for Europe"), detail
    assert f"not added, as it was not confirmed: {EUROPE_IPS[0]}" in detail and EUROPE_IPS[1] in detail
    assert account["ip_rules"] == ["203.0.113.5", EUROPE_IPS[1], *EUROPE_IPS[2:]]
    assert rows(report["checks"])["storage firewall"]["status"] == "fail"
    assert child.returncode == 6, err


def test_on_a_terminal_a_firewall_that_changed_since_the_question_is_asked_about_again(azure):
    account = azure.account("diagclosed")
    account["ip_rules"] = ["203.0.113.5", EUROPE_IPS[0]]
    term = Terminal(["doctor", "--fix", "-g", "prod-rg", "fw-closed"], env=azure.env, cols=200, rows=40)
    try:
        term.wait_text(f"Add the {len(EUROPE_IPS) - 1} SerialConsole IPs for Europe", timeout=20)
        account["ip_rules"] = ["203.0.113.5"]
        term.send("y\r")
        term.wait_text(f"The firewall of diagclosed changed since: add the {len(EUROPE_IPS)} SerialConsole IPs",
                       timeout=20)
        term.send("y\r")
        status = term.wait_exit(timeout=30)
    finally:
        term.close()
    assert account["ip_rules"] == ["203.0.113.5", *EUROPE_IPS]
    assert status == 0, term.text()


# -- refusals before any call -------------------------------------------------------------------------

def test_fix_on_a_missing_device_is_not_found_as_for_doctor(azure):
    result = azure.cli("doctor", "--fix", "--yes", "/dev/sercon-no-such-device", input=b"")
    assert result.returncode == 4 and b"\n  fix: " in result.stderr, result.stderr
