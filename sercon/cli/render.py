"""How results look: rich tables on a terminal, JSON for scripts."""

from __future__ import annotations

import json
from dataclasses import asdict

from sercon.checks import CheckResult
from sercon.cli.env import Env

STYLE = {"ok": "green", "warn": "yellow", "fail": "bold red"}


def render_checks(env: Env, title: str, rows: list[CheckResult], as_json: bool) -> None:
    if as_json:
        env.stdout.write(json.dumps({"target": title, "checks": [asdict(r) for r in rows]}, indent=2) + "\n")
        return
    from rich.console import Console
    from rich.table import Table

    table = Table("check", "status", "found", "fix", title=title, title_justify="left", show_lines=False)
    for row in rows:
        table.add_row(row.name, f"[{STYLE.get(row.status, '')}]{row.status}[/]", row.found, row.fix)
    Console(file=env.stdout).print(table)
