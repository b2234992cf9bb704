"""A closed pipe is not an error of sercon: it ends quietly, as Unix filters do."""

from __future__ import annotations

import subprocess
import threading

import pytest

from tests.conftest import SERCON, Terminal, cli_env


def test_a_closed_pipe_ends_quietly_with_141(device):
    stop = threading.Event()

    def stream() -> None:
        while not stop.is_set():
            device.write(b"0123456789abcdef" * 256 + b"\r\n")

    writer = threading.Thread(target=stream, daemon=True)
    writer.start()
    script = (f"{' '.join(SERCON)} send {device.path} '' --wait-idle 5 --timeout 20 | head -c 100 > /dev/null; "
              "echo \"status=${PIPESTATUS[0]}\" >&2")
    try:
        result = subprocess.run(["bash", "-c", script], capture_output=True, env=cli_env(), timeout=60)
    finally:
        stop.set()
    assert result.stderr.decode().strip() == "status=141", result.stderr  # nothing else on stderr


def test_closed_standard_streams_and_a_full_output_are_usage_errors():
    for redirect in ("<&-", ">&-"):
        result = subprocess.run(["bash", "-c", f"{' '.join(SERCON)} send loop:// hello {redirect}"],
                                capture_output=True, env=cli_env(), timeout=60)
        assert result.returncode == 2, (redirect, result.stderr)
        assert b"fix:" in result.stderr
    full = subprocess.run(["bash", "-c", f"{' '.join(SERCON)} send loop:// hello --expect hello > /dev/full"],
                          capture_output=True, env=cli_env(), timeout=60)
    assert full.returncode == 2 and b"No space left on device" in full.stderr


def test_a_non_ascii_escape_key_is_a_usage_error():
    result = subprocess.run([*SERCON, "connect", "loop://", "--escape", "ctrl-ß"], capture_output=True,
                            stdin=subprocess.DEVNULL, env=cli_env(), timeout=60)
    assert result.returncode == 2 and b"cannot use" in result.stderr


@pytest.mark.parametrize("command", [["nmi", "--qmp", "/nonexistent/qmp.sock"], ["reset", "--qmp", "/nonexistent/q"],
                                     ["rescue", "--qmp", "/nonexistent/qmp.sock"]])
def test_declining_the_question_exits_6_and_sends_nothing(device, command):
    """As a declined `doctor --fix`: the action needed a yes (docs/exit-codes.md keeps 1 for bugs)."""
    term = Terminal([command[0], device.path, *command[1:]], cols=160)
    try:
        term.wait_raw(rb"\[y/N\]", timeout=20)
        term.send("n\r")
        assert term.wait_exit(timeout=20) == 6
        assert b"nothing sent" in term.raw and b"Traceback" not in term.raw
    finally:
        term.close()
    assert bytes(device.buffer) == b""


@pytest.mark.parametrize("option, value, words", [
    ("--escape", "", b"none"),
    ("--escape", " ", b"none"),
    ("--log", "", b"--log"),
])
def test_an_empty_escape_key_or_log_path_is_refused_before_connecting(option, value, words):
    """An empty value is no value: refused (2), never quietly the default, no menu key or no log."""
    result = subprocess.run([*SERCON, "connect", "loop://", option, value], capture_output=True,
                            stdin=subprocess.DEVNULL, env=cli_env(), timeout=60)
    assert result.returncode == 2, result.stderr
    assert b"connected" not in result.stdout + result.stderr, result.stdout
    assert words in result.stderr.partition(b"fix:")[2], result.stderr


@pytest.mark.parametrize("line", ['paste_chunk = -5', 'log = "\\u0000"', 'device = "/dev/\\u0000"',
                                  'log_format = "xml"'])
def test_a_bad_profile_value_is_a_usage_error_naming_the_file(tmp_path, line):
    config = tmp_path / "config.toml"
    config.write_text(f'[profiles.board]\nurl = "loop://"\n{line}\n'.replace('url = "loop://"\ndevice', "device"))
    for command in (["connect", "board"], ["send", "board", "hi"]):
        result = subprocess.run([*SERCON, *command], capture_output=True, stdin=subprocess.DEVNULL,
                                env=cli_env(SERCON_CONFIG=str(config)), timeout=60)
        assert result.returncode == 2, (command, result.stderr)
        assert str(config).encode() in result.stderr and b"fix:" in result.stderr
