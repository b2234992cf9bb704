"""The package's layers as a table, checked over every import (module-level or inside a function):
the core modules (sercon/*.py) import only each other, each layer only the layers below it, nothing
imports cli/ (but the entry point), no command module imports another, and the module-level imports
make no cycle."""

from __future__ import annotations

import ast

from tests.conftest import ROOT

# What each layer may import besides itself. A new package of sercon gets its line here.
MAY_IMPORT = {
    "core": set(),
    "journal": {"core", "stream"},
    "transport": {"core"},
    "stream": {"core", "transport"},  # the console-stream toolkit the session kinds share
    "azure": {"core", "transport"},
    "terminal": {"core", "transport", "journal", "stream"},
    "rescue": {"core", "transport", "terminal", "journal", "stream"},
    "transfer": {"core", "transport"},
    "cli": {"core", "transport", "azure", "terminal", "rescue", "transfer", "emulator", "journal", "stream"},
    "emulator": {"core", "transport"},
}
COMMAND_MODULES = {"session_commands", "rescue_command", "azure_commands", "account_commands",
                   "emulator_command", "info", "demo"}


def _modules() -> dict[str, ast.Module]:
    found = {}
    for package in ("sercon", "sercon_emulator"):
        for path in (ROOT / package).rglob("*.py"):
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
            found[name] = ast.parse(path.read_text(), str(path))
    return found


def _layer(module: str) -> str:
    parts = module.split(".")
    if parts[0] == "sercon_emulator":
        return "emulator"
    return parts[1] if len(parts) > 2 or (len(parts) == 2 and parts[1] in MAY_IMPORT) else "core"


def _imports(tree: ast.AST, modules: dict[str, ast.Module], top_level_only: bool = False) -> set[str]:
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    names: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names |= {node.module} | {f"{node.module}.{alias.name}" for alias in node.names}
    return {name for name in names if name in modules}


def test_every_layer_imports_only_the_layers_below_it():
    modules = _modules()
    unknown = {_layer(m) for m in modules} - set(MAY_IMPORT)
    assert not unknown, f"add the new layer(s) {unknown} to MAY_IMPORT"
    upward = [f"{m} -> {t}" for m, tree in modules.items() if m != "sercon.__main__"
              for t in _imports(tree, modules)
              if _layer(t) != _layer(m) and _layer(t) not in MAY_IMPORT[_layer(m)]]
    assert upward == []


def test_no_command_module_imports_another():
    modules = _modules()
    across = [f"{m} -> {t}" for m, tree in modules.items() if m.rsplit(".", 1)[-1] in COMMAND_MODULES
              for t in _imports(tree, modules) if t.startswith("sercon.cli.")
              and t.rsplit(".", 1)[-1] in COMMAND_MODULES and t != m]
    assert across == []


def test_module_level_imports_make_no_cycle():
    modules = _modules()
    graph = {m: {t for t in _imports(tree, modules, top_level_only=True) if t != m}
             for m, tree in modules.items()}
    done: set[str] = set()

    def visit(module: str, path: list[str]) -> None:
        if module in path:
            raise AssertionError(" -> ".join([*path[path.index(module):], module]))
        if module in done:
            return
        for target in graph[module]:
            visit(target, [*path, module])
        done.add(module)

    for module in graph:
        visit(module, [])
