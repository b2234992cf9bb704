"""Where the console's answer starts: after its echo of the last line `sercon send` typed.

A console types back what it is sent (a getty's tty, bash's readline), so `--expect done` with the
input `echo done` would match the echo at once. The rule (docs/commands.md, send):

- the pattern is searched only in what the console printed after its echo of the last line sent
  that has text. The echo is the line's text (its last KEEP bytes, control characters left out),
  then a line end if the line was ended, found in the output since the line began to go out; CRs,
  LFs and terminal control sequences may come between its characters (a shell wraps a long line);
  it does not start inside a word, and it comes after the echoes of the lines typed before it (so
  `ls` is not found at the end of `cd /srv/tools`, nor in the `tools` that `echo tools` printed);
- a match inside a later copy of that echo is passed over (bash shows a line that arrived while a
  command ran twice: the terminal echoes it on arrival, readline again when it reads it);
- when no echo shows within ECHO_WAIT of the input having gone out (a console that does not echo, a
  password prompt), the search covers what the console printed since the line began to go out;
- input with no text (`send ''`: Enter alone) has no echo to wait for: the search covers what the
  console printed since it began to go out.
"""

from __future__ import annotations

import re

ECHO_WAIT = 1.0
KEEP = 200  # the end of a line is enough to find where its echo ends
EARLIER = 64  # earlier lines whose echoes are passed before the last line's is looked for
EOL = re.compile(rb"[\r\n]")
CONTROL = bytes(range(0x20)) + b"\x7f"  # not echoed as themselves (^C, a tab completes): left out
FILL = rb"(?:[\r\n]|\x1b\[[0-9;?]*[ -/]*[@-~])*"  # what a console may put between the echoed characters


class LastLine:
    """The input as it goes out: its last line with text, and where the output stood as it began to go."""

    def __init__(self) -> None:
        self.text = b""  # the last line with text (its last KEEP bytes)
        self.mark = 0  # how much output had come when that line began to go out
        self.ended = False  # a line end followed it
        self.last_mark = 0  # how much output had come when the last input went out
        self.earlier: list[tuple[bytes, int]] = []  # the lines with text before it (text, mark), the last EARLIER
        self._line = b""
        self._line_mark = 0

    def feed(self, data: bytes, mark: int) -> None:
        """*data* is about to be written; *mark* is how much output has come so far."""
        start = 0
        for end in EOL.finditer(data):
            self._add(data[start : end.start()], mark)
            self.ended = self.ended or bool(self._line)
            self._line = b""
            start = end.end()
        self._add(data[start:], mark)
        self.last_mark = mark

    def earliest_answer(self) -> int:
        """No match for --expect can start before this (read while input still goes out: a lower bound)."""
        return self.mark if self.text else self.last_mark

    def _add(self, chunk: bytes, mark: int) -> None:
        text = chunk.translate(None, CONTROL)
        if not text:
            return
        if not self._line:
            self._line_mark = mark
            if self.text and self.ended:  # the line before is complete: its echo comes first
                self.earlier = [*self.earlier, (self.text, self.mark)][-EARLIER:]
        self._line = (self._line + text)[-KEEP:]
        self.text, self.mark, self.ended = self._line, self._line_mark, False


class Answer:
    """Where --expect may search, once all input went out (see the rule above)."""

    def __init__(self, line: LastLine) -> None:
        self.line = line
        self.start: int | None = None  # None while the echo may still come
        self._echo: re.Pattern[bytes] | None = None

    def find_start(self, received: bytes | bytearray, sent_at: float, now: float) -> int | None:
        if self.start is not None:
            return self.start
        line = self.line
        if not line.text:
            self.start = line.last_mark
            return self.start
        if self._echo is None:
            self._echo = echo_of(line.text, line.ended)
        echo = self._echo.search(received, self._after_earlier(received))
        if echo is not None:
            self.start = echo.end()
        elif now >= sent_at + ECHO_WAIT:
            self.start = line.mark
        return self.start

    def _after_earlier(self, received: bytes | bytearray) -> int:
        """Where the last line's echo may start: past the echoes of the lines typed before it."""
        position = self.line.earlier[0][1] if self.line.earlier else self.line.mark
        for text, mark in self.line.earlier:
            echo = echo_of(text, True).search(received, max(position, mark))
            if echo is not None:
                position = echo.end()
        return max(position, self.line.mark)

    def echo_over(self, received: bytes | bytearray, match: re.Match) -> re.Match | None:
        """A copy of the echo that *match* lies in (or touches), if any: that match is passed over."""
        if self._echo is None:
            return None
        end = max(match.end(), match.start() + 1)
        for copy in self._echo.finditer(received, self.line.mark):
            if copy.start() >= end:
                return None
            if copy.end() > match.start():
                return copy
        return None


def echo_of(text: bytes, ended: bool) -> re.Pattern[bytes]:
    """The console's echo of *text*: not inside a word, fill allowed between its characters."""
    body = FILL.join(re.escape(bytes([byte])) for byte in text)
    word = rb"(?<![A-Za-z0-9_])" if re.match(rb"\w", text[:1]) else b""
    return re.compile(word + body + (FILL + rb"\n" if ended else b""))
