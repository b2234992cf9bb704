"""How results look: doctor's checks as lines that copy whole, JSON for scripts, a spinner meanwhile.

Doctor's human output is no table: a table cuts or wraps its cells, and a fix is a command to copy.
One line per check (a mark, the name, what was found) and under a failed or warned check its fix,
whole, on its own indented line. The terminal may wrap a long line on screen; selecting it still
copies one line. Marks are ✓ ! ✗ on a UTF-8 terminal, else the words ok, warn, FAIL (also when piped,
for grep). Colour only on a terminal, never with NO_COLOR or TERM=dumb.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import asdict
from typing import TYPE_CHECKING, TextIO

from sercon.checks import FAIL, OK, WARN, CheckResult
from sercon.cli.env import Env
from sercon.errors import redact

if TYPE_CHECKING:
    from sercon.azure.fix_run import FixRun
    from sercon.azure.fixes import Outcome

FIX_INDENT = "    "
WORDS = {OK: "ok  ", WARN: "warn", FAIL: "FAIL"}
MARKS = {OK: "✓", WARN: "!", FAIL: "✗"}
COLOURS = {OK: "32", WARN: "33", FAIL: "1;31"}  # green, yellow, bold red
SPINNER_UTF8, SPINNER_ASCII = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏", "|/-\\"
SPIN_EVERY = 0.08  # seconds per frame


def render_checks(env: Env, title: str, rows: list[CheckResult], as_json: bool, error: str | None = None) -> None:
    """The rows; *error*: the message of the error that follows on stderr (the VM could not be read),
    whose row the human table leaves to it, with the summary: said once, not twice."""
    if as_json:
        env.stdout.write(json.dumps({"target": title, "checks": [asdict(r) for r in rows]}, indent=2) + "\n")
        return
    style = Style.for_stream(env.stdout, env.environ)
    lines = [f"doctor: {title}"]
    shown = [row for row in rows if error is None or row.status != FAIL or row.found != error]
    for row in shown:
        lines.append(f"{style.mark(row.status)} {row.name}: {row.found}")
        if row.fix and row.status != OK:
            lines += [FIX_INDENT + part for part in row.fix.splitlines()]  # never wrapped, never cut
    if len(shown) == len(rows):
        lines.append(summary(rows))
    env.stdout.write("\n".join(lines) + "\n")
    env.stdout.flush()


FIX_MARKS = {"applied": OK, "accepted": WARN, "declined": WARN, "failed": FAIL, "manual": WARN}


def render_outcome(env: Env, outcome: Outcome, why: str = "") -> None:
    """One line per repair, as it ends; a manual one's command whole on its own line, like a check's fix."""
    style = Style.for_stream(env.stdout, env.environ)
    head = f"{style.mark(FIX_MARKS.get(outcome.status, WARN))} fix {outcome.name}: {outcome.status}"
    if outcome.status == "manual":
        lines = [f"{head}: {why}:" if why else f"{head}:", *(FIX_INDENT + part for part in outcome.detail.splitlines())]
    else:
        lines = [f"{head}: {outcome.detail}"]
    env.stdout.write("\n".join(lines) + "\n")
    env.stdout.flush()


def render_fix_json(env: Env, title: str, before: list[CheckResult], fixes: list[dict],
                    after: list[CheckResult] | None) -> None:
    """--fix --json: the checks before, each repair (name, status, detail) and the checks after; after an
    interrupt, the repairs so far, "checks": null and "interrupted": true."""
    report = {"target": title, "before": [asdict(r) for r in before], "fixes": fixes,
              "checks": [asdict(r) for r in after] if after is not None else None}
    env.stdout.write(json.dumps(report if after is not None else {**report, "interrupted": True}, indent=2) + "\n")
    env.stdout.flush()


def render_fix_interrupted(env: Env, sent: list[str]) -> None:
    """What an interrupted --fix had sent to Azure, which may still carry it out, and how to see."""
    env.stderr.write(f"\nsercon: interrupted, after sending to Azure: {redact('; '.join(sent))}\n"
                     "  fix: Azure may still carry it out: run `sercon doctor` again to see the state now\n")
    env.stderr.flush()


def render_fix_run(env: Env, title: str, run: FixRun, as_json: bool) -> None:
    """A fix run's end: the JSON, or the checks made again, or that nothing changed; for an
    interrupted run, what was sent (the outcomes themselves were drawn as each ended)."""
    from sercon.azure.fixes import outcomes_json

    if run.interrupted is not None:
        outcomes = [*run.outcomes, *([run.in_flight] if run.in_flight else [])]
        if as_json:
            render_fix_json(env, title, run.before.rows, outcomes_json(outcomes), None)
        elif run.in_flight is not None:
            render_outcome(env, run.in_flight)
        render_fix_interrupted(env, run.sent)
    elif as_json:
        render_fix_json(env, title, run.before.rows, outcomes_json(run.outcomes), run.after.rows)
    elif run.rechecked:
        render_checks(env, f"{title}, after the fixes", run.after.rows, False,
                      run.after.error.message if run.after.error else None)
    else:
        env.stdout.write("fix: nothing was changed\n" if run.outcomes else "fix: nothing to repair\n")


def render_warning(env: Env, row: CheckResult) -> None:
    """A check that warned before a connect: one line of sercon's own on stderr, with its fix."""
    env.info(f"warning: {row.name}: {row.found}" + (f" (fix: {row.fix})" if row.fix else ""))


def summary(rows: list[CheckResult]) -> str:
    failed = sum(r.status == FAIL for r in rows)
    warned = sum(r.status == WARN for r in rows)
    if not failed and not warned:
        return f"all {len(rows)} checks passed"
    parts = [f"{failed} failed"] if failed else []
    parts += [f"{warned} warning{'s' if warned != 1 else ''}"] if warned else []
    return ", ".join(parts) + ": each fix is under its check"


class Style:
    """Marks or words, with or without colour, for one output stream."""

    def __init__(self, utf8: bool, colour: bool) -> None:
        self.utf8, self.colour = utf8, colour

    @classmethod
    def for_stream(cls, stream: TextIO, environ: dict[str, str]) -> Style:
        tty = stream.isatty()
        return cls(utf8=tty and utf8_locale(environ), colour=tty and colour_allowed(environ))

    def mark(self, status: str) -> str:
        text = MARKS.get(status, "?") if self.utf8 else WORDS.get(status, status)
        return f"\x1b[{COLOURS[status]}m{text}\x1b[0m" if self.colour and status in COLOURS else text


def colour_allowed(environ: dict[str, str]) -> bool:
    """https://no-color.org: NO_COLOR set and not empty turns colour off; so does a dumb terminal."""
    return not environ.get("NO_COLOR") and environ.get("TERM", "") != "dumb"


def utf8_locale(environ: dict[str, str]) -> bool:
    """Whether the user's locale (LC_ALL, else LC_CTYPE, else LANG) is UTF-8.

    Under a C locale Python sets LC_CTYPE=C.UTF-8 for itself (PEP 538); that says nothing about the
    terminal, so it does not count.
    """
    lc_all, ctype, lang = (environ.get(k, "") for k in ("LC_ALL", "LC_CTYPE", "LANG"))
    if not lc_all and ctype == "C.UTF-8" and lang in ("", "C", "POSIX"):
        ctype = ""
    value = (lc_all or ctype or lang).lower()
    return "utf-8" in value or "utf8" in value


def checking(env: Env, label: str) -> contextlib.AbstractContextManager[None]:
    """A spinner on stderr while the checks run."""
    return spinner(env, f"checking {label}")


class _OwnLine:
    """stderr while sercon's own moving line (a spinner, a progress line) is on it: any other write (a
    warning, a retry notice, from any thread) first clears that line, so it starts on a line of its
    own, and once it ends its line the moving line is drawn again below it."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.lock = threading.RLock()
        self.drawn = ""  # the moving line as it is on the screen now ("" when none is)

    def draw(self, text: str) -> None:
        with self.lock:
            self.stream.write(text)
            self.stream.flush()
            self.drawn = text

    def write(self, text: str) -> int:
        with self.lock:
            moving, self.drawn = self.drawn, ""
            if moving:
                self.stream.write("\r\x1b[K")
            written = self.stream.write(text)
            if moving and text.endswith("\n"):
                self.stream.write(moving)
                self.drawn = moving
            return written

    def __getattr__(self, name: str) -> object:
        return getattr(self.stream, name)


@contextlib.contextmanager
def _own_line(env: Env) -> Iterator[_OwnLine]:
    """env.stderr as an _OwnLine for the block; the moving line cleared at its end, whatever the way out."""
    line = _OwnLine(env.stderr)
    env.stderr = line  # type: ignore[assignment]
    try:
        yield line
    finally:
        env.stderr = line.stream
        with line.lock:
            if line.drawn:
                line.stream.write("\r\x1b[K")
                line.stream.flush()
            line.drawn = ""


@contextlib.contextmanager
def spinner(env: Env, text: str) -> Iterator[None]:
    """A spinner on stderr while *text* goes on, on a terminal only; one still line when animation is off.
    Other lines written meanwhile (warnings, retry notices) start on a line of their own; it resumes below.

    Its own small thread, not rich's: importing rich would cost a connect ~70 ms."""
    stream = env.stderr
    if not stream.isatty():
        yield
        return
    if not colour_allowed(env.environ):  # NO_COLOR, TERM=dumb: nothing that moves
        stream.write(f"sercon: {text} ...\n")
        stream.flush()
        yield
        return
    frames = SPINNER_UTF8 if utf8_locale(env.environ) else SPINNER_ASCII
    width = _width(stream)
    stop = threading.Event()
    stream.write("\x1b[?25l")  # the cursor would flicker over the frames
    try:
        with _own_line(env) as line:

            def spin() -> None:
                index = 0
                while not stop.is_set():
                    line.draw(f"\r{frames[index % len(frames)]} {text}"[:width])  # under a row: \r reaches its start
                    index += 1
                    stop.wait(SPIN_EVERY)

            thread = threading.Thread(target=spin, name="sercon-spinner", daemon=True)
            thread.start()
            try:
                yield
            finally:
                stop.set()
                thread.join()
    finally:
        stream.write("\r\x1b[K\x1b[?25h")  # every way out, a signal's too, gives the cursor back
        stream.flush()


@contextlib.contextmanager
def progress_line(env: Env) -> Iterator[Callable[[str], None] | None]:
    """A line on stderr that a long-running operation rewrites as it goes, on a terminal only (none when
    piped); with NO_COLOR or TERM=dumb, nothing that moves: each new state on a line of its own. Other
    lines written meanwhile start on a line of their own, the progress line below them."""
    stream = env.stderr
    if not stream.isatty():
        yield None
        return
    width = _width(stream)
    if not colour_allowed(env.environ):
        def say(text: str) -> None:
            stream.write(f"sercon: {redact(text)}\n")
            stream.flush()

        yield say
        return
    with _own_line(env) as line:
        yield lambda text: line.draw(f"\r{f'sercon: {redact(text)}'[:width - 1]}\x1b[K")


def _width(stream: TextIO) -> int:
    """The terminal's columns: the spinner's \r plus columns - 1 characters never wrap."""
    try:
        return max(os.get_terminal_size(stream.fileno()).columns, 2)
    except (OSError, ValueError):
        return 80
