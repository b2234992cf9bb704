"""The test tree's own house rules: helpers live in tests/support/, so no test module imports another
(a helper kept in a test module ties its importers to that module's changes), and wait_for is one."""

from __future__ import annotations

import ast
import re

from tests.conftest import ROOT

TEST_MODULE = re.compile(r"^tests(\.\w+)*\.test_\w+$")


def _python_files() -> list:
    return sorted(path for path in (ROOT / "tests").rglob("*.py") if ".venv" not in path.parts)


def test_no_test_module_imports_another():
    offenders = []
    for path in _python_files():
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = [alias.name for alias in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            offenders += [f"{path.relative_to(ROOT)}:{node.lineno} {name}" for name in names
                          if TEST_MODULE.match(name)]
    assert offenders == []


def test_wait_for_is_written_once_in_the_support_package():
    defined = [f"{path.relative_to(ROOT)}" for path in _python_files()
               for node in ast.parse(path.read_text()).body
               if isinstance(node, ast.FunctionDef) and node.name == "wait_for"]
    assert defined == ["tests/support/waiting.py"]


def _pytest(*args: str, **env: str):
    import os
    import subprocess
    import sys

    environ = {k: v for k, v in os.environ.items() if k != "SERCON_SLOW"} | env
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:randomly", *args],
                          capture_output=True, text=True, cwd=str(ROOT), env=environ, timeout=120)


def test_the_slow_tests_are_skipped_by_default_with_how_to_run_them():
    done = _pytest("tests/azure/test_soak.py", "tests/azure/test_reconnect_policy.py::"
                   "test_persistent_refusals_back_off_then_stop")
    assert "2 skipped" in done.stdout, done.stdout
    assert "SERCON_SLOW=1" in done.stdout


def test_ci_runs_the_slow_tests():
    assert "export SERCON_SLOW=1" in (ROOT / ".ci" / "run").read_text().splitlines()
    done = _pytest("--collect-only", "-m", "slow", "tests/azure")
    assert "2 tests collected" in done.stdout or "2/" in done.stdout, done.stdout
