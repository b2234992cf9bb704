"""`sercon doctor` against the emulator: every row in its ok, warn and fail states."""

from __future__ import annotations

import json

import pytest

from tests.azure.conftest import EUROPE_IPS, SUB_DISABLED


def rows(result) -> dict[str, dict]:
    assert result.stdout, result.stderr
    return {row["name"]: row for row in json.loads(result.stdout)["checks"]}


def doctor(azure, *args, **env):
    return azure.cli("doctor", "--json", *args, **env)


def test_healthy_vm_passes_every_check(azure):
    result = doctor(azure, "-g", "prod-rg", "web1")
    assert result.returncode == 0, result.stderr
    checks = rows(result)
    assert set(checks) == {"console", "vm", "power", "boot diagnostics", "storage firewall", "shared key access",
                           "locks", "permission", "password user", "guest"}
    assert all(row["status"] == "ok" for row in checks.values()), checks


@pytest.mark.parametrize("vm, check, status, found, fix", [
    ("dealloc1", "power", "fail", "deallocated", "az vm start -g prod-rg -n dealloc1"),
    ("stopped1", "power", "warn", "stopped", "az vm start -g prod-rg -n stopped1"),
    ("nodiag", "boot diagnostics", "fail", "off", "az vm boot-diagnostics enable -g prod-rg -n nodiag"),
    ("fw-closed", "storage firewall", "fail", "blocks 8 of the 8 SerialConsole IPs for Europe",
     "az storage account network-rule add -g other-rg --account-name diagclosed"),
    ("fw-nogeo", "storage firewall", "warn", "no service IPs for region italynorth", "single-region"),
    ("nokey", "shared key access", "fail", "disallows storage account key access",
     "az storage account update -g other-rg -n diagnokey --allow-shared-key-access true"),
    ("keysonly", "password user", "warn", "SSH keys only", "az vm user update -g prod-rg -n keysonly"),
    ("win1", "guest", "warn", "SAC", "ch -si 1"),
])
def test_problem_rows(azure, vm, check, status, found, fix):
    result = doctor(azure, "-g", "prod-rg", vm)
    row = rows(result)[check]
    assert row["status"] == status and found in row["found"] and fix in row["fix"], row
    assert result.returncode == (6 if status == "fail" else 0)


def test_firewall_fix_names_exactly_the_missing_ips(azure):
    row = rows(doctor(azure, "-g", "prod-rg", "fw-closed"))["storage firewall"]
    assert all(ip in row["fix"] for ip in EUROPE_IPS)
    assert "203.0.113.5" not in row["fix"]


def test_firewall_with_the_service_ips_allowed(azure):
    row = rows(doctor(azure, "-g", "prod-rg", "fw-ok"))["storage firewall"]
    assert row["status"] == "ok" and "all 8 SerialConsole IPs for Europe" in row["found"]
    assert rows(doctor(azure, "-g", "prod-rg", "fw-open"))["storage firewall"]["status"] == "ok"


def test_read_only_lock(azure):
    result = doctor(azure, "-g", "locked-rg", "lockedvm")
    row = rows(result)["locks"]
    assert row["status"] == "fail" and "freeze" in row["found"] and "az lock delete --ids" in row["fix"]
    assert result.returncode == 6


def test_missing_connect_permission(azure):
    from tests.azure.conftest import READER

    result = doctor(azure, "-g", "prod-rg", "web1", AZURE_CLIENT_ID=READER, AZURE_CLIENT_SECRET="reader-secret-value")
    row = rows(result)["permission"]
    assert row["status"] == "fail" and "serialPorts/connect/action" in row["found"]
    assert "oid-reader" in row["fix"] and "Virtual Machine Contributor" in row["fix"]


def test_disabled_console(azure):
    result = doctor(azure, "vm2", "--subscription", SUB_DISABLED)
    assert rows(result)["console"] == {"name": "console", "status": "fail",
                                       "found": "serial console is disabled for the subscription",
                                       "fix": "sercon enable   (needs write access to the subscription)"}
    assert result.returncode == 6


def test_scale_set_instances(azure):
    ok = rows(doctor(azure, "-g", "prod-rg", "set1/0"))
    assert ok["boot diagnostics"]["status"] == "ok" and ok["power"]["status"] == "ok"
    gone = doctor(azure, "-g", "prod-rg", "set1", "--instance-id", "1")
    assert rows(gone)["power"]["fix"] == "az vmss start -g prod-rg -n set1 --instance-ids 1"
    off = rows(doctor(azure, "-g", "prod-rg", "setnodiag/0"))["boot diagnostics"]
    assert off["status"] == "fail" and "az vmss update-instances" in off["fix"]


def test_missing_vm_is_a_row_and_exit_4(azure):
    result = doctor(azure, "-g", "prod-rg", "nosuchvm")
    assert result.returncode == 4
    assert rows(result)["vm"]["status"] == "fail"


def test_human_output_has_the_fix_under_the_failed_check(azure):
    result = azure.cli("doctor", "-g", "prod-rg", "dealloc1")
    assert result.returncode == 6
    text = result.stdout.decode()
    assert ("FAIL power: VM deallocated: the serial console needs a running VM\n"
            "    az vm start -g prod-rg -n dealloc1\n") in text


def test_checks_run_concurrently(azure_with):
    slow = [{"match": pattern, "delay": 0.5, "count": -1} for pattern in
            ("consoleServices", "storageAccounts$", "locks$", "permissions$")]
    azure = azure_with(faults=slow)
    result = doctor(azure, "-g", "prod-rg", "fw-open")
    assert result.returncode == 0, result.stderr
    starts = {}
    for request in azure.requests:
        for key in ("consoleServices", "storageAccounts?", "/locks?", "/permissions?"):
            if key in request["url"]:
                starts.setdefault(key, request["time"])
    assert len(starts) == 4, azure.requests
    # each of these waits 0.5 s in the emulator: one after the other they would start 0.5 s apart or more
    assert max(starts.values()) - min(starts.values()) < 0.45, starts


def test_local_device_doctor(device):
    from tests.conftest import run_cli

    result = run_cli("doctor", "--json", device.path)
    assert result.returncode == 0
    checks = {r["name"]: r for r in json.loads(result.stdout)["checks"]}
    assert {name: row["status"] for name, row in checks.items()} == {
        "device": "ok", "permission": "ok", "lock": "ok", "break": "warn"}
    assert "pseudo-terminal" in checks["break"]["found"] and "--qmp SOCKET" in checks["break"]["fix"]


def test_missing_device_exits_4_as_connect_does():
    from tests.conftest import run_cli

    missing = run_cli("doctor", "--json", "/dev/ttyNOPE7")
    assert missing.returncode == 4
    assert json.loads(missing.stdout)["checks"][0]["status"] == "fail"
    assert b"/dev/ttyNOPE7: no such device" in missing.stderr
    assert run_cli("connect", "/dev/ttyNOPE7").returncode == 4


def test_break_row_for_urls_and_qmp(tmp_path):
    from tests.conftest import run_cli

    def break_row(*args):
        result = run_cli("doctor", "--json", *args)
        return {r["name"]: r for r in json.loads(result.stdout)["checks"]}["break"]

    assert break_row("telnet://127.0.0.1:1")["status"] == "ok"
    assert break_row("socket://127.0.0.1:1")["status"] == "warn"
    qmp = break_row("socket://127.0.0.1:1", "--qmp", str(tmp_path / "qmp.sock"))
    assert qmp["status"] == "ok" and "QMP" in qmp["found"]


@pytest.mark.parametrize("group", ["uucp", "dialout"])
def test_permission_fix_names_the_device_group(device, group):
    import grp
    import os

    from sercon.transport.serial import permission_fix

    if os.geteuid() != 0:
        pytest.skip("SKIPPED LOUDLY: only root can give the pty another group")
    os.chown(device.path, -1, grp.getgrnam(group).gr_gid)
    os.chmod(device.path, 0o660)
    assert permission_fix(device.path) == f"sudo usermod -aG {group} $USER   (then log in again)"


def test_permission_fix_when_no_group_may_open_it(tmp_path):
    """A UART only its owner may open: a udev rule lets a group use it (a node with ttyS0's numbers)."""
    import os
    import stat

    from sercon.transport.serial import permission_fix

    if os.geteuid() != 0:
        pytest.skip("SKIPPED LOUDLY: only root can make a device node")
    node = tmp_path / "ttyUSB7"
    os.mknod(node, 0o600 | stat.S_IFCHR, os.makedev(4, 64))
    fix = permission_fix(str(node))
    assert "usermod" not in fix and "udev rule" in fix and 'KERNEL=="ttyUSB7"' in fix and 'MODE="0660"' in fix


def test_permission_fix_for_a_pseudo_terminal_names_no_udev_rule(device):
    """udev never sees a pty (KERNEL=="32" would match nothing): the program that made it owns it."""
    import os

    from sercon.transport.serial import permission_fix

    os.chmod(device.path, 0o600)
    fix = permission_fix(device.path)
    assert "udev" not in fix and "KERNEL" not in fix and "pseudo-terminal" in fix, fix
