"""What `sercon doctor --fix` says after its repairs: the password user it set (which Azure cannot
confirm), a manual repair that still fails (exit 6), and the repair `connect` names for a blocker."""

from __future__ import annotations

import pytest

from tests.support.fix import fix, rows


def test_after_setting_a_password_user_the_row_says_who_was_set_and_that_azure_cannot_confirm_it(azure):
    before, _ = fix(azure, "-g", "prod-rg", "keysonly")  # no --user, no terminal: printed, not made
    warned = rows(before["checks"])["password user"]
    report, result = fix(azure, "--user", "rescue", "--password-stdin", "-g", "prod-rg", "keysonly",
                         input=b"Rescue-Pw-1234\n")
    assert result.returncode == 0, result.stderr
    row = rows(report["checks"])["password user"]
    assert row["found"] != warned["found"] and row["fix"] != warned["fix"], row
    assert "user rescue was set through the VM access extension (enablevmaccess)" in row["found"], row
    assert "Azure cannot confirm" in row["found"], row
    assert row["fix"] == "sign in at the console as rescue to check: sercon connect -g prod-rg keysonly", row
    assert "az vm user update" not in row["fix"]


def test_the_human_output_after_the_fix_shows_the_same(azure):
    result = azure.cli("doctor", "--fix", "--yes", "--user", "rescue", "--password-stdin", "-g", "prod-rg",
                       "keysonly", input=b"Rescue-Pw-1234\n")
    text = result.stdout.decode()
    after = text[text.index("after the fixes"):]
    assert "user rescue was set through the VM access extension" in after, after
    assert "az vm user update" not in after, after
    assert result.returncode == 0, result.stderr


def test_a_check_that_still_fails_after_the_fix_exits_6_even_when_its_repair_is_manual(azure):
    """The read-only lock is for someone else to remove: printed, not made, and it still fails."""
    report, result = fix(azure, "-g", "locked-rg", "lockedvm")
    assert [(f["name"], f["status"]) for f in report["fixes"]] == [("locks", "manual")], report["fixes"]
    assert rows(report["checks"])["locks"]["status"] == "fail"
    assert result.returncode == 6, result.stderr


@pytest.mark.parametrize("vm, az", [("dealloc1", "az vm start -g prod-rg -n dealloc1"),
                                    ("nodiag", "az vm boot-diagnostics enable -g prod-rg -n nodiag")])
def test_a_blocker_connect_stops_on_names_doctor_fix_first(azure, vm, az):
    result = azure.cli("send", "-g", "prod-rg", vm, "", "--timeout", "5")
    assert result.returncode == 6, result.stderr
    fix_line = result.stderr.decode().split("\n  fix: ", 1)[1]
    assert fix_line.startswith(f"sercon doctor -g prod-rg {vm} --fix"), fix_line
    assert az in fix_line, fix_line


def test_a_blocker_doctor_fix_cannot_repair_keeps_its_own_fix(azure):
    """A scale set's boot diagnostics change its model: --fix leaves that to the user."""
    result = azure.cli("send", "-g", "prod-rg", "setnodiag/0", "", "--timeout", "5")
    assert result.returncode == 6, result.stderr
    fix_line = result.stderr.decode().split("\n  fix: ", 1)[1]
    assert fix_line.startswith("az vmss update"), fix_line
