"""`sercon doctor --fix` against the emulated Azure, as a pipe (--json) or as a process to interrupt."""

from __future__ import annotations

import json
import subprocess

from tests.conftest import ROOT, SERCON


def fix(azure, *args, input: bytes = b"", **env):
    """doctor --fix --yes --json, stdin a pipe (no terminal): the parsed JSON, and the result."""
    result = azure.cli("doctor", "--fix", "--yes", "--json", *args, input=input, **env)
    assert result.stdout, result.stderr
    return json.loads(result.stdout), result


def rows(checks: list[dict]) -> dict[str, dict]:
    return {row["name"]: row for row in checks}


def spawn(azure, *args: str) -> subprocess.Popen:
    return subprocess.Popen([*SERCON, *args], env=azure.env, cwd=str(ROOT), stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
