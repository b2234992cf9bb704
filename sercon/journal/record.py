"""One journal record on disk, written and read: binary-safe, checked, and found again after damage.

    magic b"\\xa7J" | type (1 byte: O output, I input, E event) | time (float64, seconds since the epoch)
    | length (uint32) | CRC-32 of type+time+length+payload (uint32) | payload (length bytes)

An event's payload is UTF-8 JSON {"event": kind, ...fields}. A record that is cut short (power loss while
writing) or fails its CRC ends what is read of that file: decode() says where, and the reader notes it.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field

MAGIC = b"\xa7J"
OUTPUT, INPUT, EVENT = ord("O"), ord("I"), ord("E")
_HEAD = struct.Struct("<2sBdII")
_CHECKED = struct.Struct("<BdI")
MAX_PAYLOAD = 16 * 2**20


@dataclass(frozen=True)
class Record:
    kind: int  # OUTPUT, INPUT or EVENT
    time: float
    data: bytes = b""  # OUTPUT / INPUT: the bytes as received or typed
    fields: dict[str, object] = field(default_factory=dict)  # EVENT: {"event": kind, ...}
    session: int = 0  # filled in by the reader (from the file name)

    @property
    def type_name(self) -> str:
        return {OUTPUT: "output", INPUT: "input", EVENT: "event"}.get(self.kind, "?")


def encode(kind: int, when: float, payload: bytes) -> bytes:
    crc = zlib.crc32(payload, zlib.crc32(_CHECKED.pack(kind, when, len(payload))))
    return _HEAD.pack(MAGIC, kind, when, len(payload), crc) + payload


def event_payload(kind: str, fields: dict[str, object]) -> bytes:
    import json  # not on the way to the console's first byte

    return json.dumps({"event": kind, **fields}, default=str, ensure_ascii=False).encode()


def encode_event(when: float, kind: str, fields: dict[str, object]) -> bytes:
    return encode(EVENT, when, event_payload(kind, fields))


@dataclass
class Damage:
    offset: int
    why: str


def decode(blob: bytes, damage: list[Damage] | None = None, session: int = 0,
           consumed: list[int] | None = None) -> Iterator[Record]:
    """The records of one segment, in order, up to the first damaged one (appended to *damage*);
    *consumed* gets the offset after the last whole record (where a follower reads on from)."""
    offset, size = 0, len(blob)
    while offset < size:
        if consumed is not None:
            consumed[:] = [offset]
        if size - offset < _HEAD.size:
            return _note(damage, offset, "a record cut short")
        magic, kind, when, length, crc = _HEAD.unpack_from(blob, offset)
        if magic != MAGIC or kind not in (OUTPUT, INPUT, EVENT) or length > MAX_PAYLOAD:
            return _note(damage, offset, "not a record")
        start = offset + _HEAD.size
        payload = blob[start:start + length]
        if len(payload) < length:
            return _note(damage, offset, "a record cut short")
        if zlib.crc32(payload, zlib.crc32(_CHECKED.pack(kind, when, length))) != crc:
            return _note(damage, offset, "a record that fails its check")
        offset = start + length
        if kind == EVENT:
            import json

            try:
                fields = json.loads(payload.decode())
            except ValueError:
                fields = {"event": "unreadable"}
            yield Record(kind, when, fields=fields if isinstance(fields, dict) else {"event": "unreadable"},
                         session=session)
        else:
            yield Record(kind, when, data=payload, session=session)
    if consumed is not None:
        consumed[:] = [offset]


def _note(damage: list[Damage] | None, offset: int, why: str) -> None:
    if damage is not None:
        damage.append(Damage(offset, why))
