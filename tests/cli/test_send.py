"""`sercon send` in pipelines, against a real shell behind a pseudo-terminal serial line."""

from __future__ import annotations

import os
import signal
import subprocess
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sercon_emulator.ptyconsole import PtyConsole
from tests.azure.conftest import azure, azure_with  # noqa: F401 - the emulated Azure, for `send -n`
from tests.conftest import SERCON, Terminal, cli_env, run_cli

UNANSWERED_UPGRADE = {"match": "/sessions/[^/]+/client$", "method": "GET", "delay": 3600, "count": -1}


@pytest.fixture
def shell_console():
    env = {"PATH": "/usr/bin:/bin", "PS1": "$ ", "HOME": "/tmp", "TERM": "dumb"}
    with PtyConsole(["/bin/sh", "-i"], env=env) as console:
        yield console.device_path


@pytest.fixture
def bash_console():
    """bash with readline, as on most VMs: it echoes what is typed and switches bracketed paste on and off."""
    env = {"PATH": "/usr/bin:/bin", "PS1": "$ ", "HOME": "/tmp", "TERM": "xterm"}
    with PtyConsole(["/bin/bash", "--norc", "--noprofile", "-i"], env=env) as console:
        yield console.device_path


def test_expect_matches_the_answer_not_the_echo_of_the_command(bash_console):
    started = time.monotonic()
    result = run_cli("send", bash_console, "sleep 1; echo done", "--expect", "done")
    assert result.returncode == 0, result.stderr
    assert time.monotonic() - started > 1  # it waited for the command's answer
    assert result.stdout.endswith(b"sleep 1; echo done\ndone"), result.stdout


def test_a_line_typed_while_a_command_runs_is_echoed_twice_and_neither_copy_matches(device):
    proc = subprocess.Popen([*SERCON, "send", device.path, "echo done", "--expect", "done"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=cli_env())
    device.expect(b"echo done\r")
    # What bash shows for a line that arrives while a command runs: the terminal echoes it at once...
    device.write(b"echo done\r\n")
    # ...and readline shows it again when the command is over and it reads the line; then the answer.
    device.write(b"\x1b[?2004h$ echo done\r\n\x1b[?2004l\r")
    device.write(b"done\r\n\x1b[?2004h$ ")
    out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    assert out == b"echo done\n$ echo done\ndone", out


def test_output_to_a_pipe_is_plain_lines(bash_console):
    script = f"printf 'uname -s\\n' | {' '.join(SERCON)} send {bash_console} --expect '\\$ $' | grep '^Linux$'"
    result = subprocess.run(["/bin/sh", "-c", script], capture_output=True, env=cli_env(), timeout=30)
    assert result.returncode == 0, result
    plain = run_cli("send", bash_console, "uname -s", "--expect", r"(?m)^\$ $")
    assert plain.returncode == 0, plain.stderr
    assert plain.stdout == b"uname -s\nLinux\n$ ", plain.stdout


def test_raw_keeps_the_consoles_bytes(bash_console):
    result = run_cli("send", bash_console, "uname -s", "--expect", r"\$ $", "--raw")
    assert result.returncode == 0, result.stderr
    assert result.stdout == b"uname -s\r\n\x1b[?2004l\rLinux\r\n\x1b[?2004h$ ", result.stdout


def test_a_console_that_does_not_echo_is_searched_from_the_line_on(device):
    proc = subprocess.Popen([*SERCON, "send", device.path, "secret", "--expect", "ok"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=cli_env())
    device.expect(b"secret\r")
    device.write(b"\r\nok\r\n")  # a password prompt's answer: the password itself was not shown
    out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    assert out == b"\nok"


def test_pipeline_expect_prompt(shell_console):
    script = f"printf 'uname -a\\n' | {' '.join(SERCON)} send {shell_console} --expect '\\$ $' | grep Linux"
    result = subprocess.run(["/bin/sh", "-c", script], capture_output=True, env=cli_env(), timeout=30)
    assert result.returncode == 0, result.stderr
    assert b"Linux" in result.stdout


def test_expect_prints_up_to_and_including_the_match(shell_console):
    result = run_cli("send", shell_console, "echo one; echo two; echo three", "--expect", "t[w]o")
    assert result.returncode == 0, result.stderr
    assert result.stdout.endswith(b"two")
    assert b"three" not in result.stdout.split(b"two")[-1]


def test_timeout_exits_3_and_keeps_the_partial_output(shell_console):
    result = run_cli("send", shell_console, "echo partial", "--expect", "NEVER_SEEN", "--timeout", "1.5")
    assert result.returncode == 3
    assert b"partial" in result.stdout
    assert b"no output matched --expect 'NEVER_SEEN' within 1.5 s" in result.stderr


def test_wait_idle_returns_once_quiet(shell_console):
    result = run_cli("send", shell_console, "echo idle-test; sleep 0.3; echo later", "--wait-idle", "1")
    assert result.returncode == 0, result.stderr
    assert b"idle-test" in result.stdout and b"later" in result.stdout


def test_never_quiet_console_times_out(shell_console):
    result = run_cli("send", shell_console, "while :; do echo x; sleep 0.1; done", "--wait-idle", "1",
                     "--timeout", "2")
    assert result.returncode == 3
    assert b"did not go quiet" in result.stderr


def test_binary_safe_both_ways(device):
    every_byte = bytes(range(256))
    result = run_cli("send", device.path, "--eol", "lf", input=every_byte)
    assert result.returncode == 0, result.stderr
    assert device.wait_for_size(256, 5) == every_byte

    proc = subprocess.Popen([*SERCON, "send", device.path, "go", "--wait-idle", "0.5"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=cli_env())
    device.expect(b"go\r")
    device.write(every_byte)
    out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    assert out == every_byte


@pytest.mark.parametrize("eol, sent", [("cr", b"a b\r"), ("crlf", b"a b\r\n"), ("lf", b"a b\n")])
def test_eol_for_text(device, eol, sent):
    result = run_cli("send", device.path, "a", "b", "--eol", eol)
    assert result.returncode == 0, result.stderr
    assert device.wait_for_size(len(sent), 5) == sent


def test_stdin_lines_get_the_eol(device):
    result = run_cli("send", device.path, "-", input=b"one\ntwo\r\nthree")
    assert result.returncode == 0, result.stderr
    assert device.wait_for_size(14, 5) == b"one\rtwo\rthree"


def test_bad_regex_is_a_usage_error(device):
    result = run_cli("send", device.path, "x", "--expect", "(")
    assert result.returncode == 2
    assert b"not a valid regular expression" in result.stderr


def test_terminal_queries_do_not_hide_a_prompt(device):
    proc = subprocess.Popen([*SERCON, "send", device.path, "x", "--expect", r"\$ $"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=cli_env())
    device.expect(b"x\r")
    device.write(b"user@box:~$ \x1b[6n")  # busybox asks for the cursor position after its prompt
    out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    assert out == b"user@box:~$ "


def test_a_query_split_across_reads_is_still_dropped(device):
    proc = subprocess.Popen([*SERCON, "send", device.path, "x", "--expect", r"\$ $"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=cli_env())
    device.expect(b"x\r")
    device.write(b"box:~$ \x1b[")
    time.sleep(0.3)
    device.write(b"6n")
    out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    assert out == b"box:~$ "


def test_text_goes_to_the_default_target(device, tmp_path):
    config = tmp_path / "config.toml"
    config.write_text(f'default = "board"\n[profiles.board]\ndevice = "{device.path}"\n')
    for env in (cli_env(SERCON_TARGET=device.path), cli_env(SERCON_CONFIG=str(config))):
        result = run_cli("send", "uname -a", "echo hi", env=env)
        assert result.returncode == 0, result.stderr
        device.expect(rb"uname -a echo hi\r")


def test_dash_t_names_the_target_and_every_positional_is_text(device):
    result = run_cli("send", "-t", device.path, "ls", env=cli_env(SERCON_TARGET="/dev/ttyNOPE9"))
    assert result.returncode == 0, result.stderr
    device.expect(rb"^ls\r")


def test_text_without_a_target_is_a_usage_error_that_types_nothing():
    result = run_cli("send", "uname -a")
    assert result.returncode == 2
    assert b"no target given: 'uname -a' is not a device, URL, profile or VM name" in result.stderr


def test_a_word_with_a_default_target_is_still_a_target_and_nothing_is_typed(device, tmp_path):
    config = tmp_path / "config.toml"
    config.write_text(f'[profiles.board]\ndevice = "{device.path}"\n')
    result = run_cli("send", "boardd", "reboot", env=cli_env(SERCON_TARGET=device.path, SERCON_CONFIG=str(config)))
    assert result.returncode == 4
    assert b"did you mean 'board'?" in result.stderr
    os.write(device.slave, b"MARK")  # after anything sercon wrote, in the pty's order
    device.expect(b"MARK")
    assert bytes(device.buffer) == b"MARK"


def test_name_option_names_the_vm_and_the_positional_is_text(azure):  # noqa: F811
    booted = azure.cli("send", "-g", "prod-rg", "web1", "", "--expect", "login: $")  # the VM boots at first connect;
    assert booted.returncode == 0, booted.stderr  # its login program drops keys typed before it runs, as agetty does
    result = azure.cli("send", "-g", "prod-rg", "-n", "web1", "echo hi", "--expect", "Password: $")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(b"echo hi\n") and result.stdout.endswith(b"Password: "), result.stdout
    vm_urls = [r["url"] for r in azure.requests if "/virtualMachines/" in r["url"]]
    assert vm_urls and all("/virtualMachines/web1" in url for url in vm_urls), vm_urls


@pytest.mark.parametrize("option", [["--timeout", "inf"], ["--timeout", "nan"], ["--wait-idle", "1e308"]])
def test_a_duration_that_is_no_deadline_is_refused_before_anything_is_sent(device, option):
    result = run_cli("send", device.path, "hello", *option)
    assert result.returncode == 2, result.stderr
    assert b"Traceback" not in result.stderr
    assert bytes(device.buffer) == b""


@pytest.mark.parametrize("pattern", ["a{1000000000}", "(a{1000}){1000}", "(?:x{999}){999}"])
def test_an_expect_that_would_take_all_memory_to_compile_is_refused_at_once(device, pattern):
    started = time.monotonic()
    result = run_cli("send", device.path, "hello", "--expect", pattern, timeout=30)
    assert result.returncode == 2, result.stderr
    assert b"repeats too much" in result.stderr and b"fix:" in result.stderr
    assert bytes(device.buffer) == b"" and time.monotonic() - started < 20


@given(st.binary(max_size=200))
@settings(max_examples=300, deadline=None)
def test_the_repeat_count_of_any_pattern_is_a_number(pattern):
    from sercon.terminal.scripted import expansion

    assert expansion(pattern) >= 0  # never raises, whatever the bytes (an empty pattern counts 0)


def test_text_that_is_not_utf8_is_sent_as_the_bytes_given(device):
    """An argument in another encoding (Latin-1 \xff here) is typed byte for byte, as stdin is, not a crash."""
    result = subprocess.run([*SERCON, "send", device.path, b"caf\xe9"], capture_output=True, env=cli_env(),
                            timeout=60)
    assert result.returncode == 0, result.stderr
    assert device.wait_for_size(5, 5) == b"caf\xe9\r"


def test_a_gateway_that_never_answers_the_upgrade_ends_by_the_send_deadline(azure_with):  # noqa: F811
    world = azure_with(faults=[UNANSWERED_UPGRADE])
    started = time.monotonic()
    result = world.cli("send", "-g", "prod-rg", "web1", "uname", "--expect", "Linux", "--timeout", "3")
    assert time.monotonic() - started < 15, result.stderr  # was 31 s: the gateway's own 30 s bound
    assert result.returncode == 7, result.stderr
    assert b"did not answer within 3 s (--timeout)" in result.stderr and b"Traceback" not in result.stderr


def upgrade_asked(world) -> bool:
    return any(r["method"] == "GET" and r["url"].endswith("/client") for r in world.requests)


@pytest.mark.parametrize("signum, status", [(signal.SIGTERM, 128 + signal.SIGTERM), (signal.SIGINT, 130)])
def test_a_signal_ends_a_send_waiting_for_the_upgrade_at_once(azure_with, signum, status):  # noqa: F811
    world = azure_with(faults=[UNANSWERED_UPGRADE])
    child = subprocess.Popen([*SERCON, "send", "-g", "prod-rg", "web1", "uname", "--timeout", "60"], env=world.env,
                             stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 20
        while not upgrade_asked(world):
            assert time.monotonic() < deadline and child.poll() is None
            time.sleep(0.05)
        child.send_signal(signum)
        started = time.monotonic()
        _, err = child.communicate(timeout=30)
        assert time.monotonic() - started < 3, err
        assert child.returncode == status, err
        assert b"Traceback" not in err
    finally:
        child.kill()
        child.wait()


def test_sigterm_ends_a_connect_waiting_for_the_upgrade(azure_with):  # noqa: F811
    world = azure_with(faults=[UNANSWERED_UPGRADE])
    term = Terminal(["connect", "-g", "prod-rg", "web1"], env=world.env, cols=120)
    try:
        term.wait_screen(lambda t: upgrade_asked(world), what="the WebSocket upgrade asked for")
        os.kill(term.child.pid, signal.SIGTERM)
        started = time.monotonic()
        assert term.wait_exit(10) == 128 + signal.SIGTERM
        assert time.monotonic() - started < 3
        assert "Traceback" not in term.text()
    finally:
        term.close()
