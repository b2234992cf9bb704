"""Records made into lines, selected and rendered; the boot log's seam with the journal."""

from __future__ import annotations

import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sercon.errors import UsageError
from sercon.journal.history import Line, Query, lines_of, merge_boot_log, parse_since, replay_text, text_of
from sercon.journal.record import EVENT, OUTPUT, Record


def out(data: bytes, at: float = 1.0, session: int = 1) -> Record:
    return Record(OUTPUT, at, data=data, session=session)


@given(st.lists(st.binary(max_size=50), max_size=20))
def test_lines_hold_every_byte_in_order_however_the_chunks_fall(chunks):
    lines = lines_of([out(chunk) for chunk in chunks])
    assert b"".join(line.data for line in lines) == b"".join(chunks)
    assert all(line.data.count(b"\n") <= 1 for line in lines)


def test_a_line_takes_the_time_of_its_first_byte_and_events_end_half_lines():
    lines = lines_of([out(b"lo", 1.0), out(b"gin: ", 2.0), Record(EVENT, 3.0, fields={"event": "lost"}, session=1),
                      out(b"x\ny\n", 4.0), out(b"z", 5.0, session=2)])
    assert [(line.time, line.data, line.event) for line in lines] == [
        (1.0, b"login: ", None), (3.0, b"", {"event": "lost"}), (4.0, b"x\n", None), (4.0, b"y\n", None),
        (5.0, b"z", None)]


@pytest.mark.parametrize(("raw", "text"), [
    (b"\x1b[1;32mgreen\x1b[0m\r\n", "green"),
    (b"progress 10%\rprogress 99%\r\n", "progress 99%"),
    (b"\x1b]0;title\x07shell$ \x07\x00", "shell$ "),
    (b"tab\there\n", "tab\there"),
    (b"bad \xff byte\n", "bad \ufffd byte"),
])
def test_text_strips_what_a_terminal_would_not_print(raw, text):
    assert text_of(raw) == text


def test_since_takes_durations_and_times():
    now = time.mktime((2026, 12, 4, 3, 30, 0, 0, 0, -1))
    assert parse_since("10m", now) == now - 600
    assert parse_since("90s", now) == now - 90 and parse_since("2h", now) == now - 7200
    assert parse_since("1d", now) == now - 86400
    assert parse_since("03:00", now) == now - 1800
    assert parse_since("04:00", now) == now - 1800 - 86400 + 3600  # later than now: yesterday's
    assert parse_since("2026-12-04 03:00", now) == now - 1800
    with pytest.raises(UsageError, match="neither a duration nor a time"):
        parse_since("yesterday-ish", now)


def test_a_bad_grep_is_a_usage_error():
    with pytest.raises(UsageError, match="not a regular expression"):
        Query(grep="(unclosed")


def journal_lines(*texts: str) -> list[Line]:
    return [Line(10.0 + i, 1, (text + "\r\n").encode()) for i, text in enumerate(texts)]


def test_the_boot_log_is_cut_where_the_journal_begins():
    boot = b"bios\r\nkernel 1\r\nkernel 2\r\nweb1 login: root\r\nPassword: \r\n"
    front = merge_boot_log(boot, journal_lines("web1 login: root", "Password: ", "Last login"))
    assert [line.data for line in front] == [b"bios\r\n", b"kernel 1\r\n", b"kernel 2\r\n"]
    assert all(line.source == "boot-log" and line.time is None for line in front)


def test_the_seam_is_found_when_the_journal_begins_mid_line():
    boot = b"boot\r\nweb1 login: "
    assert [line.data for line in merge_boot_log(boot, journal_lines("login: ", "next"))] == [b"boot\r\n"]


def test_repeated_boots_cut_at_the_last_boot_that_runs_into_the_journal():
    boot = b"kernel\r\nweb1 login: \r\nkernel\r\nweb1 login: \r\n"
    front = merge_boot_log(boot, journal_lines("kernel", "web1 login: ", "after"))
    assert [line.data for line in front] == [b"kernel\r\n", b"web1 login: \r\n"]


def test_a_boot_log_that_ends_before_the_journal_is_kept_whole():
    boot = b"old boot\r\nold login: \r\n"
    assert len(merge_boot_log(boot, journal_lines("new session"))) == 2
    assert len(merge_boot_log(boot, [])) == 2


def test_replay_marks_the_history_and_counts_what_it_shows():
    lines = journal_lines("one", "two", "three")
    text = replay_text(lines, 2).decode()
    assert text.startswith("--- history: last 2 lines (from ") and "\ntwo\nthree\n" in text
    assert text.endswith("--- end of history: live console follows ---\n")
    assert replay_text([], 5) == b""


@given(st.binary(max_size=40))
def test_since_takes_any_text_to_a_time_or_a_usage_error(raw):
    """--since from the command line, drawn as bytes decoded as the shell's arguments are."""
    text = raw.decode("utf-8", "surrogateescape")
    try:
        value = parse_since(text, 1_800_000_000.0)
    except UsageError:
        return
    assert isinstance(value, float) and value == value
