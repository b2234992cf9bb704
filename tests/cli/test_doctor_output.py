"""`sercon doctor`'s human output: one line per check, and every fix whole on a line of its own, at any
width and when piped, so it can be copied (read in real ptys with pyte, against the emulated Azure)."""

from __future__ import annotations

import json
import re

import pytest

from tests.azure.conftest import azure, azure_with  # noqa: F401 - the emulated Azure
from tests.conftest import run_cli

VMS = ("fw-closed", "nodiag", "keysonly")  # long fixes: a shell loop over 8 IPs, az commands
INDENT = "    "
ESCAPE = re.compile(rb"\x1b\[")


def fixes(world, vm: str) -> dict[str, dict]:
    """The rows that carry a fix, as --json gives them (the same text the human output must show whole)."""
    result = world.cli("doctor", "--json", "-g", "prod-rg", vm)
    return {row["name"]: row for row in json.loads(result.stdout)["checks"] if row["fix"]}


def run_in_terminal(terminal, world, vm: str, cols: int, **env: str):
    term = terminal("doctor", "-g", "prod-rg", vm, env={**world.env, **env}, cols=cols, rows=120)
    status = term.wait_exit(timeout=30)
    return term, status


def shows_whole_line(term, cols: int, line: str) -> bool:
    """*line* starts a screen row and runs on, row after full row, to its end, with nothing after it on
    its last row: printed as one line that the terminal wrapped (nothing inserted, nothing cut), so
    selecting it copies it whole."""
    rows = [row.ljust(cols) for row in term.screen.display]
    last = (len(line) - 1) // cols
    for index, row in enumerate(rows):
        if row.startswith(line[:cols]):
            joined = "".join(rows[index:index + last + 1])
            if joined.startswith(line) and not joined[len(line):].strip():
                return True
    return False


@pytest.mark.parametrize("cols", [80, 40])
def test_every_fix_is_one_whole_line_in_a_terminal(azure, terminal, cols):  # noqa: F811
    for vm in VMS:
        expected = fixes(azure, vm)
        assert expected, vm
        term, status = run_in_terminal(terminal, azure, vm, cols)
        text = term.text()
        assert status == (6 if any(r["status"] == "fail" for r in expected.values()) else 0), text
        for row in expected.values():
            assert shows_whole_line(term, cols, INDENT + row["fix"]), f"{vm} {row['name']} at {cols}:\n{text}"
            mark = "✗" if row["status"] == "fail" else "!"
            assert shows_whole_line(term, cols, f"{mark} {row['name']}: {row['found']}"), text
        assert "…" not in text and "┃" not in text and "│" not in text  # no table, nothing cut


def test_piped_output_has_words_and_whole_fix_lines(azure):  # noqa: F811
    for vm in VMS:
        result = azure.cli("doctor", "-g", "prod-rg", vm)
        lines = result.stdout.decode().splitlines()
        for row in fixes(azure, vm).values():
            word = "FAIL" if row["status"] == "fail" else "warn"
            at = lines.index(f"{word} {row['name']}: {row['found']}")
            assert lines[at + 1] == INDENT + row["fix"]
        assert "ok   console: enabled for the subscription" in lines
        assert not ESCAPE.search(result.stdout) and "✓" not in result.stdout.decode()
        assert result.stderr == b""  # no spinner, no progress: stderr is no terminal


def test_healthy_vm_says_so(azure):  # noqa: F811
    result = azure.cli("doctor", "-g", "prod-rg", "web1")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.decode().splitlines()
    assert lines[0] == "doctor: prod-rg/web1"
    assert lines[-1] == "all 10 checks passed"
    assert all(line.startswith("ok   ") for line in lines[1:-1]), lines


def test_marks_and_colour_on_a_utf8_terminal(azure, terminal):  # noqa: F811
    term, status = run_in_terminal(terminal, azure, "nodiag", 80, LANG="C.UTF-8", LC_ALL="")
    assert status == 6
    text = term.text()
    assert "✓ console: enabled for the subscription" in text and "✗ boot diagnostics: " in text
    assert "1 failed" in text
    assert ESCAPE.search(term.raw)  # coloured marks


def test_plain_words_on_a_terminal_that_is_not_utf8(azure, terminal):  # noqa: F811
    term, _ = run_in_terminal(terminal, azure, "nodiag", 80, LANG="C", LC_ALL="C", LC_CTYPE="")
    text = term.text()
    assert "FAIL boot diagnostics: " in text and "ok   console: " in text
    assert not re.search("[✓✗]", text)


@pytest.mark.parametrize("env", [{"NO_COLOR": "1"}, {"TERM": "dumb"}])
def test_no_colour_and_no_animation(azure_with, terminal, env):  # noqa: F811
    world = azure_with(faults=[{"match": "permissions$", "delay": 0.6, "count": -1}])
    term, status = run_in_terminal(terminal, world, "nodiag", 80, **env)
    assert status == 6
    assert not ESCAPE.search(term.raw), bytes(term.raw)
    assert term.raw.count(b"checking prod-rg/nodiag") == 1 and b"\r\x1b" not in term.raw  # one still line
    assert shows_whole_line(term, 80, INDENT + "az vm boot-diagnostics enable -g prod-rg -n nodiag")


def test_spinner_while_the_azure_checks_run(azure_with, terminal):  # noqa: F811
    world = azure_with(faults=[{"match": "permissions$", "delay": 1.0, "count": -1}])
    term = terminal("doctor", "-g", "prod-rg", "web1", env=world.env, cols=80, rows=40)
    term.wait_text("checking prod-rg/web1")
    assert term.wait_exit(timeout=30) == 0
    assert len(set(re.findall(rb"\r(\S+) checking prod-rg/web1", term.raw))) > 1  # it turned
    assert "checking" not in term.text()  # and was wiped before the results
    assert "all 10 checks passed" in term.text()


def test_local_device_output(device):
    result = run_cli("doctor", device.path)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.decode().splitlines()
    assert lines[0] == f"doctor: {device.path}"
    assert f"ok   device: {device.path} exists" in lines
