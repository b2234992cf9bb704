"""Commands that describe: list, completion."""

from __future__ import annotations

from typing import Any

import click

from sercon.cli.env import Env
from sercon.errors import ExitStatus

SHELLS = ("bash", "zsh", "fish")


def completion_script(shell: str) -> str:
    """The completion script click generates for *shell*; completions/ holds the same text."""
    from click.shell_completion import get_completion_class

    from sercon.cli import cli

    completion_class = get_completion_class(shell)
    if completion_class is None:  # pragma: no cover - click ships all three
        raise click.BadParameter(f"no completion for {shell}")
    return completion_class(cli, {}, "sercon", "_SERCON_COMPLETE").source()


def serial_ports() -> list[dict[str, Any]]:
    from serial.tools import list_ports

    rows = []
    for port in sorted(list_ports.comports(), key=lambda p: p.device):
        rows.append({
            "device": port.device,
            "description": port.description if port.description != "n/a" else None,
            "usb_id": f"{port.vid:04x}:{port.pid:04x}" if port.vid is not None else None,
            "serial_number": port.serial_number,
            "manufacturer": port.manufacturer,
            "location": port.location,
        })
    return rows


@click.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@click.pass_obj
def list_(env: Env, as_json: bool) -> int:
    """Local serial ports (with USB ids and serial numbers) and configured profiles."""
    ports = serial_ports()
    profiles = [{"name": name, "default": name == env.config.default, **values}
                for name, values in sorted(env.config.profiles.items())]
    if as_json:
        import json

        env.stdout.write(json.dumps({"ports": ports, "profiles": profiles}, indent=2) + "\n")
        return ExitStatus.SUCCESS
    from rich.console import Console
    from rich.table import Table

    console = Console(file=env.stdout)
    table = Table("device", "description", "USB id", "serial number", title="Serial ports", title_justify="left")
    for port in ports:
        table.add_row(port["device"], port["description"] or "", port["usb_id"] or "", port["serial_number"] or "")
    console.print(table if ports else "No serial ports found.")
    table = Table("profile", "target", "settings", title=f"Profiles ({env.config.path})", title_justify="left")
    for profile in profiles:
        values = {k: v for k, v in profile.items() if k not in ("name", "default")}
        where = values.pop("device", None) or values.pop("url", None) or values.pop("name", "")
        name = profile["name"] + (" (default)" if profile["default"] else "")
        table.add_row(name, where, " ".join(f"{k}={v}" for k, v in values.items()))
    console.print(table if profiles else f"No profiles in {env.config.path}.")
    return ExitStatus.SUCCESS


@click.command()
@click.argument("shell", type=click.Choice(SHELLS))
@click.pass_obj
def completion(env: Env, shell: str) -> int:
    """Print the completion script for SHELL (the same as completions/ in the source).

    \b
    bash:  eval "$(sercon completion bash)"
    zsh:   eval "$(sercon completion zsh)"
    fish:  sercon completion fish | source
    """
    env.stdout.write(completion_script(shell))
    return ExitStatus.SUCCESS


COMMANDS = (list_, completion)
