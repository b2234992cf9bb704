"""`sercon history` and `connect --replay`, on journals written by the real JournalWriter."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time

import pytest

from sercon.journal.store import JournalWriter, journal_name
from tests.conftest import SERCON, call_cli, cli_env
from tests.support.waiting import wait_for


@pytest.fixture
def state(tmp_path):
    """A journal folder of the test's own, and the environment that points sercon at it."""
    env = cli_env(XDG_STATE_HOME=str(tmp_path / "state"), HOME=str(tmp_path))

    def write(label: str, *chunks: bytes, kind: str = "connect", events: tuple[str, ...] = ()) -> None:
        writer = JournalWriter.open(label, kind=kind, environ=env)
        for chunk in chunks:
            writer.output(chunk)
        for event in events:
            writer.event(event)
        writer.close()

    write.env = env  # type: ignore[attr-defined]
    write.root = tmp_path / "state" / "sercon" / "journal"  # type: ignore[attr-defined]
    return write


def history(state, *args: str):
    return call_cli("history", *args, env=state.env)


def test_no_journal_is_a_clear_message_and_exit_4(state):
    result = history(state, "/dev/ttyS77")
    assert result.returncode == 4
    assert b"no journal of /dev/ttyS77" in result.stderr and b"sercon connect" in result.stderr
    assert result.stdout == b""


def test_text_is_the_default_with_events_marked(state):
    state("/dev/ttyS1", b"\x1b[1mLinux\x1b[0m booting\r\n", b"login: ", events=("lost",))
    result = history(state, "/dev/ttyS1")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.decode().splitlines()
    assert lines[0].startswith("--- ") and "session 1: opened (kind=connect, target=/dev/ttyS1)" in lines[0]
    assert lines[1:3] == ["Linux booting", "login: "]
    assert "session 1: lost" in lines[3] and "session 1: ended" in lines[4]


def test_raw_gives_the_bytes_exactly(state):
    data = b"\x1b[1mLinux\x1b[0m\r\n\xff\xfe\x00bin\rover\r\n"
    state("/dev/ttyS1", data[:5], data[5:])
    assert history(state, "/dev/ttyS1", "--raw").stdout == data


def test_lines_session_grep_and_since(state):
    state("/dev/ttyS1", b"one\r\ntwo\r\nkernel panic\r\n")
    state("/dev/ttyS1", b"three\r\nfour\r\nfive\r\n")
    assert history(state, "/dev/ttyS1", "--raw", "--lines", "2").stdout == b"four\r\nfive\r\n"
    assert history(state, "/dev/ttyS1", "--raw", "--session", "1").stdout == b"one\r\ntwo\r\nkernel panic\r\n"
    assert history(state, "/dev/ttyS1", "--raw", "--session", "last").stdout == b"three\r\nfour\r\nfive\r\n"
    assert history(state, "/dev/ttyS1", "--grep", "panic|four").stdout == b"kernel panic\nfour\n"
    assert history(state, "/dev/ttyS1", "--raw", "--since", "1h", "--lines", "1").stdout == b"five\r\n"
    assert history(state, "/dev/ttyS1", "--raw", "--since", "2099-01-01").stdout == b""
    missing = history(state, "/dev/ttyS1", "--session", "9")
    assert missing.returncode == 4 and b"holds sessions 1 to 2" in missing.stderr


@pytest.mark.parametrize(("args", "words"), [
    (("--session", "first"), b"--session last or a number"),
    (("--since", "soonish"), b"--since 10m"),
    (("--grep", "(x"), b"not a regular expression"),
    (("--raw", "--json"), b"pick one"),
    (("--lines", "-1"), b"-1"),
])
def test_bad_options_are_usage_errors(state, args, words):
    state("/dev/ttyS1", b"x\r\n")
    result = history(state, "/dev/ttyS1", *args)
    assert result.returncode == 2 and words in result.stderr, result.stderr
    assert b"Traceback" not in result.stderr


def test_json_is_one_object_per_chunk_or_event(state):
    state("/dev/ttyS1", b"hello\r\n", b"\xff\r\n", events=("lost",))
    result = history(state, "/dev/ttyS1", "--json")
    objects = [json.loads(line) for line in result.stdout.decode().splitlines()]
    assert [(o["type"], o.get("event"), o.get("text")) for o in objects] == [
        ("event", "opened", None), ("output", None, "hello\r\n"), ("output", None, "\ufffd\r\n"),
        ("event", "lost", None), ("event", "ended", None)]
    assert objects[2]["base64"] == "/w0K" and "base64" not in objects[1]
    assert all(o["session"] == 1 and o["time"].endswith("Z") for o in objects)
    assert len(history(state, "/dev/ttyS1", "--json", "--lines", "2").stdout.splitlines()) == 2


def test_a_damaged_journal_is_shown_up_to_the_damage_with_a_note(state):
    state("/dev/ttyS1", b"kept\r\n")
    (segment,) = (state.root / journal_name("/dev/ttyS1")).glob("*.jnl")
    with open(segment, "ab") as out:
        out.write(b"\xa7JO partial")  # power lost while a record was written
    result = history(state, "/dev/ttyS1", "--raw")
    assert result.returncode == 0 and result.stdout == b"kept\r\n"
    assert result.stderr.count(b"note:") == 1 and b"damaged" in result.stderr


def test_purge_asks_and_deletes(state):
    state("/dev/ttyS1", b"secret output\r\n")
    refused = history(state, "/dev/ttyS1", "--purge")
    assert refused.returncode == 2 and b"--yes" in refused.stderr  # no terminal to ask at
    assert history(state, "/dev/ttyS1").returncode == 0
    done = history(state, "/dev/ttyS1", "--purge", "--yes")
    assert done.returncode == 0 and b"deleted the journal of /dev/ttyS1" in done.stderr
    assert not (state.root / journal_name("/dev/ttyS1")).exists()
    assert history(state, "/dev/ttyS1").returncode == 4


def test_a_device_is_found_by_its_real_path_too(state, tmp_path):
    link = tmp_path / "board"
    os.symlink("/dev/null", link)
    state("/dev/null", b"through the link\r\n")
    assert history(state, str(link), "--raw").stdout == b"through the link\r\n"


def test_a_vm_named_without_its_group_is_found_without_azure(state):
    state("Prod-RG/web1", b"vm output\r\n")
    env = {**state.env, "AZURE_CONFIG_DIR": "/nonexistent"}  # no Azure set up: any Azure call would fail
    result = call_cli("history", "web1", "--raw", env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout == b"vm output\r\n"
    assert call_cli("history", "-g", "prod-rg", "web1", "--raw", env=env).stdout == b"vm output\r\n"
    state("other-rg/web1", b"elsewhere\r\n")
    both = call_cli("history", "web1", env=env)
    assert both.returncode == 2 and b"-g GROUP" in both.stderr


def test_follow_prints_what_sessions_add(state):
    state("/dev/ttyS1", b"before\r\n")
    proc = subprocess.Popen([*SERCON, "history", "/dev/ttyS1", "--raw", "--follow"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=state.env)
    try:
        out = bytearray()
        os.set_blocking(proc.stdout.fileno(), False)

        def has(needle: bytes) -> bool:
            with contextlib.suppress(BlockingIOError):
                out.extend(os.read(proc.stdout.fileno(), 65536) or b"")
            return needle in out

        wait_for(lambda: has(b"before\r\n"), timeout=20, what="the journal so far")
        writer = JournalWriter.open("/dev/ttyS1", kind="send", environ=state.env)
        writer.output(b"live one\r\n")
        writer.flush()
        wait_for(lambda: has(b"live one\r\n"), timeout=20, what="a new session's output")
        writer.output(b"live two\r\n")
        writer.close()
        wait_for(lambda: has(b"live two\r\n"), timeout=20, what="more of it")
    finally:
        proc.send_signal(signal.SIGINT)
        rest, err = proc.communicate(timeout=10)
    assert proc.returncode == 130, err
    assert bytes(out) + rest == b"before\r\nlive one\r\nlive two\r\n"


def test_journal_off_by_environment_or_option_gives_the_null_journal(state):
    from sercon.cli.session_setup import session_options_from

    assert session_options_from({}, {}).journal is True
    assert session_options_from({"journal": False}, {}).journal is False
    assert session_options_from({}, {"SERCON_NO_JOURNAL": "1"}).journal is False
    options = session_options_from({"journal_input": True, "journal_size": "1MiB"}, {})
    assert (options.journal_input, options.journal_size) == (True, 2**20)


@pytest.mark.parametrize("command", ["connect", "send", "sysrq", "nmi", "reset", "rescue"])
def test_every_console_command_takes_the_journal_options(command):
    result = call_cli(command, "--help")
    assert b"--no-journal" in result.stdout and b"--journal-input" in result.stdout


def test_replay_shows_history_before_the_live_console(device, terminal, state):
    state(device.path, b"old line 1\r\nold line 2\r\nold line 3\r\n")
    term = terminal("connect", device.path, "--replay", "2", env=state.env)
    term.connected()
    device.write(b"live output\r\n")
    term.wait_text("live output")
    raw = bytes(term.raw)
    head, footer = raw.index(b"--- history: last 2 lines (from "), raw.index(b"--- end of history")
    assert head < raw.index(b"old line 2") < raw.index(b"old line 3") < footer
    assert footer < raw.index(b"connected to") < raw.index(b"live output")
    assert b"old line 1" not in raw


def test_replay_from_a_profile_and_nothing_to_replay(device, terminal, state, tmp_path):
    config = tmp_path / "config.toml"
    config.write_text(f'[profiles.board]\ndevice = "{device.path}"\nreplay = 5\n')
    env = {**state.env, "SERCON_CONFIG": str(config)}
    term = terminal("connect", "board", env=env)
    term.connected()
    assert b"no history of" in bytes(term.raw)
    term.close()
    state(device.path, b"from before\r\n")
    again = terminal("connect", "board", env=env)
    again.connected()
    again.wait_text("from before")
    assert b"--- history: last 1 lines" in bytes(again.raw)


def test_boot_log_refuses_a_device_and_since(state):
    state("/dev/ttyS1", b"x\r\n")
    device = history(state, "/dev/ttyS1", "--boot-log")
    assert device.returncode == 2 and b"local device" in device.stderr
    since = history(state, "web1", "--boot-log", "--since", "1h")
    assert since.returncode == 2 and b"no times" in since.stderr


def test_history_reads_fast(state):
    """Reading a full default-size journal stays interactive (a guard, not a benchmark)."""
    writer = JournalWriter.open("/dev/ttyS1", kind="connect", environ=state.env)
    for index in range(20000):
        writer.output(f"line {index:06d} of a long boot with some text in it\r\n".encode() * 8)
    writer.close()
    started = time.monotonic()
    result = history(state, "/dev/ttyS1", "--lines", "3", "--raw")
    assert result.returncode == 0 and result.stdout == b"line 019999 of a long boot with some text in it\r\n" * 3
    assert time.monotonic() - started < 30
