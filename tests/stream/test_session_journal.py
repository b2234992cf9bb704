"""The journal in every session kind (issue 19): connect, send, a vanishing device, and a journal that
cannot be written. Real ptys, the real CLI; the journal read back with its own reader."""

from __future__ import annotations

import re
import threading
from pathlib import Path

import pytest

from sercon.journal.reader import ReadNotes, all_journals, read_records
from sercon.journal.record import EVENT, INPUT, OUTPUT, Record
from sercon_emulator.ptyconsole import PtyConsole
from tests.conftest import cli_env, run_cli
from tests.support.login import type_login_and_password
from tests.support.socat import unplug_and_replug

MENU_KEY = b"\x1d"


def records(state: Path) -> list[Record]:
    """Every record of the one journal under XDG_STATE_HOME=*state*, read as `sercon history` reads it."""
    journals = all_journals({"XDG_STATE_HOME": str(state)})
    assert len(journals) == 1, journals
    notes = ReadNotes()
    found = list(read_records(journals[0], notes))
    assert notes.notes == []
    return found


def output(found: list[Record]) -> bytes:
    return b"".join(r.data for r in found if r.kind == OUTPUT)


def events(found: list[Record]) -> list[dict[str, object]]:
    return [r.fields for r in found if r.kind == EVENT]


@pytest.fixture
def shell_console():
    env = {"PATH": "/usr/bin:/bin", "PS1": "$ ", "HOME": "/tmp", "TERM": "dumb"}
    with PtyConsole(["/bin/sh", "-i"], env=env) as console:
        yield console.device_path


def test_a_send_runs_output_is_in_the_journal_afterwards(shell_console, tmp_path):
    result = run_cli("send", shell_console, "echo answer-$((6*7))", "--expect", "answer-42",
                     env=cli_env(XDG_STATE_HOME=str(tmp_path)))
    assert result.returncode == 0, result.stderr
    found = records(tmp_path)
    assert b"answer-42" in output(found)
    kinds = [e["event"] for e in events(found)]
    assert "connected" in kinds and kinds[-2:] == ["closed", "ended"], kinds
    closed = [e for e in events(found) if e["event"] == "closed"][-1]
    assert closed["code"] == 0
    assert not [r for r in found if r.kind == INPUT]  # typed input is not kept unless asked


def test_send_with_journal_input_keeps_the_input_too(shell_console, tmp_path):
    result = run_cli("send", shell_console, "echo kept", "--expect", "kept", "--journal-input",
                     env=cli_env(XDG_STATE_HOME=str(tmp_path)))
    assert result.returncode == 0, result.stderr
    assert b"".join(r.data for r in records(tmp_path) if r.kind == INPUT) == b"echo kept\r"


def test_no_journal_leaves_nothing(shell_console, tmp_path):
    result = run_cli("send", shell_console, "echo quiet", "--expect", "quiet", "--no-journal",
                     env=cli_env(XDG_STATE_HOME=str(tmp_path)))
    assert result.returncode == 0, result.stderr
    assert all_journals({"XDG_STATE_HOME": str(tmp_path)}) == []


def test_connect_journals_what_the_device_printed_and_how_the_session_ended(device, terminal, tmp_path):
    term = terminal("connect", device.path, env=cli_env(XDG_STATE_HOME=str(tmp_path))).connected()
    device.write(b"boot line one\r\n\x1b[1mbold\x1b[0m line two\r\n")
    term.wait_text("line two")
    term.send(b"secret typing\r")
    device.expect(b"secret typing\r")
    term.send(MENU_KEY + b"q")
    assert term.wait_exit() == 0
    found = records(tmp_path)
    assert output(found) == b"boot line one\r\n\x1b[1mbold\x1b[0m line two\r\n"  # bytes as received
    assert not [r for r in found if r.kind == INPUT]
    kinds = [e["event"] for e in events(found)]
    assert kinds[:2] == ["opened", "connected"] and kinds[-2:] == ["closed", "ended"], kinds
    closed = [e for e in events(found) if e["event"] == "closed"][-1]
    assert closed["code"] == 0 and closed["reason"] == "the user quit"


def test_an_unwritable_journal_is_one_status_line_and_nothing_else_is_lost(device, terminal, tmp_path):
    state = tmp_path / "not-a-folder"
    state.write_bytes(b"")  # the journal cannot make its folder under a file
    term = terminal("connect", device.path, env=cli_env(XDG_STATE_HOME=str(state)), cols=200).connected()
    lines = [f"line {n:04d} of the console".encode() for n in range(300)]
    for line in lines:
        device.write(line + b"\r\n")
    term.wait_raw(re.escape(lines[-1]))
    device.write(b"still here\r\n")
    term.wait_text("still here")
    term.send(MENU_KEY + b"q")
    assert term.wait_exit() == 0
    raw = bytes(term.raw)
    assert all(line in raw for line in lines)  # the screen got every line
    assert raw.count(b"journal is off") == 1, raw[-2000:]


def test_a_full_disk_loses_nothing_but_the_journal(device, terminal, tiny_disk, tmp_path):
    """Issue 19: the journal on a 64 KiB file system that fills up mid-session. The screen and the
    --log (on a disk with room) keep every line; the journal says so once and stops."""
    log = tmp_path / "session.log"
    term = terminal("connect", device.path, "--log", str(log), env=cli_env(XDG_STATE_HOME=str(tiny_disk)),
                    cols=200).connected()
    lines = [f"line {n:04d} ".encode() + b"x" * 400 for n in range(400)]  # 160 KiB into 64 KiB
    # Written from a thread while the terminal is read: more than a pty holds would stall both ends.
    writer = threading.Thread(target=device.write, args=(b"".join(line + b"\r\n" for line in lines),))
    writer.start()
    term.wait_raw(re.escape(lines[-1]), timeout=30)
    writer.join()
    device.write(b"still here\r\n")
    term.wait_text("still here")
    term.send(MENU_KEY + b"q")
    assert term.wait_exit() == 0
    raw, logged = bytes(term.raw), log.read_bytes()
    assert all(line in raw and line in logged for line in lines)
    assert raw.count(b"journal is off") == 1 and b"No space left on device" in raw, raw[-2000:]


def test_a_device_that_vanishes_and_returns_is_lost_then_reconnected_in_the_journal(socat_device, terminal,
                                                                                     tmp_path):
    dev, peer, procs, start = socat_device
    state = tmp_path / "state"
    term = terminal("connect", str(dev), env=cli_env(XDG_STATE_HOME=str(state)), cols=200).connected()
    unplug_and_replug(term, socat_device)
    term.send(MENU_KEY + b"q")
    assert term.wait_exit() == 0
    found = records(state)
    kinds = [e["event"] for e in events(found)]
    assert kinds.index("lost") < kinds.index("reconnected"), kinds
    data = output(found)
    assert data.index(b"before unplug") < data.index(b"after replug")


def test_records_read_back_in_order_for_two_sessions(shell_console, tmp_path):
    for word in ("first", "second"):
        result = run_cli("send", shell_console, f"echo {word}-run", "--expect", f"{word}-run",
                         env=cli_env(XDG_STATE_HOME=str(tmp_path)))
        assert result.returncode == 0, result.stderr
    found = records(tmp_path)
    assert sorted({r.session for r in found}) == [1, 2]
    assert output([r for r in found if r.session == 2]).count(b"second-run") >= 1
    assert b"second-run" not in output([r for r in found if r.session == 1])


def _qmp_that_agrees(path: str) -> None:
    """A QMP socket that greets and answers every command with success (QEMU's when an NMI is injected)."""
    import contextlib
    import socket
    import threading

    server = socket.socket(socket.AF_UNIX)
    server.bind(path)
    server.listen(1)

    def serve() -> None:
        with contextlib.suppress(OSError), server:
            conn, _ = server.accept()
            with conn, conn.makefile("rwb") as stream:
                stream.write(b'{"QMP": {"version": {}, "capabilities": []}}\n')
                stream.flush()
                while stream.readline():
                    stream.write(b'{"return": {}}\n')
                    stream.flush()

    threading.Thread(target=serve, daemon=True).start()


def test_an_nmi_is_an_event_in_the_targets_journal(device, tmp_path):
    qmp = str(tmp_path / "qmp.sock")
    _qmp_that_agrees(qmp)
    state = tmp_path / "state"
    result = run_cli("nmi", device.path, "--qmp", qmp, "--yes", env=cli_env(XDG_STATE_HOME=str(state)))
    assert result.returncode == 0, result.stderr
    kinds = [(e["event"], e.get("kind")) for e in events(records(state))]
    assert kinds[0] == ("opened", "nmi") and ("nmi", None) in kinds, kinds


def test_journal_input_keeps_typed_lines_but_never_a_password(device, terminal, tmp_path):
    term = terminal("connect", device.path, "--journal-input", env=cli_env(XDG_STATE_HOME=str(tmp_path))).connected()
    type_login_and_password(term, device)
    term.send(MENU_KEY + b"q")
    assert term.wait_exit() == 0
    typed = b"".join(r.data for r in records(tmp_path) if r.kind == INPUT)
    assert typed == b"ops\r", typed
