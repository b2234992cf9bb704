"""Each command's module is imported when that command runs (issue 12: `sercon connect` reaches the
console sooner); listing the commands, for help or completion, still shows every one of them."""

from __future__ import annotations

import json
import re
import subprocess
import sys

from tests.conftest import ROOT, cli_env


def fresh(code: str) -> str:
    """Run *code* in a new interpreter (nothing imported yet) and return what it printed."""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=cli_env(), check=True)
    return result.stdout


def test_the_table_names_exactly_the_commands_each_module_defines():
    table = json.loads(fresh("import json; from sercon.cli import cli; print(json.dumps(cli.lazy))"))
    defining = {path.stem for path in (ROOT / "sercon" / "cli").glob("*.py")
                if re.search(r"^COMMANDS = ", path.read_text(), re.MULTILINE)}
    assert set(table.values()) == defining, "a module with COMMANDS is missing from _register (or one is extra)"
    for module in defining:
        names = json.loads(fresh(f"import json; from sercon.cli import {module}; "
                                 f"print(json.dumps([c.name for c in {module}.COMMANDS]))"))
        assert sorted(names) == sorted(n for n, m in table.items() if m == module), module


def test_a_command_imports_its_own_module_only():
    code = ("import sys; from sercon.cli import main; main(['connect', '--help']); "
            "print('LOADED=' + ','.join(sorted(m for m in sys.modules if m.startswith('sercon.cli.'))))")
    loaded = fresh(code).rsplit("LOADED=", 1)[1].strip().split(",")
    assert "sercon.cli.session_commands" in loaded
    others = {"azure_commands", "account_commands", "demo", "emulator_command", "info", "rescue_command"}
    assert not others & {m.rsplit(".", 1)[1] for m in loaded}, loaded


def test_listing_the_commands_shows_all_of_them():
    listed = json.loads(fresh("import json, click; from sercon.cli import cli; "
                              "print(json.dumps(cli.list_commands(click.Context(cli))))"))
    table = json.loads(fresh("import json; from sercon.cli import cli; print(json.dumps(cli.lazy))"))
    assert listed == sorted(table)
    helped = fresh("from sercon.cli import main; main(['--help'])")
    assert all(re.search(rf"^  {name}\b", helped, re.MULTILINE) for name in table), helped


def test_an_unknown_command_still_gets_suggestions():
    result = subprocess.run([sys.executable, "-m", "sercon", "conect"], capture_output=True, text=True,
                            env=cli_env())
    assert result.returncode == 2
    assert "connect" in result.stderr


def test_help_imports_no_command_module_and_shows_each_real_summary():
    """Issue 18: `sercon --help` lists the commands from the registry; its summaries are the commands' own."""
    code = ("import sys; from sercon.cli import main; main(['--help']); "
            "print('SIGNAL=' + str('signal' in sys.modules)); "
            "print('LOADED=' + ','.join(sorted(m for m in sys.modules if m.startswith('sercon.cli.'))))")
    helped, loaded = fresh(code).rsplit("LOADED=", 1)
    assert "SIGNAL=False" in helped  # the C module `_signal` installs the handlers: no enums built (2-4 ms)
    modules = {m.rsplit(".", 1)[1] for m in loaded.strip().split(",")}
    assert not modules & set(json.loads(fresh("import json; from sercon.cli import cli; "
                                              "print(json.dumps(sorted(set(cli.lazy.values()))))"))), modules
    real = json.loads(fresh(
        "import json, click; from sercon.cli import cli\n"
        "ctx = click.Context(cli)\n"
        "summaries = dict(cli.summaries)\n"
        "print(json.dumps({n: [summaries[n], cli.get_command(ctx, n).get_short_help_str(10000)]"
        " for n in sorted(summaries)}))"))
    for name, (registered, own) in real.items():
        assert registered == own, f"the registry's summary of {name} differs from its docstring's"
        assert re.search(rf"^  {name}\s+{re.escape(registered[:20])}", helped, re.MULTILINE), name


def test_help_is_as_wide_as_the_environment_given_says_without_loading_shutil():
    """Issue 18: the help's width comes from the run's own environment (COLUMNS, else the terminal of
    its stdout, else 80) as click would compute it, not from the process's; and click's own way to it
    (shutil, ~3 ms) is not loaded."""
    from tests.conftest import call_cli, cli_env

    for columns in ("60", "200"):
        ours = call_cli("--help", env=cli_env(COLUMNS=columns)).stdout.decode()
        clicks = subprocess.run([sys.executable, "-c", "import click\nfrom sercon.cli import cli\n"
                                 "cli.main(['--help'], prog_name='sercon', obj=None)"],
                                capture_output=True, text=True, env=cli_env(COLUMNS=columns)).stdout
        assert ours == clicks, columns  # the width click itself takes from the process (shutil)
    assert call_cli("--help", env=cli_env(COLUMNS="60")).stdout != call_cli("--help", env=cli_env(COLUMNS="200")).stdout
    code = ("import sys; from sercon.cli import main; main(['--help']); "
            "print('SHUTIL=' + str('shutil' in sys.modules))")
    assert "SHUTIL=False" in fresh(code)
