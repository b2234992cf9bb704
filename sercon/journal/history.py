"""What `sercon history` and `connect --replay` show of a journal: records made into lines, selected
(--since, --session, --grep, --lines), and rendered as plain text, raw bytes or JSON.

Text is the default everywhere, a terminal too: replaying a console's own clear-screen, alternate-screen
or terminal-query sequences would hide what was printed before it, or have the terminal answer. --raw
gives the bytes exactly as received.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from sercon.errors import UsageError
from sercon.journal.record import EVENT, INPUT, OUTPUT, Record

_CONTROLS = rb"[\x00-\x08\x0b-\x1f\x7f]"  # C0 controls but Tab and LF (CR is handled first)


@dataclass
class Line:
    time: float | None  # when its first byte arrived (None: a boot-log line, which has no time)
    session: int
    data: bytes = b""  # the line's bytes as received, its line ending included when it had one
    event: dict[str, object] | None = None
    source: str = "journal"  # or "boot-log"

    def text(self) -> str:
        return event_text(self) if self.event is not None else text_of(self.data)


def text_of(data: bytes) -> str:
    """A console line as plain text: escape sequences out, what a carriage return overwrote out, other
    control characters out, decoded as UTF-8 (undecodable bytes shown as U+FFFD)."""
    from sercon.terminal.prompt import ANSI

    plain = re.sub(ANSI, b"", data).rstrip(b"\r\n")
    plain = plain.rsplit(b"\r", 1)[-1]
    return re.sub(_CONTROLS, b"", plain).decode("utf-8", "replace")


def when(stamp: float | None) -> str:
    return "boot log" if stamp is None else time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(stamp))


def event_text(line: Line) -> str:
    fields = dict(line.event or {})
    name = fields.pop("event", "?")
    details = ", ".join(f"{key}={value}" for key, value in fields.items() if value not in (None, ""))
    return f"--- {when(line.time)} session {line.session}: {name}{f' ({details})' if details else ''} ---"


@dataclass
class LineAssembler:
    """Output records -> lines (per session; an event or a new session ends a half line)."""

    events: bool = True
    _pending: bytes = b""
    _started: float = 0.0
    _session: int = 0

    def feed(self, record: Record) -> Iterator[Line]:
        if record.session != self._session:
            yield from self.finish()
            self._session = record.session
        if record.kind == EVENT:
            yield from self.finish()
            if self.events:
                yield Line(record.time, record.session, event=record.fields)
            return
        if record.kind != OUTPUT:
            return  # typed input (--journal-input) is in --json only: its echo is in the output already
        data, start = self._pending + record.data, 0
        if not self._pending:
            self._started = record.time
        while (end := data.find(b"\n", start)) >= 0:
            yield Line(self._started, record.session, data[start:end + 1])
            self._started, start = record.time, end + 1
        self._pending = data[start:]

    def finish(self) -> Iterator[Line]:
        if self._pending:
            yield Line(self._started, self._session, self._pending)
        self._pending = b""


@dataclass
class Query:
    lines: int | None = None
    since: float | None = None
    session: int | None = None
    grep: str | None = None
    pattern: re.Pattern[str] | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        if self.grep is not None:
            try:
                self.pattern = re.compile(self.grep)
            except re.error as exc:
                raise UsageError(f"--grep {self.grep!r} is not a regular expression: {exc}",
                                 "write a Python regular expression, e.g. --grep 'panic|Oops'") from exc

    def keeps(self, line: Line) -> bool:
        if self.since is not None and line.time is not None and line.time < self.since:
            return False
        return self.pattern is None or bool(self.pattern.search(line.text()))

    def keeps_record(self, record: Record) -> bool:
        if self.since is not None and record.time < self.since:
            return False
        if self.pattern is None:
            return True
        text = text_of(record.data) if record.kind != EVENT else str(record.fields)
        return bool(self.pattern.search(text))


def lines_of(records: Iterable[Record], events: bool = True) -> list[Line]:
    assembler = LineAssembler(events)
    found = [line for record in records for line in assembler.feed(record)]
    return found + list(assembler.finish())


def last(items: list, count: int | None) -> list:
    return items if count is None else items[-count:] if count else []


def last_lines(lines: list[Line], count: int | None) -> list[Line]:
    """The last *count* console lines, with the events among and after them (events are not counted)."""
    if count is None or not lines:
        return lines
    if count == 0:
        return []
    seen = 0
    for index in range(len(lines) - 1, -1, -1):
        if lines[index].event is None:
            seen += 1
            if seen > count:
                return lines[index + 1:]
    return lines


def render(line: Line, mode: str) -> bytes:
    """One line for stdout: text (a newline added), or raw: the bytes as received, nothing else (no
    event lines: they would land inside the console's own half lines)."""
    if mode == "raw":
        return line.data
    return (line.text() + "\n").encode("utf-8", "replace")


def record_json(record: Record) -> str:
    """One JSON object per chunk or event: text as UTF-8 (U+FFFD for what is not), with the exact bytes in
    base64 too when the text cannot carry them."""
    import base64
    import json

    entry: dict[str, object] = {"time": _iso(record.time), "session": record.session, "type": record.type_name}
    if record.kind == EVENT:
        entry.update({key: value for key, value in record.fields.items()})
    else:
        entry["text"] = record.data.decode("utf-8", "replace")
        try:
            record.data.decode("utf-8")
        except UnicodeDecodeError:
            entry["base64"] = base64.b64encode(record.data).decode()
    return json.dumps(entry, ensure_ascii=False)


def boot_line_json(line: Line) -> str:
    import json

    return json.dumps({"time": None, "session": None, "type": "boot-log", "text": line.text()}, ensure_ascii=False)


def _iso(stamp: float) -> str:
    from datetime import datetime, timezone

    return datetime.fromtimestamp(stamp, timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_since(text: str, now: float | None = None) -> float:
    """--since: a duration back from now (90s, 10m, 2h, 1d) or a time (2026-12-04 03:00, 03:00: today,
    local time; with a zone offset, that zone)."""
    from datetime import datetime, timedelta

    now = time.time() if now is None else now
    value = text.strip()
    duration = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([smhd]?)", value)
    if duration:
        seconds = float(duration[1]) * {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}[duration[2]]
        return now - seconds
    try:
        if re.fullmatch(r"\d{1,2}:\d{2}(:\d{2})?", value):
            today = datetime.fromtimestamp(now)
            clock = datetime.strptime(value, "%H:%M:%S" if value.count(":") == 2 else "%H:%M")
            moment = today.replace(hour=clock.hour, minute=clock.minute, second=clock.second, microsecond=0)
            if moment.timestamp() > now:
                moment -= timedelta(days=1)  # 23:50 asked at 00:10: last night
            return moment.timestamp()
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        raise UsageError(f"--since {text!r} is neither a duration nor a time",
                         "write e.g. --since 10m, --since 2h, --since 03:00 or --since '2026-12-04 03:00'") from None


def merge_boot_log(boot: bytes, journal: list[Line]) -> list[Line]:
    """The boot log's lines from before the journal's first line: where the boot log runs on into what the
    journal holds (its last lines are the journal's first ones), that overlap is left out. The seam is
    where the boot log agrees longest with the journal's start (the latest such place on a tie: boot
    messages repeat across reboots)."""
    booted = [Line(None, 0, raw, source="boot-log") for raw in boot.splitlines(keepends=True)]
    ours = [_norm(line.text()) for line in journal if line.event is None][:2000]
    theirs = [_norm(line.text()) for line in booted]
    if not ours or not theirs:
        return booted
    best, seam, end = 0, len(booted), len(theirs) - 1
    for start in range(len(theirs)):
        if not theirs[start]:
            continue
        run = 0
        while start + run <= end and run < len(ours) and _agrees(
                theirs[start + run], ours[run], first=run == 0, last=start + run == end):
            run += 1
        if run and start + run == len(theirs) and run >= best:  # it agrees up to the boot log's end
            best, seam = run, start
    return booted[:seam]


def _norm(text: str) -> str:
    return text.strip()


def _agrees(boot_line: str, ours: str, first: bool, last: bool) -> bool:
    """The same line; or the journal's first one the tail of a boot-log line (the session began mid-line);
    or the boot log's last one the start of a journal line (the boot log stopped mid-line)."""
    return boot_line == ours or (first and bool(ours) and boot_line.endswith(ours)) or (
        last and bool(boot_line) and ours.startswith(boot_line))


def replay_text(lines: list[Line], count: int) -> bytes:
    """`connect --replay N`: the last *count* output lines, plain, between a header and a footer."""
    shown = last([line for line in lines if line.event is None], count)
    if not shown:
        return b""
    head = f"--- history: last {len(shown)} lines (from {when(shown[0].time)}) ---\n"
    body = "".join(line.text() + "\n" for line in shown)
    return (head + body + "--- end of history: live console follows ---\n").encode("utf-8", "replace")


KINDS = (OUTPUT, INPUT, EVENT)
