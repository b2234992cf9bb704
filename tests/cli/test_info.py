"""list, completion, help, and the start-up cost of the CLI."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from sercon.cli import cli
from tests.conftest import ROOT, SERCON, call_cli, cli_env, run_cli

HEAVY = ("msal", "prompt_toolkit", "websocket", "rich", "requests", "serial")


def test_help_imports_nothing_heavy():
    code = ("import sys; from sercon.cli import main; rc = main(['--help']); "
            f"print('HEAVY=' + ','.join(m for m in {HEAVY!r} if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=cli_env())
    assert "Usage: sercon" in result.stdout
    assert result.stdout.strip().endswith("HEAVY="), result.stdout[-200:]


def test_every_option_help_ends_with_a_period():
    def walk(command):
        yield command
        for sub in getattr(command, "commands", {}).values():
            yield from walk(sub)

    for command in walk(cli):
        for param in command.params:
            if getattr(param, "help", None):
                assert param.help.endswith("."), f"{command.name} {param.name}: {param.help!r}"


SUB = "00000000-0000-4000-8000-0000000000a1"
PROFILES = f"""default = "web"
[profiles.web]
resource_group = "prod-rg"
name = "web1"
subscription = "{SUB}"
timestamps = true
log = "/tmp/web1 console.log"
[profiles.board]
device = "/dev/ttyUSB0"
baud = 9600
reconnect = false
stopbits = 1.5
[profiles.inst]
resource_group = "rg"
name = "set1"
instance_id = "3"
[profiles.bare]
name = "vm7"
"""


def test_list_json_has_ports_and_profiles(tmp_path):
    config = tmp_path / "config.toml"
    config.write_text(PROFILES)
    result = call_cli("list", "--json", env=cli_env(SERCON_CONFIG=str(config)))
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert isinstance(data["ports"], list)
    profiles = {p["name"]: p for p in data["profiles"]}  # the profile's name, never the VM's
    assert profiles["web"] == {"name": "web", "default": True, "target": "prod-rg/web1", "config": {
        "resource_group": "prod-rg", "name": "web1", "subscription": SUB, "timestamps": True,
        "log": "/tmp/web1 console.log"}}
    assert profiles["board"] == {"name": "board", "default": False, "target": "/dev/ttyUSB0", "config": {
        "device": "/dev/ttyUSB0", "baud": 9600, "reconnect": False, "stopbits": 1.5}}
    assert profiles["inst"]["target"] == "rg/set1/3" and profiles["bare"]["target"] == "vm7"


def test_list_table_shows_targets_as_written_and_settings_in_the_config_files_words(tmp_path):
    config = tmp_path / "config.toml"
    config.write_text(PROFILES)
    # run_cli: rich takes the width from the process's own COLUMNS
    result = run_cli("list", env=cli_env(SERCON_CONFIG=str(config), COLUMNS="200"))
    assert result.returncode == 0, result.stderr
    rows = {line.split()[1]: line for line in result.stdout.decode().splitlines() if line.startswith("│ ")}
    assert "web (default)" in rows["web"] and f"prod-rg/web1 (subscription {SUB})" in rows["web"]
    assert "timestamps = true" in result.stdout.decode() and 'log = "/tmp/web1 console.log"' in result.stdout.decode()
    assert "/dev/ttyUSB0" in rows["board"] and "baud = 9600" in rows["board"]
    assert "rg/set1/3" in rows["inst"] and "vm7" in rows["bare"]
    for word in (b"True", b"False", b"timestamps=", b"resource_group"):
        assert word not in result.stdout, word


def test_bad_config_exits_2_with_the_path(tmp_path):
    config = tmp_path / "config.toml"
    config.write_text("[profiles.board]\nbaud = 'x'\n")
    result = call_cli("list", env=cli_env(SERCON_CONFIG=str(config)))
    assert result.returncode == 2
    assert str(config).encode() in result.stderr


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_checked_in_completions_match_the_cli(shell):
    result = call_cli("completion", shell)
    assert result.returncode == 0
    assert result.stdout.decode() == (ROOT / "completions" / f"sercon.{shell}").read_text(), (
        f"completions/sercon.{shell} is stale: run `sercon completion {shell} > completions/sercon.{shell}`")


def test_bash_completion_completes_commands():
    env = cli_env(_SERCON_COMPLETE="bash_complete", COMP_WORDS="sercon con", COMP_CWORD="1")
    result = subprocess.run(SERCON, capture_output=True, text=True, env=env)
    assert "connect" in result.stdout


def test_unknown_command_is_a_usage_error():
    result = call_cli("frobnicate")
    assert result.returncode == 2
    assert b"No such command" in result.stderr


LINE_OPTIONS = ("--baud", "--baud-exact", "--databits", "--parity", "--stopbits", "--flow")
# command -> (options its help must list, options it must not list)
HELP_OPTIONS = {
    "connect": (LINE_OPTIONS + ("--qmp", "--no-checks", "--identity", "--force", "-g,"), ()),
    "send": (LINE_OPTIONS + ("--qmp", "--no-checks", "--identity", "-t, --target"), ("--force",)),
    "sysrq": (LINE_OPTIONS + ("--qmp", "--no-checks", "--identity"), ("--force",)),
    "nmi": (("--qmp", "--no-checks", "--identity", "--yes", "-g,"), LINE_OPTIONS),
    "reset": (("--qmp", "--no-checks", "--identity", "--yes", "-g,"), LINE_OPTIONS),
    "doctor": (("--qmp", "--identity", "--json", "-g,"), LINE_OPTIONS + ("--no-checks",)),
    "log": (("--identity", "-g,", "--follow"), LINE_OPTIONS + ("--qmp", "--no-checks")),
    "enable": (("--subscription", "--identity"), LINE_OPTIONS + ("--qmp", "-g,")),
    "disable": (("--subscription", "--identity", "--yes"), LINE_OPTIONS + ("--qmp", "-g,")),
    "account": (("--subscription", "--identity"), LINE_OPTIONS + ("--qmp", "-g,")),
}


@pytest.mark.parametrize("command", sorted(HELP_OPTIONS))
def test_each_command_lists_only_the_options_it_uses(command):
    result = call_cli(command, "--help")
    assert result.returncode == 0, result.stderr
    text = result.stdout.decode()
    wanted, unwanted = HELP_OPTIONS[command]
    assert [o for o in wanted if o not in text] == [], text
    assert [o for o in unwanted if o in text] == [], text
