"""click's lazy group: a command's module is imported when that command runs, so `sercon connect`
imports no other command's module (a shorter way to the console's first byte).

The pattern click's documentation gives (list_commands / get_command); listing the commands (help,
completion) and a name nobody defines (click's "did you mean") load them all.
"""

from __future__ import annotations

from importlib import import_module

import click


class LazyGroup(click.Group):
    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.lazy: dict[str, str] = {}  # command name -> its module under sercon.cli, not imported yet

    def add_lazy(self, module: str, names: tuple[str, ...]) -> None:
        self.lazy.update(dict.fromkeys(names, module))

    def list_commands(self, ctx: click.Context) -> list[str]:
        self._load_all()
        return super().list_commands(ctx)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in self.lazy:
            self._load(self.lazy[name])
        elif name not in self.commands:
            self._load_all()  # an unknown name: click's suggestions need every command
        return super().get_command(ctx, name)

    def _load(self, module: str) -> None:
        for command in import_module(f"sercon.cli.{module}").COMMANDS:
            self.add_command(command)
        self.lazy = {name: owner for name, owner in self.lazy.items() if owner != module}

    def _load_all(self) -> None:
        while self.lazy:
            self._load(next(iter(self.lazy.values())))
