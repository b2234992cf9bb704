"""Everything a command touches of the outside world, in one object built in ``main``."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from typing import TextIO

from sercon.config import Config, config_path, load_config
from sercon.errors import redact


@dataclass
class Env:
    stdin: TextIO
    stdout: TextIO
    stderr: TextIO
    environ: dict[str, str] = field(default_factory=dict)
    debug: bool = False
    _config: Config | None = None

    @classmethod
    def from_process(cls) -> Env:
        return cls(sys.stdin, sys.stdout, sys.stderr, dict(os.environ))

    @property
    def stdout_fd(self) -> int:
        return self.stdout.fileno()

    @property
    def config(self) -> Config:
        if self._config is None:
            self._config = load_config(config_path(self.environ))
        return self._config

    def stdin_is_tty(self) -> bool:
        return self.stdin.isatty()

    def error(self, message: str, hint: str | None = None) -> None:
        text = f"sercon: error: {redact(message)}"
        if hint:
            text += f"\n  fix: {redact(hint)}"
        self.stderr.write(text + "\n")
        self.stderr.flush()

    def info(self, message: str) -> None:
        self.stderr.write(f"sercon: {message}\n")
        self.stderr.flush()
