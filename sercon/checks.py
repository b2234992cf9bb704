"""A prerequisite check's result, shared by the Azure checks and the local device checks."""

from __future__ import annotations

from dataclasses import dataclass

OK, WARN, FAIL = "ok", "warn", "fail"


@dataclass(frozen=True)
class CheckResult:
    name: str
    status: str
    found: str
    fix: str = ""
