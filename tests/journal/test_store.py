"""The journal writer: records round-trip, the bound holds, files are private, and a journal that cannot be
written is one message and no exception."""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sercon.choices import parse_size
from sercon.journal import store
from sercon.journal.reader import Journal, ReadNotes, read_records
from sercon.journal.record import EVENT, OUTPUT
from sercon.journal.settings import journal_settings
from sercon.journal.store import NULL_JOURNAL, JournalWriter, journal_name, segments
from tests.support.waiting import wait_for


def outputs(folder: Path) -> bytes:
    notes = ReadNotes()
    data = b"".join(r.data for r in read_records(Journal(folder, "t"), notes) if r.kind == OUTPUT)
    assert notes.notes == []
    return data


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
@given(chunks=st.lists(st.binary(min_size=0, max_size=3000), max_size=30), flush_every=st.integers(1, 7))
def test_what_is_written_is_read_back_byte_for_byte(tmp_path_factory, chunks, flush_every):
    folder = tmp_path_factory.mktemp("j") / "t"
    writer = JournalWriter.open("/dev/ttyS0", kind="connect", folder=folder)
    for index, chunk in enumerate(chunks):
        writer.output(chunk)
        if index % flush_every == 0:
            writer.event("connected")
    writer.close()
    assert outputs(folder) == b"".join(chunks)


def test_records_carry_time_session_and_events_in_order(tmp_path):
    folder = tmp_path / "t"
    for _ in range(2):
        writer = JournalWriter.open("/dev/ttyS0", kind="send", folder=folder)
        writer.output(b"one\r\n")
        writer.event("closed", code=1000, reason="bye")
        writer.close()
        writer.close()  # idempotent: no second "ended"
    records = list(read_records(Journal(folder, "t"), ReadNotes()))
    assert [(r.session, r.fields.get("event") if r.kind == EVENT else r.data) for r in records] == [
        (1, "opened"), (1, b"one\r\n"), (1, "closed"), (1, "ended"),
        (2, "opened"), (2, b"one\r\n"), (2, "closed"), (2, "ended")]
    assert records[2].fields == {"event": "closed", "code": 1000, "reason": "bye"}
    assert records[0].fields == {"event": "opened", "kind": "send", "target": "/dev/ttyS0"}
    assert all(a.time <= b.time for a, b in zip(records, records[1:], strict=False))


def test_input_is_kept_only_when_asked(tmp_path):
    for record_input, expected in ((False, []), (True, [b"secret\r"])):
        folder = tmp_path / str(record_input)
        writer = JournalWriter.open("x", kind="connect", folder=folder, record_input=record_input)
        writer.input(b"secret\r")
        writer.close()
        records = read_records(Journal(folder, "x"), ReadNotes())
        assert [r.data for r in records if r.kind not in (EVENT, OUTPUT)] == expected


def test_output_is_buffered_and_written_within_the_flush_time(tmp_path):
    folder = tmp_path / "t"
    writer = JournalWriter.open("x", kind="connect", folder=folder)
    size = segments(folder)[0].stat().st_size
    writer.output(b"a little")
    assert segments(folder)[0].stat().st_size == size  # not a write per chunk
    wait_for(lambda: b"a little" in segments(folder)[0].read_bytes(), timeout=5, what="the flusher's write")
    writer.close()


def test_the_bound_drops_the_oldest_first(tmp_path):
    folder = tmp_path / "t"
    limit = store.MIN_LIMIT
    for session in range(6):
        writer = JournalWriter.open("x", kind="connect", folder=folder, limit=limit)
        for index in range(40):
            writer.output(f"s{session} line {index:04d} ".encode() * 20 + b"\n")
        writer.close()
    total = sum(p.stat().st_size for p in segments(folder))
    assert total <= limit
    data = outputs(folder)
    assert b"s5 line 0039" in data  # the newest is kept
    assert b"s0 line 0000" not in data  # the oldest went first
    kept = [int(p.name[:8]) for p in segments(folder)]
    assert kept == sorted(kept) and kept[-1] == 6


def test_the_bound_holds_over_many_short_sessions(tmp_path):
    folder = tmp_path / "t"
    for session in range(40):  # each far below a segment's share: no session ever starts a second part
        writer = JournalWriter.open("x", kind="sysrq", folder=folder, limit=store.MIN_LIMIT)
        writer.output(f"session {session:02d} ".encode() * 200)
        writer.close()
    assert sum(p.stat().st_size for p in segments(folder)) <= store.MIN_LIMIT + 3000  # + the newest session
    data = outputs(folder)
    assert b"session 39" in data and b"session 00" not in data


def test_files_are_private(tmp_path):
    env = {"XDG_STATE_HOME": str(tmp_path / "state"), "HOME": str(tmp_path)}
    writer = JournalWriter.open("rg/vm", kind="connect", environ=env)
    writer.output(b"x")
    writer.close()
    root = tmp_path / "state" / "sercon" / "journal"
    for folder in (root, root / journal_name("rg/vm")):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    files = list((root / journal_name("rg/vm")).iterdir())
    assert files and all(stat.S_IMODE(f.stat().st_mode) == 0o600 for f in files)


def test_an_unwritable_folder_is_one_message_and_no_exception(tmp_path):
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where the folder should be")
    messages: list[str] = []
    writer = JournalWriter.open("x", kind="connect", folder=blocked / "t", on_error=messages.append)
    writer.output(b"data")
    writer.event("lost")
    writer.close()
    assert writer is NULL_JOURNAL
    assert len(messages) == 1 and "journal is off" in messages[0] and str(blocked) in messages[0]


def test_a_full_disk_is_one_message_and_the_writer_goes_quiet(tiny_disk):
    messages: list[str] = []
    writer = JournalWriter.open("x", kind="connect", folder=tiny_disk / "t", on_error=messages.append,
                                limit=2**30)
    for _ in range(200):
        writer.output(b"y" * 4096)  # 800 KiB into 64 KiB: never raises
    writer.flush()
    writer.output(b"after")
    writer.close()
    assert len(messages) == 1 and "No space left on device" in messages[0]
    assert writer._fd is None  # off: later output is not even buffered for a write


def test_two_writers_at_once_get_two_sessions(tmp_path):
    folder = tmp_path / "t"
    folder.mkdir(mode=0o700)
    writers: list = []
    threads = [threading.Thread(target=lambda: writers.append(JournalWriter.open("x", kind="send", folder=folder)))
               for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(w.session for w in writers) == list(range(1, 9))
    for writer in writers:
        writer.close()


@pytest.mark.parametrize("label", ["/dev/ttyUSB0", "rg/vm", "rg/set/3", "telnet://h:2323", "../x", "é ü", ".."])
def test_journal_names_are_safe_and_stable(label):
    name = journal_name(label)
    assert name == journal_name(label)
    assert "/" not in name and not name.startswith(".") and name.isascii()
    assert all(c.isalnum() or c in "._-" for c in name)


def test_journal_names_are_unique():
    labels = ["rg/vm", "rg_vm", "RG/vm", "/dev/ttyS0", "/dev/ttyS0/", "telnet://h:1", "telnet://h_1"]
    assert len({journal_name(label) for label in labels}) == len(labels)


def test_settings_from_prefs_and_environment():
    assert journal_settings({}, {}).journal is True
    assert journal_settings({"journal": False}, {}).journal is False
    assert journal_settings({}, {"SERCON_NO_JOURNAL": "1"}).journal is False
    assert journal_settings({}, {"SERCON_NO_JOURNAL": "0"}).journal is True
    assert journal_settings({"journal_input": True}, {}).journal_input is True
    assert journal_settings({"journal_size": "1MiB"}, {}).journal_size == 2**20


@pytest.mark.parametrize(("value", "size"), [("16MiB", 16 * 2**20), ("512k", 512 * 1024), (65536, 65536),
                                             ("1.5 GiB", int(1.5 * 2**30)), ("10", 10), ("x", None), ("-1M", None),
                                             (True, None), (0, None), ("nan", None), ("5T", None)])
def test_sizes(value, size):
    assert parse_size(value) == size


def test_a_journal_is_readable_by_its_owner_only_even_with_a_loose_umask(tmp_path):
    old = os.umask(0)
    try:
        writer = JournalWriter.open("x", kind="connect", folder=tmp_path / "t")
        writer.close()
    finally:
        os.umask(old)
    assert {stat.S_IMODE(p.stat().st_mode) for p in (tmp_path / "t").iterdir()} == {0o600}
