"""How sercon names a VM to the user: as they know it (rg/vm, set/3), never by its resource ID; and a
name that is not there gets the close names of its resource group, said once."""

from __future__ import annotations

import json
import subprocess

from tests.conftest import SERCON, Terminal
from tests.support.azure_session import log_in


def test_one_shots_through_a_running_connect_name_the_vm_as_the_user_knows_it(azure, tmp_path):
    env = {**azure.env, "XDG_RUNTIME_DIR": str(tmp_path)}
    term = Terminal(["connect", "-g", "prod-rg", "web1"], env=env, cols=200, rows=30)
    try:
        term.connected()
        log_in(term)
        for command in (["sysrq", "h"], ["nmi", "--yes"], ["reset", "--yes"]):
            result = subprocess.run([*SERCON, *command, "-g", "prod-rg", "web1"], capture_output=True, env=env,
                                    timeout=60)
            text = result.stderr.decode()
            assert result.returncode == 0, text
            assert "/subscriptions/" not in text, text
            assert "prod-rg/web1 (through the running sercon connect)" in text, text
    finally:
        term.close()


def test_a_missing_vm_gets_the_close_names_of_its_resource_group_said_once(azure):
    result = azure.cli("doctor", "-g", "prod-rg", "web2")
    assert result.returncode == 4
    out, err = result.stdout.decode(), result.stderr.decode()
    assert (out + err).count("was not found") == 1, out + err  # on stderr, not in the table too
    assert "ok   console: enabled" in out and "vm:" not in out and "failed" not in out, out
    assert "\n  fix: did you mean `-g prod-rg web1`?" in err, err


def test_a_missing_vm_without_a_group_gets_close_names_from_the_subscription(azure):
    report = json.loads(azure.cli("doctor", "--json", "web2").stdout)
    row = {r["name"]: r for r in report["checks"]}["vm"]
    assert "did you mean `-g prod-rg web1`?" in row["fix"], row


def test_a_one_shot_on_a_missing_vm_suggests_too(azure):
    result = azure.cli("nmi", "--yes", "-g", "prod-rg", "webl")
    assert result.returncode == 4
    assert "\n  fix: did you mean `-g prod-rg web1`?" in result.stderr.decode(), result.stderr


def test_no_close_name_no_guess(azure):
    result = azure.cli("doctor", "--json", "-g", "prod-rg", "zzzzzzzz")
    row = {r["name"]: r for r in json.loads(result.stdout)["checks"]}["vm"]
    assert "did you mean" not in row["fix"] and result.returncode == 4, row
