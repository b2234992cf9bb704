"""sercon under a shell in a real pty, the shell printing `stty -g` before and after, as a user's shell
would see the terminal."""

from __future__ import annotations

import shlex

from tests.conftest import Terminal, cli_env


def shell_around(command: list[str], stdin: str = "") -> Terminal:
    line = " ".join(shlex.quote(part) for part in command)
    if stdin:
        line = f"printf {shlex.quote(stdin)} | {line}"
    script = f'stty -g; echo BEGIN; {line}; echo "EXIT=$?"; stty -g; sleep 30'
    return Terminal([], command=["/bin/sh", "-c", script], env=cli_env(), cols=200)


def modes(term: Terminal) -> tuple[str, str, int]:
    """The terminal modes before and after, and sercon's exit status."""
    match = term.wait_raw(rb"(?s)([0-9a-f:]{30,})\r\n.*?EXIT=(\d+)\r\n([0-9a-f:]{30,})\r\n", timeout=20)
    return match.group(1).decode(), match.group(3).decode(), int(match.group(2))
