"""Option definitions shared by the commands, apart from what the commands do with them.

Every option defaults to None so that a profile's value shows through unless the user gave one.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import click

from sercon.choices import CLOUDS, FLOWS, LOG_FORMATS, PARITIES, PASTE_CHUNK_MIN, RESIZE
from sercon.cli import completion as complete

F = Callable[..., Any]


def _apply(*decorators: F) -> Callable[[F], F]:
    def wrap(func: F) -> F:
        for decorator in reversed(decorators):
            func = decorator(func)
        return func

    return wrap


class Seconds(click.ParamType):
    """A duration option: finite, at least *min*, at most a week (`nan`, `inf` or a typo's 1e308 is no
    deadline). Refused as sercon's own usage error, with the fix, before anything is sent."""

    name = "seconds"
    MOST = 7 * 86400

    def __init__(self, min: float = 0, zero: bool = False) -> None:  # noqa: A002 (as click's FloatRange names it)
        self.min, self.zero = min, zero  # zero: 0 is a value (an interval), not a missing deadline

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        from sercon.errors import UsageError

        number = click.FLOAT.convert(value, param, ctx)  # not a number at all: click's own message
        if math.isfinite(number) and (number > 0 or self.zero and number == 0) and self.min <= number <= self.MOST:
            return number
        name = param.opts[0] if param is not None and param.opts else "the option"
        least = f"at least {self.min:g}" if self.min or self.zero else "above 0"
        raise UsageError(f"{name} {value} is not a number of seconds sercon can wait",
                         f"give {name} a number {least} and at most {self.MOST} (a week), e.g. {max(10, self.min):g}")


target_argument = click.argument("target", required=False, metavar="[TARGET]", shell_complete=complete.complete_target)

subscription_option = click.option("--subscription", help="Azure subscription id.")
cloud_option = click.option("--cloud", type=click.Choice(CLOUDS),
                            help="Azure cloud (default AzureCloud).")

# Each command lists only the options it uses (a --baud on `nmi` would do nothing):
#   azure_target_options: every command that takes a TARGET (devices and profiles too: -n, -g name a VM)
#   line_options: commands that open the line and talk over it (connect, send, sysrq)
#   qmp_option: commands that can use a local QEMU VM's QMP socket (connect, send, sysrq, nmi, reset, doctor)
azure_target_options = _apply(
    click.option("-g", "--resource-group", help="Azure resource group of the VM.",
                 shell_complete=complete.complete_group),
    click.option("-n", "--name", help="Azure VM or scale-set name (same as a positional TARGET).",
                 shell_complete=complete.complete_name),
    subscription_option,
    click.option("--instance-id", help="Scale-set instance id."),
    cloud_option,
)

line_options = _apply(
    click.option("-b", "--baud", type=click.IntRange(min=1), help="Line speed (default 115200).",
                 shell_complete=complete.complete_rate),
    click.option("--baud-exact", is_flag=True, default=None,
                 help="The -b rate is meant: no warning when it is not a standard rate."),
    click.option("--databits", type=click.Choice(["5", "6", "7", "8"]), help="Data bits (default 8)."),
    click.option("--parity", type=click.Choice(list(PARITIES)), help="Parity (default none)."),
    click.option("--stopbits", type=click.Choice(["1", "1.5", "2"]), help="Stop bits (default 1)."),
    click.option("--flow", type=click.Choice(FLOWS), help="Flow control (default none)."),
)

qmp_option = click.option(
    "--qmp", metavar="SOCKET", help="A local QEMU VM's QMP socket: enables nmi, reset and BREAK.",
    shell_complete=complete.complete_file)

target_options = _apply(azure_target_options, line_options, qmp_option)

azure_options = _apply(
    click.option("--identity", is_flag=True, help="Sign in with the machine's managed identity."),
)

checks_option = click.option(
    "--no-checks", "no_checks", is_flag=True, default=None,
    help="Azure: skip the prerequisite checks and go straight to the connect call.")

paste_option = click.option(
    "--paste-chunk", type=click.IntRange(min=PASTE_CHUNK_MIN),
    help="Largest write of pasted input, in bytes (default 2048).")

session_options = _apply(
    click.option("--resize", type=click.Choice(RESIZE),
                 help="auto: type `stty rows R cols C` at a Linux shell prompt, after your Enter, when the "
                      "window size changes (default: off; the menu's w types it when you ask)."),
    click.option("--logout-on-exit/--no-logout-on-exit", default=None,
                 help="Log the console out when you quit, and say whether a shell was left behind."),
    click.option("--logout-sequence", metavar="TEXT",
                 help="What logs out, with backslash escapes (default: \\x15exit\\r)."),
    click.option("--force", "take_back", is_flag=True, default=None,
                 help="If another user takes the console over, take it back (default: exit 8)."),
    click.option("--escape", metavar="KEY", help="Menu key: ctrl-] (default), ^T, ..., or none."),
    click.option("--reconnect/--no-reconnect", default=None,
                 help="Wait for a vanished device to come back (default), or exit 7."),
    paste_option,
    click.option("--log", type=click.Path(dir_okay=False), help="Append what the console prints to this file."),
    click.option("--log-format", type=click.Choice(LOG_FORMATS),
                 help="text (default), or one JSON record per chunk both ways."),
    click.option("--timestamps/--no-timestamps", default=None,
                 help="Prefix lines with ISO-8601 times, on screen and in the log."),
)

# Every command that opens a console journals what it prints (docs/history.md); these turn it off or widen it.
journal_options = _apply(
    click.option("--journal/--no-journal", "journal", default=None,
                 help="Keep what the console prints in the target's journal (default: on; "
                      "`sercon history` reads it). Also journal = false, SERCON_NO_JOURNAL=1."),
    click.option("--journal-input", is_flag=True, default=None,
                 help="Journal what you type too (off by default: typed lines can hold secrets)."),
)

replay_option = click.option(
    "--replay", type=click.IntRange(min=0, max=100_000), metavar="N",
    help="Print the last N lines of the target's journal, marked as history, before the live console.")

LINE_CONVERSIONS = {"databits": int, "stopbits": float}


def target_values(options: dict[str, Any]) -> dict[str, Any]:
    """Click's strings to the types targets.py expects (only for options the user gave)."""
    return {k: (LINE_CONVERSIONS[k](v) if k in LINE_CONVERSIONS and v is not None else v) for k, v in options.items()}
