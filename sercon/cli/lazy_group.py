"""click's lazy group: a command's module is imported when that command runs, so `sercon connect`
imports no other command's module (a shorter way to the console's first byte).

The pattern click's documentation gives (list_commands / get_command). `sercon --help` and click's
"did you mean" need only the names and one-line summaries, which the registry keeps beside the
module names (tests/cli/test_lazy_commands.py checks them against the real commands), so they import
no command module either; only shell completion of command names loads them all.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib import import_module

import click


class LazyGroup(click.Group):
    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.lazy: dict[str, str] = {}  # command name -> its module under sercon.cli, not imported yet
        self.summaries: dict[str, str] = {}  # command name -> its short help, as click would make it
        self.common: list[Callable[[], click.Parameter]] = []  # options every command takes too (--trace)

    def add_lazy(self, module: str, summaries: dict[str, str]) -> None:
        self.lazy.update(dict.fromkeys(summaries, module))
        self.summaries.update(summaries)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(self.commands) | set(self.lazy))

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in self.lazy:
            self._load(self.lazy[name])
        return super().get_command(ctx, name)

    def resolve_command(self, ctx: click.Context, args: list[str]) -> tuple[str | None, click.Command | None,
                                                                            list[str]]:
        """click's, with its "did you mean" drawn from every name, imported or not."""
        try:
            return super().resolve_command(ctx, args)
        except click.exceptions.NoSuchCommand:
            raise click.exceptions.NoSuchCommand(click.utils.make_str(args[0]), possibilities=self.list_commands(ctx),
                                                 ctx=ctx) from None

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """click's own listing, with the registry's summary for a command not imported yet."""
        names = [name for name in self.list_commands(ctx)
                 if name in self.lazy or not self.commands[name].hidden]
        if not names:
            return
        limit = formatter.width - 6 - max(map(len, names))
        rows = [(name, click.Command(name, help=self.summaries[name]).get_short_help_str(limit) if name in self.lazy
                 else self.commands[name].get_short_help_str(limit)) for name in names]
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def _load(self, module: str) -> None:
        for command in import_module(f"sercon.cli.{module}").COMMANDS:
            command.params.extend(make() for make in self.common)
            self.add_command(command)
        self.lazy = {name: owner for name, owner in self.lazy.items() if owner != module}
