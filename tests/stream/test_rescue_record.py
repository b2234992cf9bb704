"""The rescue phase's output goes to --log and the journal like any session's (issue 19, item 7), with
a scripted guest as tests/rescue uses: GRUB at its command line after the reset."""

from __future__ import annotations

from sercon.journal.reader import ReadNotes, all_journals, read_records
from sercon.journal.record import EVENT, OUTPUT
from sercon.rescue.driver import RescuePlan
from sercon.rescue.handover import rescue
from sercon.rescue.record import RescueRecord
from sercon.terminal.session_options import SessionOptions
from tests.support.rescue import ScriptedConsole

GRUB_PROMPT = b"\x1b[2J\x1b[H                             GNU GRUB  version 2.06\r\n\r\ngrub> "


class Progress:
    def __init__(self) -> None:
        self.shown = b""

    def step(self, message: str) -> None:
        pass

    def output(self, data: bytes) -> None:
        self.shown += data

    def fresh_line(self) -> None:
        pass


def test_what_grub_printed_during_the_rescue_is_in_the_log_and_the_journal(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    log = tmp_path / "rescue.log"
    statuses: list[str] = []
    record = RescueRecord("scripted-guest", SessionOptions(log_path=str(log)), statuses.append)
    record.open()
    result = rescue(ScriptedConsole(GRUB_PROMPT), RescuePlan("init=/bin/bash", step_timeout=5), Progress(),
                    interactive=True, record=record)
    record.close(result.exit_status, "rescue ended")
    assert result.failure is not None and result.failure.where == "prompt"  # GRUB's command line: handed over
    assert log.read_bytes() == GRUB_PROMPT  # the text log: the bytes as the console printed them
    [journal] = all_journals({"XDG_STATE_HOME": str(tmp_path / "state")})
    notes = ReadNotes()
    found = list(read_records(journal, notes))
    assert notes.notes == [] and statuses == []
    assert b"".join(r.data for r in found if r.kind == OUTPUT) == GRUB_PROMPT
    kinds = [(r.fields["event"], r.fields.get("kind")) for r in found if r.kind == EVENT]
    assert kinds[0] == ("opened", "rescue") and ("closed", None) in kinds


def test_the_rescue_goes_on_when_its_log_cannot_be_written(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    statuses: list[str] = []
    record = RescueRecord("scripted-guest", SessionOptions(log_path=str(tmp_path / "no" / "such" / "dir.log")),
                          statuses.append, journal=False)
    record.open()
    result = rescue(ScriptedConsole(GRUB_PROMPT), RescuePlan("init=/bin/bash", step_timeout=5), Progress(),
                    interactive=True, record=record)
    record.close(result.exit_status, "rescue ended")
    assert result.failure is not None and result.failure.where == "prompt"
    assert len(statuses) == 1 and "cannot open log file" in statuses[0]
    assert all_journals({"XDG_STATE_HOME": str(tmp_path / "state")}) == []  # journal=False: none made


def _qmp_machine(path: str, on_reset) -> None:
    """A QMP socket that agrees to everything and runs *on_reset* when told to reset the machine."""
    import contextlib
    import socket
    import threading

    server = socket.socket(socket.AF_UNIX)
    server.bind(path)
    server.listen(4)

    def serve() -> None:
        with contextlib.suppress(OSError), server:
            while True:
                conn, _ = server.accept()
                with conn, conn.makefile("rwb") as stream:
                    stream.write(b'{"QMP": {"version": {}, "capabilities": []}}\n')
                    stream.flush()
                    while line := stream.readline():
                        stream.write(b'{"return": {}}\n')
                        stream.flush()
                        if b"system_reset" in line:
                            on_reset()

    threading.Thread(target=serve, daemon=True).start()


def test_sercon_rescue_puts_the_rescue_phase_in_its_log_and_the_journal(device, tmp_path):
    from tests.conftest import cli_env, run_cli

    qmp, log, state = str(tmp_path / "qmp.sock"), tmp_path / "rescue.log", tmp_path / "state"
    _qmp_machine(qmp, lambda: device.write(GRUB_PROMPT))
    result = run_cli("rescue", device.path, "--qmp", qmp, "--yes", "--log", str(log), "--timeout", "5",
                     env=cli_env(XDG_STATE_HOME=str(state)), timeout=60)
    assert result.returncode == 6, result.stderr  # GRUB at its command line, nobody at a terminal to take it
    assert GRUB_PROMPT in log.read_bytes()
    [journal] = all_journals({"XDG_STATE_HOME": str(state)})
    found = list(read_records(journal, ReadNotes()))
    assert GRUB_PROMPT in b"".join(r.data for r in found if r.kind == OUTPUT)
    closed = [r.fields for r in found if r.kind == EVENT and r.fields["event"] == "closed"]
    assert closed and closed[-1]["code"] == 6, closed
