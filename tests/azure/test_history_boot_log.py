"""`sercon history --boot-log` against the emulator: the boot diagnostics log in front of the journal,
the seam not doubled; and no Azure call at all without --boot-log."""

from __future__ import annotations

import json

from sercon.journal.store import JournalWriter
from tests.conftest import call_cli


def test_boot_log_comes_first_without_duplicating_the_seam(azure, tmp_path):
    env = {**azure.env, "XDG_STATE_HOME": str(tmp_path / "state")}
    writer = JournalWriter.open("prod-rg/web1", kind="connect", environ=env)
    writer.output(b"web1 login: root\r\nPassword: \r\n# ")
    writer.close()
    result = call_cli("history", "-g", "prod-rg", "web1", "--boot-log", "--raw", env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout == b"boot line 1\r\nboot line 2\r\nweb1 login: root\r\nPassword: \r\n# "
    text = call_cli("history", "-g", "prod-rg", "web1", "--boot-log", env=env).stdout.decode()
    assert text.count("login:") == 1 and text.index("boot line 2") < text.index("web1 login: root")
    as_json = call_cli("history", "-g", "prod-rg", "web1", "--boot-log", "--json", env=env).stdout.decode()
    assert [json.loads(line)["type"] for line in as_json.splitlines()][:2] == ["boot-log", "boot-log"]


def test_boot_log_alone_when_there_is_no_journal_yet(azure, tmp_path):
    env = {**azure.env, "XDG_STATE_HOME": str(tmp_path / "state")}
    result = call_cli("history", "-g", "prod-rg", "web1", "--boot-log", "--raw", env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout == b"boot line 1\r\nboot line 2\r\nweb1 login: "


def test_history_makes_no_azure_call_without_boot_log(azure, tmp_path):
    env = {**azure.env, "XDG_STATE_HOME": str(tmp_path / "state")}
    before = len(azure.requests)
    assert call_cli("history", "-g", "prod-rg", "web1", env=env).returncode == 4
    assert len(azure.requests) == before
