"""`sercon send`: input in, console output out, for shell pipelines. Every wait has a deadline."""

from __future__ import annotations

import importlib
import math
import os
import re
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sercon.errors import ExitStatus, ExpectTimeout, InputNotText, SerconError, UsageError
from sercon.stream.pacing import PacedWriter
from sercon.stream.sinks import Pipeline, Sink
from sercon.terminal.echo import Answer, LastLine
from sercon.terminal.plain import PlainText, output_filter
from sercon.terminal.screen import write_all
from sercon.transport.base import Transport

if TYPE_CHECKING:
    from sercon.terminal.journal_sink import JournalSink

EOLS = {"cr": b"\r", "lf": b"\n", "crlf": b"\r\n"}
SEARCH_OVERLAP = 65536  # a match may start this far back in what was already searched
READ_SLICE = 0.2  # the longest read: the wait for an echo (echo.py) ends on time without output


@dataclass
class SendOptions:
    expect: str | None = None
    timeout: float = 10.0
    wait_idle: float | None = None
    paste_chunk: int = 2048
    raw: bool = False  # the console's bytes exactly, not plain lines (plain.py)

    def __post_init__(self) -> None:
        for name, value in (("--timeout", self.timeout), ("--wait-idle", self.wait_idle)):
            if value is not None and not (math.isfinite(value) and value > 0):
                raise UsageError(f"{name} {value:g} is not a number of seconds", f"give {name} a positive number, "
                                 "e.g. 10 or 0.5")
        if self.expect is not None:
            compile_expect(self.expect)  # a bad pattern is a usage error before anything is sent


def compile_expect(pattern: str):  # -> regex.Pattern[bytes]
    """--expect, compiled with the `regex` module, whose searches take a timeout: a pattern that
    backtracks catastrophically cannot outrun --timeout."""
    import regex

    encoded = pattern.encode("utf-8")
    if expansion(encoded) > MAX_EXPANSION:
        raise UsageError(f"--expect {pattern!r} repeats too much to compile (over {MAX_EXPANSION:,} pieces)",
                         "use a smaller count, or + and * (e.g. 'a{3,}' or 'a+')")
    try:
        return regex.compile(encoded)
    except (regex.error, ValueError) as exc:
        raise UsageError(f"--expect {pattern!r} is not a valid regular expression: {exc}") from exc


MAX_EXPANSION = 100_000  # the regex module builds counted repeats out: a{1000000000} took 22 GB


def expansion(pattern: bytes) -> int:
    """How many pieces the pattern's counted repeats multiply out to (nested counts multiply)."""
    try:
        # The stdlib's own parser, private (hence untyped): re._parser from 3.11, sre_parse before.
        sre_parse = importlib.import_module("re._parser" if sys.version_info >= (3, 11) else "sre_parse")
        return _cost(sre_parse.parse(pattern), sre_parse)
    except Exception:  # noqa: BLE001 - a syntax only `regex` knows: the largest count written
        return max((int(count) for count in re.findall(rb"\{\s*(\d+)", pattern)), default=1)


def _cost(items, sre_parse) -> int:
    total = 0
    for op, av in items:
        name = str(op)
        if name.endswith("_REPEAT"):
            low, high, sub = av
            count = high if high != sre_parse.MAXREPEAT else low
            total += max(1, count) * max(1, _cost(sub, sre_parse))
        else:
            nested = [_cost(part, sre_parse) for part in _subpatterns(av, sre_parse)]
            total += max(nested, default=1)
    return total


def _subpatterns(value, sre_parse):
    if isinstance(value, sre_parse.SubPattern):
        yield value
    elif isinstance(value, (list, tuple)):
        for part in value:
            yield from _subpatterns(part, sre_parse)


def text_input(words: Iterable[str], eol: str) -> list[bytes]:
    """TEXT arguments: joined by spaces and ended as Enter would end them."""
    return [" ".join(words).encode("utf-8", "surrogateescape") + EOLS[eol]]  # argv bytes as given (os.fsencode)


def stream_input(fd: int, eol: str) -> Iterator[bytes]:
    """stdin as it arrives; with --eol cr or crlf each line end becomes that, with lf bytes pass untouched."""
    carry = b""
    while data := os.read(fd, 65536):
        if eol == "lf":
            yield data
            continue
        data = carry + data
        carry = b"\r" if data.endswith(b"\r") else b""
        data = data[: len(data) - len(carry)]
        yield data.replace(b"\r\n", b"\n").replace(b"\n", EOLS[eol])
    if carry:
        yield carry


class _Sender(threading.Thread):
    """Writes the input in chunks the console can take, so a slow line never blocks the reading;
    notes where the output stood as each chunk went (its echo comes after that)."""

    def __init__(self, transport: Transport, source: Iterable[bytes], chunk: int,
                 output_so_far: Callable[[], int], sent: Callable[[bytes], None] | None = None) -> None:
        super().__init__(name="sercon-send", daemon=True)
        self.transport, self.source, self.chunk = transport, source, chunk
        self.output_so_far, self.sent = output_so_far, sent
        self.line = LastLine()
        self.error: BaseException | None = None
        self.finished_at: float | None = None

    def run(self) -> None:
        # Input that is not text (a text-only gateway) is counted: the rest goes on, the count is
        # reported at the end.
        writer = PacedWriter(self.transport, self.chunk, before=self._going, after=self.sent, tolerate_not_text=True)
        try:
            for data in self.source:
                writer.write(data)
            if writer.not_text:
                self.error = InputNotText(writer.not_text)
        except BaseException as exc:  # reported by the reading side
            self.error = exc
        self.finished_at = time.monotonic()

    def _going(self, piece: bytes) -> None:
        self.line.feed(piece, self.output_so_far())


class _Reader:
    """The console's output as send prints it (plain lines unless --raw), and the search for --expect
    in what came after the echo of the input (echo.py)."""

    def __init__(self, options: SendOptions, out_fd: int) -> None:
        self.options, self.out_fd = options, out_fd
        self.pattern = compile_expect(options.expect) if options.expect else None
        self.text = output_filter(options.raw)
        self.received = bytearray()
        self.printed = self.searched = 0
        self.answer: Answer | None = None
        self.fresh = False  # the last chunk had something to print

    def rx(self, data: bytes) -> None:
        """New output (a sink of send's receive pipeline); ``fresh`` says whether some is to print."""
        data = self.text.feed(data)
        self.received += data
        self.fresh = bool(data)

    def match(self, sender: _Sender, deadline: float) -> re.Match | None:
        """The first match in the answer so far (None: none yet, or the echo may still come)."""
        if self.pattern is None or sender.finished_at is None:
            return None
        self.answer = self.answer or Answer(sender.line)
        start = self.answer.find_start(self.received, sender.finished_at, time.monotonic())
        if start is None or (len(self.received) <= self.searched and self.searched >= start):
            return None
        pos = max(start, self.searched - SEARCH_OVERLAP)
        self.searched = len(self.received)
        while (found := self.pattern.search(self.received, pos,
                                            timeout=max(0.001, deadline - time.monotonic()))) is not None:
            copy = self.answer.echo_over(self.received, found)
            if copy is None:
                return found
            pos = copy.end()
        return None

    def known_end(self, sender: _Sender) -> int | None:
        """How far output may be printed now (None: all of it). Until the echo came, a match may still
        start anywhere after the last line began to go out: what came before that can go."""
        if self.pattern is None or (self.answer is not None and self.answer.start is not None):
            return None
        return sender.line.earliest_answer()

    def print(self, end: int | None = None) -> None:
        end = len(self.received) if end is None else end
        write_all(self.out_fd, bytes(self.received[self.printed : max(self.printed, end)]))
        self.printed = max(self.printed, end)

    def print_rest(self) -> None:
        self.received += self.text.flush()
        self.print()


def run_send(transport: Transport, source: Iterable[bytes], options: SendOptions, out_fd: int,
             journal: JournalSink | None = None) -> ExitStatus:
    """Send *source*, print the output; *journal* keeps what the console printed (and the input, if asked)."""
    if journal is None:
        return _run_send(transport, source, options, out_fd, None)
    journal.event("connected")
    code, reason = int(ExitStatus.ERROR), "send was interrupted"
    try:
        status = _run_send(transport, source, options, out_fd, journal)
        code, reason = int(status), "send ended"
        return status
    except SerconError as exc:
        code, reason = int(exc.exit_status), exc.message
        raise
    finally:
        journal.close(code=code, reason=reason)


def _run_send(transport: Transport, source: Iterable[bytes], options: SendOptions, out_fd: int,
              journal: JournalSink | None) -> ExitStatus:
    reader = _Reader(options, out_fd)
    sinks: tuple[Sink, ...] = (reader,) if journal is None else (reader, journal)
    rx = Pipeline(*sinks)
    transport.discard_input()
    size = min(options.paste_chunk, transport.max_write or options.paste_chunk)
    sender = _Sender(transport, source, size, lambda: len(reader.received),
                     journal.input if journal is not None else None)
    start = time.monotonic()
    deadline = start + options.timeout
    sender.start()
    last_rx = start
    while True:
        if sender.error is not None:
            raise sender.error
        now = time.monotonic()
        if sender.finished_at is not None and reader.pattern is None:
            if sender.error is not None:  # set just before finished_at: seen here, not at the top
                raise sender.error
            quiet_since = max(last_rx, sender.finished_at)
            if options.wait_idle is None or now - quiet_since >= options.wait_idle:
                reader.print_rest()
                return ExitStatus.SUCCESS
        if now >= deadline:
            reader.print_rest()  # partial output is kept, to the last byte
            raise _timeout(options, reader.pattern, sender)
        wait = deadline - now
        if options.wait_idle is not None:
            wait = min(wait, max(0.01, options.wait_idle - (now - last_rx)))
        data = transport.read(min(wait, READ_SLICE))
        if data:
            rx.rx(data)
            if reader.fresh:
                last_rx = time.monotonic()
        try:
            match = reader.match(sender, deadline)
        except TimeoutError:
            reader.print()
            raise _timeout(options, reader.pattern, sender) from None
        if match:
            reader.print(match.end())
            return ExitStatus.SUCCESS
        reader.print(reader.known_end(sender))


ANSWER_WAIT = 1.0  # a one-shot's look at the console after its last key
ANSWER_QUIET = 0.3  # once the console answered, this much quiet ends the look early


class ConsoleAnswer:
    """What the console prints after a one-shot action (the kernel's reply to a SysRq), on stdout as
    plain lines, as `send` prints: the look is bounded, and says nothing when nothing came."""

    def __init__(self, transport: Transport, out_fd: int, journal: JournalSink | None = None) -> None:
        self.transport, self.out_fd, self.journal = transport, out_fd, journal
        self.text = PlainText()
        if journal is not None:
            journal.event("connected")
        self._ended = False

    def show(self, seconds: float, stop_when_quiet: bool = False) -> None:
        """Print what the console prints for *seconds* (less once it answered and went quiet)."""
        deadline = time.monotonic() + seconds
        quiet_at: float | None = None
        while not self._ended and (now := time.monotonic()) < deadline and (quiet_at is None or now < quiet_at):
            wait = min(deadline, quiet_at or deadline) - now
            try:
                data = self.transport.read(min(wait, READ_SLICE))
            except SerconError as exc:  # the key went out: a console that goes away now ends the look, not the command
                self._ended = True
                if self.journal is not None:
                    self.journal.event("lost", reason=exc.message)
                break
            if data:
                write_all(self.out_fd, self.text.feed(data))
                if self.journal is not None:
                    self.journal.rx(data)
                if stop_when_quiet:
                    quiet_at = time.monotonic() + ANSWER_QUIET

    def close(self) -> None:
        write_all(self.out_fd, self.text.flush())


def _timeout(options: SendOptions, pattern, sender: _Sender) -> ExpectTimeout:
    if sender.finished_at is None:
        return ExpectTimeout(
            f"could not send all input within {options.timeout:g} s (the console is not taking it)",
            "check flow control (--flow) and the line speed, or raise --timeout",
        )
    if pattern is not None:
        return ExpectTimeout(
            f"no output matched --expect {pattern.pattern.decode()!r} within {options.timeout:g} s",
            "the output so far is on stdout; raise --timeout or loosen the pattern",
        )
    return ExpectTimeout(
        f"the console did not go quiet for {options.wait_idle:g} s within {options.timeout:g} s",
        "raise --timeout or lower --wait-idle",
    )
