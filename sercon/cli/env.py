"""Everything a command touches of the outside world, in one object built in ``main``."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, TextIO

from sercon.errors import redact

if TYPE_CHECKING:
    from sercon.config import Config


class Env:
    """Streams, environment and config for one run (a plain class: dataclasses cost start-up time)."""

    def __init__(self, stdin: TextIO, stdout: TextIO, stderr: TextIO, environ: dict[str, str] | None = None) -> None:
        self.stdin, self.stdout, self.stderr = stdin, stdout, stderr
        self.environ = environ if environ is not None else {}
        self.debug = False
        self._config: Config | None = None

    @classmethod
    def from_process(cls) -> Env:
        return cls(sys.stdin, sys.stdout, sys.stderr, dict(os.environ))

    @property
    def stdout_fd(self) -> int:
        return self.stdout.fileno()

    @property
    def config(self) -> Config:
        if self._config is None:
            from sercon.config import config_path, load_config

            self._config = load_config(config_path(self.environ))
        return self._config

    def stdin_is_tty(self) -> bool:
        return self.stdin.isatty()

    def confirmed(self, question: str, yes: bool) -> bool:
        """--yes, or the user's y at a terminal; without a terminal, --yes is required."""
        if yes:
            return True
        if not self.stdin_is_tty():
            from sercon.errors import UsageError

            raise UsageError(f"{question.rstrip('?')}: needs confirmation", "add --yes to go ahead without asking")
        return self.confirm(question)

    def confirm(self, question: str) -> bool:
        """y or n on the terminal (the library flows ask through this; Ctrl-C or end of input is an
        interrupt, as anywhere else)."""
        import click

        with _abort_as_interrupt():
            return click.confirm(question, err=True)

    def prompt(self, question: str, default: str, check: Callable[[str], str]) -> str:
        """An answer on the terminal, asked again until *check* takes it (its refusal is shown)."""
        import click

        with _abort_as_interrupt():
            return str(click.prompt(question, default=default, err=True, value_proc=_asked(check)))

    def password(self, question: str, check: Callable[[str], str]) -> str:
        """A secret on the terminal: hidden, asked twice, asked again until *check* takes it."""
        import click

        with _abort_as_interrupt():
            return str(click.prompt(question, hide_input=True, confirmation_prompt=True, err=True,
                                    value_proc=_asked(check, hidden=True)))

    def error(self, message: str, hint: str | None = None) -> None:
        text = f"sercon: error: {redact(message)}"
        if hint:
            text += f"\n  fix: {redact(hint)}"
        self.stderr.write(text + "\n")
        self.stderr.flush()

    def info(self, message: str) -> None:
        """A line of sercon's own on stderr; CR LF on a terminal, which may be in raw mode (an ARM
        retry notice during a reconnect) where a bare LF would leave a staircase."""
        end = "\r\n" if self.stderr.isatty() else "\n"
        self.stderr.write(f"sercon: {redact(message)}{end}")
        self.stderr.flush()


@contextlib.contextmanager
def _abort_as_interrupt() -> Iterator[None]:
    """click's Abort (Ctrl-C or end of input at a question) as KeyboardInterrupt: the flows below cli/
    know no click, and sercon's main says the same for both."""
    import click

    try:
        yield
    except click.Abort as exc:
        raise KeyboardInterrupt from exc


def _asked(check: Callable[[str], str], hidden: bool = False) -> Callable[[str], str]:
    """A check for click.prompt: its refusal is shown, and the question asked again (for a hidden answer
    click says only that it was invalid: the reason, which never quotes the answer, is said first)."""
    import click

    from sercon.errors import UsageError

    def value_proc(value: str) -> str:
        try:
            return check(value)
        except UsageError as exc:
            if hidden:
                click.echo(f"sercon: {exc.message}", err=True)
            raise click.UsageError(exc.message) from None

    return value_proc
