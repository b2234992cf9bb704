"""Everything a command touches of the outside world, in one object built in ``main``."""

from __future__ import annotations

import os
import sys
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
        import click

        return click.confirm(question, err=True)

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
