"""`sercon doctor --fix` for a VM without a password user: the VM access extension creates one, then a
real login at the emulated VM's console works with it; the password is never printed, logged, put in an
error, a URL or a command line.
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path

import pytest

from tests.azure.conftest import SUB
from tests.conftest import Terminal
from tests.support.azure_session import log_in, run
from tests.support.fix import fix, rows


def new_password() -> str:
    return "Rescue-" + secrets.token_urlsafe(12) + "-9"


def command_lines() -> list[bytes]:
    """The command line of every process this user can see."""
    lines = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            lines.append(Path(f"/proc/{pid}/cmdline").read_bytes())
        except OSError:
            continue
    return lines


def test_password_stdin_creates_a_user_that_can_log_in(azure, tmp_path):
    password = new_password()
    result = azure.cli("--debug", "doctor", "--fix", "--yes", "--json", "--user", "rescue", "--password-stdin",
                       "-g", "prod-rg", "keysonly", input=password.encode() + b"\n")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["fixes"] == [{"name": "password user", "status": "applied",
                                "detail": "user rescue set through the VM access extension (enablevmaccess): sign "
                                          "in at the console with the password you gave"}]
    row = {r["name"]: r for r in report["checks"]}["password user"]
    assert row["status"] == "warn" and "VM access extension" in row["found"]
    assert password.encode() not in result.stdout + result.stderr
    assert b"GET " in result.stderr  # --debug did trace the calls
    puts = [r for r in azure.writes() if r["method"] == "PUT"]
    assert [r["url"].split("?")[0] for r in puts] == [
        f"/subscriptions/{SUB}/resourceGroups/prod-rg/providers/Microsoft.Compute/virtualMachines/keysonly/"
        "extensions/enablevmaccess"]
    assert password not in json.dumps(azure.requests)

    log = tmp_path / "console.log"
    term = Terminal(["connect", "-g", "prod-rg", "keysonly", "--log", str(log)], env=azure.env, cols=120, rows=30)
    try:
        term.connected()
        log_in(term, "rescue", password)
        run(term, "echo who=$USER", r"who=rescue")
        assert not any(password.encode() in line for line in command_lines())  # on a pipe, never in argv
        term.send(b"\x1dq")
        assert term.wait_exit() == 0
    finally:
        term.close()
    assert password.encode() not in bytes(term.raw)  # the login prompt does not echo it
    assert password.encode() not in log.read_bytes() and b"who=rescue" in log.read_bytes()


def fix_at_the_prompts(azure, password: str, refused: str | None = None) -> tuple[int, Terminal]:
    """doctor --fix on a terminal: y, the user name (first *refused*, which must be asked again), the
    password twice."""
    term = Terminal(["doctor", "--fix", "-g", "prod-rg", "keysonly"], env=azure.env, cols=160, rows=40)
    try:
        term.wait_text("through the VM access extension", timeout=20)
        term.wait_text("[y/N]")
        term.send("y\r")
        term.wait_text("Console user name [azureuser]:")
        if refused:
            term.send(refused + "\r")
            term.wait_text(f"{refused} is a system account")
        term.send("rescue\r")
        term.wait_raw(rb"Password for rescue: ")
        term.send(password + "\r")
        term.wait_raw(rb"Repeat for confirmation: ")
        term.send(password + "\r")
        return term.wait_exit(timeout=30), term
    finally:
        term.close()


def test_prompts_on_a_terminal_hide_the_password(azure):
    password = new_password()
    status, term = fix_at_the_prompts(azure, password)
    assert status == 0, term.text()
    assert password.encode() not in bytes(term.raw)
    assert "fix password user: applied" in term.text()
    assert azure.vm("keysonly")["access_users"] == {"rescue": password}


def test_an_error_that_quotes_the_password_never_shows_it(azure_with):
    password = new_password()
    azure = azure_with(faults=[{"match": "extensions/enablevmaccess$", "method": "PUT", "status": 400,
                                "code": "InvalidParameter", "message": f"password '{password}' is not allowed"}])
    result = azure.cli("--debug", "doctor", "--fix", "--yes", "--json", "--user", "rescue", "--password-stdin",
                       "-g", "prod-rg", "keysonly", input=password.encode())
    report = json.loads(result.stdout)
    assert report["fixes"][0]["status"] == "failed"
    assert "<redacted>" in report["fixes"][0]["detail"] and "InvalidParameter" in report["fixes"][0]["detail"]
    assert password.encode() not in result.stdout + result.stderr
    assert "access_users" not in azure.vm("keysonly") or azure.vm("keysonly")["access_users"] == {}


def test_password_stdin_without_a_user_is_refused_before_any_call(azure):
    result = azure.cli("doctor", "--fix", "--yes", "--json", "--password-stdin", "-g", "prod-rg", "keysonly",
                       input=b"Some-Password-1")
    assert result.returncode == 2 and b"--password-stdin needs --user" in result.stderr, result.stderr
    assert b"\n  fix: " in result.stderr and azure.requests == []


def test_a_user_without_a_password_and_without_a_terminal_is_refused_before_any_call(azure):
    result = azure.cli("doctor", "--fix", "--yes", "--user", "dave", "-g", "prod-rg", "keysonly", input=b"")
    assert result.returncode == 2 and b"--password-stdin" in result.stderr, result.stderr
    assert b"\n  fix: " in result.stderr and azure.requests == []


def test_without_a_user_or_a_terminal_the_password_repair_is_left_as_a_command(azure):
    report, result = fix(azure, "-g", "prod-rg", "keysonly")
    assert [(f["name"], f["status"]) for f in report["fixes"]] == [("password user", "manual")]
    assert "--user NAME --password-stdin -g prod-rg keysonly" in report["fixes"][0]["detail"]
    assert azure.writes() == [] and result.returncode == 0


def test_a_password_repair_azure_fails_exits_6(azure):
    report, result = fix(azure, "--user", "rescue", "--password-stdin", "-g", "prod-rg", "keysonly",
                         input=b"x" * 300 + b"\n")  # the emulated extension takes 256 bytes at most
    assert [f["status"] for f in report["fixes"]] == ["failed"]
    assert result.returncode == 6


def test_a_succeeded_access_extension_is_a_warning_and_a_password_can_still_be_set(azure):
    """The extension also resets SSH keys: that it once succeeded says nothing of a password user."""
    first, result = fix(azure, "--user", "bob", "--password-stdin", "-g", "prod-rg", "keysonly",
                        input=b"Bob-pw-12345\n")
    assert result.returncode == 0 and first["fixes"][0]["status"] == "applied"
    row = rows(first["checks"])["password user"]
    assert row["status"] == "warn" and "user bob was set through the VM access extension" in row["found"]
    later = json.loads(azure.cli("doctor", "--json", "-g", "prod-rg", "keysonly").stdout)  # a later doctor
    row = rows(later["checks"])["password user"]
    assert row["status"] == "warn" and "a user may have been set through the VM access extension" in row["found"]
    second, result = fix(azure, "--user", "carol", "--password-stdin", "-g", "prod-rg", "keysonly",
                         input=b"Carol-pw-12345\n")
    assert [(f["name"], f["status"]) for f in second["fixes"]] == [("password user", "applied")]
    assert azure.vm("keysonly")["access_users"] == {"bob": "Bob-pw-12345", "carol": "Carol-pw-12345"}
    assert result.returncode == 0


def test_a_user_on_the_command_line_is_set_even_when_password_sign_in_is_allowed(azure):
    report, result = fix(azure, "--user", "rescue", "--password-stdin", "-g", "prod-rg", "web1",
                         input=b"Rescue-pw-12345\n")
    assert [(f["name"], f["status"]) for f in report["fixes"]] == [("password user", "applied")]
    assert azure.vm("web1")["access_users"] == {"rescue": "Rescue-pw-12345"} and result.returncode == 0


@pytest.mark.parametrize("vm, why", [("win1", b"Windows"), ("set1/0", b"scale-set instance")])
def test_a_user_for_a_vm_that_cannot_take_one_is_a_usage_error(azure, vm, why):
    result = azure.cli("doctor", "--fix", "--yes", "--user", "rescue", "--password-stdin", "-g", "prod-rg", vm,
                       input=b"Rescue-pw-12345\n")
    assert result.returncode == 2 and why in result.stderr and b"\n  fix: " in result.stderr, result.stderr
    assert azure.writes() == []


@pytest.mark.parametrize("data", [b"\xff\xfepw-1234\n", "pw-\u0085-1234\n".encode(), b"pw-\x1b-1234\n",
                                  b"pw-\x7f-1234"])
def test_a_password_on_stdin_must_be_utf8_text_without_control_characters(azure, data):
    result = azure.cli("doctor", "--fix", "--yes", "--user", "rescue", "--password-stdin", "-g", "prod-rg",
                       "keysonly", input=data)
    assert result.returncode == 2 and b"\n  fix: " in result.stderr, result.stderr
    assert b"pw-" not in result.stderr and azure.requests == []


@pytest.mark.parametrize("name", ["root", "daemon", "bin", "sys", "nobody", "sshd", "www-data", "systemd-network"])
def test_root_and_system_users_are_refused_before_any_call(azure, name):
    result = azure.cli("doctor", "--fix", "--yes", "--user", name, "--password-stdin", "-g", "prod-rg", "keysonly",
                       input=b"Some-Password-1")
    assert result.returncode == 2 and b"\n  fix: " in result.stderr, result.stderr
    assert azure.requests == []


def test_a_system_user_typed_at_the_prompt_is_asked_again(azure):
    password = new_password()
    status, term = fix_at_the_prompts(azure, password, refused="root")
    assert status == 0, term.text()
    assert azure.vm("keysonly")["access_users"] == {"rescue": password}


def test_an_empty_password_on_stdin_is_a_usage_error_before_any_call(azure):
    result = azure.cli("doctor", "--fix", "--yes", "--user", "rescue", "--password-stdin", "-g", "prod-rg",
                       "keysonly", input=b"\n")
    assert result.returncode == 2 and b"empty" in result.stderr
    assert azure.requests == []


def test_a_bad_user_name_is_a_usage_error_before_any_call(azure):
    result = azure.cli("doctor", "--fix", "--yes", "--user", "Bad User", "--password-stdin", "-g", "prod-rg",
                       "keysonly", input=b"Some-Password-1")
    assert result.returncode == 2 and b"user name" in result.stderr
    assert azure.requests == []
