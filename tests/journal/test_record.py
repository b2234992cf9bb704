"""A journal segment after a power loss: read up to the damage, with a note, nothing after it invented."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from sercon.journal.reader import Journal, ReadNotes, read_records
from sercon.journal.record import EVENT, OUTPUT, Damage, decode, encode, encode_event
from sercon.journal.store import JournalWriter, segments


@given(st.lists(st.binary(max_size=200), min_size=1, max_size=20), st.data())
def test_a_cut_anywhere_keeps_every_whole_record_before_it(chunks, data):
    blob = b"".join(encode(OUTPUT, 1.0 + i, chunk) for i, chunk in enumerate(chunks))
    cut = data.draw(st.integers(0, len(blob)))
    damage: list[Damage] = []
    records = list(decode(blob[:cut], damage))
    ends = [len(b"".join(encode(OUTPUT, 1.0 + i, c) for i, c in enumerate(chunks[:n + 1]))) for n in range(len(chunks))]
    whole = sum(1 for end in ends if end <= cut)
    assert [r.data for r in records] == chunks[:whole]
    assert (damage != []) == (cut not in (0, *ends))


@given(st.lists(st.binary(max_size=100), min_size=2, max_size=10), st.data())
def test_a_flipped_byte_stops_reading_at_that_record(chunks, data):
    records = [encode(OUTPUT, 5.0, chunk) for chunk in chunks]
    blob = bytearray(b"".join(records))
    which = data.draw(st.integers(0, len(records) - 1))
    start = sum(len(r) for r in records[:which])
    position = start + data.draw(st.integers(0, len(records[which]) - 1))
    blob[position] ^= data.draw(st.integers(1, 255))
    damage: list[Damage] = []
    read = list(decode(bytes(blob), damage))
    assert [r.data for r in read] == chunks[:which]
    assert len(damage) == 1 and damage[0].offset == start


def test_events_round_trip_with_their_fields():
    (record,) = decode(encode_event(7.5, "closed", {"code": 1006, "reason": "gone"}))
    assert (record.kind, record.time) == (EVENT, 7.5)
    assert record.fields == {"event": "closed", "code": 1006, "reason": "gone"}


def test_a_damaged_segment_is_read_up_to_the_damage_with_one_note_and_later_sessions_still(tmp_path):
    folder = tmp_path / "t"
    for text in (b"first session\r\n", b"second session\r\n"):
        writer = JournalWriter.open("x", kind="connect", folder=folder)
        writer.output(text)
        writer.output(b"more " + text)
        writer.close()
    first = segments(folder)[0]
    blob = first.read_bytes()
    first.write_bytes(blob[:blob.index(b"more first") + 3])  # power lost in the middle of the second chunk
    notes = ReadNotes()
    outputs = [r.data for r in read_records(Journal(folder, "x"), notes) if r.kind == OUTPUT]
    assert outputs == [b"first session\r\n", b"second session\r\n", b"more second session\r\n"]
    assert len(notes.notes) == 1 and first.name in notes.notes[0] and "cut short" in notes.notes[0]


@given(st.binary(max_size=400))
def test_any_bytes_decode_to_records_and_at_most_one_damage_note(blob):
    """A journal file is read whatever it holds (a disk error, another program's bytes): whole records,
    then at most one note of where the damage starts, never an exception."""
    damage: list[Damage] = []
    consumed: list[int] = []
    found = list(decode(blob, damage, consumed=consumed))
    assert len(damage) <= 1 and all(isinstance(r.data, bytes) for r in found)
    assert not damage or 0 <= damage[0].offset <= len(blob)
