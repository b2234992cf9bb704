"""The emulator is an optional extra: the client never imports it, and without its packages the two
commands that need it say how to install them instead of failing on an import."""

from __future__ import annotations

import ast
import subprocess
import sys

import pytest

from tests.conftest import ROOT, cli_env

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

# The only client modules that may reach the emulator, and only from inside the command.
LAZY_IMPORTERS = {"sercon/cli/demo.py", "sercon/cli/emulator_command.py"}


def _emulator_imports(tree: ast.AST) -> list[tuple[ast.stmt, bool]]:
    """Each import of sercon_emulator, with whether it runs at import time (not in a function or TYPE_CHECKING)."""
    found: list[tuple[ast.stmt, bool]] = []

    def visit(node: ast.AST, lazy: bool) -> None:
        for child in ast.iter_child_nodes(node):
            inner = lazy or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef))
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                inner = True
            names = []
            if isinstance(child, ast.Import):
                names = [alias.name for alias in child.names]
            elif isinstance(child, ast.ImportFrom) and child.level == 0:
                names = [child.module or ""]
            if any(name == "sercon_emulator" or name.startswith("sercon_emulator.") for name in names):
                found.append((child, not lazy))
            visit(child, inner)

    visit(tree, False)
    return found


def test_the_client_packages_never_import_the_emulator():
    offenders = []
    for path in sorted((ROOT / "sercon").rglob("*.py")):
        relative = path.relative_to(ROOT).as_posix()
        for node, eager in _emulator_imports(ast.parse(path.read_text(), relative)):
            if relative not in LAZY_IMPORTERS or eager:
                offenders.append(f"{relative}:{node.lineno}")
    assert offenders == []


def test_the_scan_sees_an_eager_import():
    tree = ast.parse("import os\nfrom sercon_emulator.server import Emulator\ndef f():\n    import sercon_emulator\n")
    assert [(node.lineno, eager) for node, eager in _emulator_imports(tree)] == [(2, True), (4, False)]


def test_the_emulator_packages_are_an_extra_that_the_tests_install():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    required = " ".join(project["dependencies"]).lower()
    extras = project["optional-dependencies"]
    assert "aiohttp" not in required and "pyjwt" not in required
    emulator = " ".join(extras["emulator"]).lower()
    assert "aiohttp" in emulator and "pyjwt" in emulator
    assert "sercon[emulator]" in extras["test"]


@pytest.mark.parametrize("missing", ["aiohttp", "jwt"])
@pytest.mark.parametrize("command", [["emulator"], ["demo"]])
def test_without_the_extra_the_emulator_commands_say_how_to_install_it(command, missing, tmp_path):
    hide = f"import sys; sys.modules[{missing!r}] = None; sys.argv[0] = 'sercon'; from sercon.cli import run; run()"
    done = subprocess.run([sys.executable, "-c", hide, *command], capture_output=True, timeout=30,
                          stdin=subprocess.DEVNULL, cwd=str(tmp_path),
                          env=cli_env(HOME=str(tmp_path), XDG_RUNTIME_DIR=str(tmp_path)))
    assert done.returncode == 6, done.stderr
    err = done.stderr.decode()
    assert err.startswith("sercon: error: ") and "Traceback" not in err
    assert "pip install 'sercon[emulator]'" in err and "pipx inject sercon aiohttp PyJWT" in err
    assert done.stdout == b""
