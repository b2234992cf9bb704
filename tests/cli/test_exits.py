"""A closed pipe is not an error of sercon: it ends quietly, as Unix filters do."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import threading

import click
import pytest

from tests.conftest import SERCON, Terminal, cli_env, run_cli


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


@pytest.mark.parametrize("args", [["--bogus"], ["connect", "--bogus"], ["connect", "/nonexistent/ttyX"]])
def test_an_error_said_into_a_closed_pipe_ends_quietly_with_141(args):
    """`sercon ... 2>&1 | head -c0`: the reader is gone before the error is said (a usage error is click's)."""
    script = f"{' '.join(SERCON)} {' '.join(args)} 2>&1 | head -c0; echo \"status=${{PIPESTATUS[0]}}\" >&2"
    result = subprocess.run(["bash", "-c", script], capture_output=True, env=cli_env(), timeout=60)
    assert result.stderr.decode().strip() == "status=141", result.stderr


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


def qmp_answering(path: str, reply: bytes) -> None:
    """A QMP socket that greets, accepts the capabilities and answers the command with *reply*."""
    server = socket.socket(socket.AF_UNIX)
    server.bind(path)
    server.listen(4)

    def serve() -> None:
        with contextlib.suppress(OSError):
            conn, _ = server.accept()
            with conn, conn.makefile("rwb") as stream:
                stream.write(b'{"QMP": {"version": {}, "capabilities": []}}\n')
                stream.flush()
                for answer in (b'{"return": {}}\n', reply):
                    stream.readline()
                    stream.write(answer)
                    stream.flush()

    threading.Thread(target=serve, daemon=True).start()


def test_a_qmp_socket_that_is_wrong_is_the_user_s_error_not_a_bug(device, tmp_path):
    from tests.support.fake_hmp import fake_hmp

    hmp = str(tmp_path / "hmp.sock")
    fake_hmp(hmp)
    refusing = str(tmp_path / "qmp.sock")
    qmp_answering(refusing, b'{"error": {"class": "GenericError", "desc": "NMI not supported here"}}\n')
    for qmp, code, words in ((hmp, 2, b"-qmp unix:"), ("/etc/passwd", 2, b"-qmp unix:"),
                             (str(tmp_path / "none.sock"), 4, b"-qmp unix:"), (refusing, 6, b"NMI not supported")):
        result = run_cli("nmi", device.path, "--qmp", qmp, "--yes")
        assert result.returncode == code, (qmp, result.stderr)
        assert words in result.stderr and b"Traceback" not in result.stderr, result.stderr


def test_nmi_on_a_serial_line_says_where_an_nmi_comes_from(device):
    result = run_cli("nmi", device.path, "--yes")
    assert result.returncode == 6, result.stderr
    fix = result.stderr.partition(b"fix:")[2]
    assert b"--qmp SOCKET" in fix and b"button" in fix, result.stderr


@pytest.mark.parametrize("key, what", [("ctrl-m", b"Enter"), ("^J", b"Enter"), ("ctrl-[", b"Esc"), ("^I", b"Tab"),
                                       ("ctrl-h", b"Backspace")])
def test_an_escape_key_that_every_line_types_is_refused(key, what, tmp_path):
    """^M as the menu key would open the menu at every Enter: refused, on the command line and in a profile."""
    result = subprocess.run([*SERCON, "connect", "loop://", "--escape", key], capture_output=True,
                            stdin=subprocess.DEVNULL, env=cli_env(), timeout=60)
    assert result.returncode == 2 and what in result.stderr, result.stderr
    config = tmp_path / "config.toml"
    config.write_text(f'[profiles.board]\nurl = "loop://"\nescape = "{key}"\n')
    result = subprocess.run([*SERCON, "connect", "board"], capture_output=True, stdin=subprocess.DEVNULL,
                            env=cli_env(SERCON_CONFIG=str(config)), timeout=60)
    assert result.returncode == 2 and str(config).encode() in result.stderr, result.stderr


def every_option() -> list[tuple[str, click.Parameter]]:
    from sercon.cli import cli

    with click.Context(cli) as ctx:
        commands = {name: cli.get_command(ctx, name) for name in cli.list_commands(ctx)}
    found = []
    for name, command in commands.items():
        subcommands = getattr(command, "commands", {})
        for sub, member in [(name, command), *((f"{name} {k}", v) for k, v in subcommands.items())]:
            found += [(sub, param) for param in member.params]
    return found


def test_every_number_of_seconds_is_bounded_and_says_its_maximum():
    """No duration option takes 1e308 (or a float type without the bound): each says the most it takes."""
    from sercon.cli.options import Seconds
    from sercon.errors import UsageError

    durations = [(command, param) for command, param in every_option() if isinstance(param.type, Seconds)]
    assert len(durations) >= 5, durations  # send's --timeout and --wait-idle, sysrq/log --interval, rescue
    for command, param in every_option():
        assert not isinstance(param.type, (click.types.FloatParamType, click.FloatRange)), (command, param.name)
    for command, param in durations:
        with pytest.raises(UsageError) as info:
            param.type.convert("1e308", param, None)
        assert "604800" in info.value.hint and "1e+308" not in info.value.message, (command, info.value.message)
