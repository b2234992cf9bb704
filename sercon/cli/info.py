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


TARGET_KEYS = ("device", "url", "resource_group", "name", "instance_id", "subscription")


def profile_target(values: dict[str, Any]) -> str:
    """The profile's target as one would name it: the device or URL, else the VM as rg/name[/instance]."""
    if values.get("device") or values.get("url"):
        return str(values.get("device") or values.get("url"))
    parts = [values.get("resource_group"), values.get("name"), values.get("instance_id")]
    return "/".join(str(part) for part in parts if part is not None)


def toml_value(value: Any) -> str:
    """A value as the config file writes it (TOML): true, 9600, "text"."""
    import json

    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value, ensure_ascii=False) if isinstance(value, str) else str(value)


@click.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@click.pass_obj
def list_(env: Env, as_json: bool) -> int:
    """Local serial ports (with USB ids and serial numbers) and configured profiles."""
    ports = serial_ports()
    profiles = [{"name": name, "default": name == env.config.default, "target": profile_target(values),
                 "config": dict(values)} for name, values in sorted(env.config.profiles.items())]
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
    console.print(_profile_table(env, profiles) if profiles else f"No profiles in {env.config.path}.")
    return ExitStatus.SUCCESS


def _profile_table(env: Env, profiles: list[dict[str, Any]]) -> Any:
    """One row a profile: its target as named on the command line, its other settings as in the file."""
    from rich.table import Table
    from rich.text import Text

    table = Table("profile", "target", "settings", title=f"Profiles ({env.config.path})", title_justify="left",
                  show_lines=True)
    for profile in profiles:
        config = profile["config"]
        target = profile["target"] or "(none)"
        if config.get("subscription") and not (config.get("device") or config.get("url")):
            target += f" (subscription {config['subscription']})"
        settings = "\n".join(f"{key} = {toml_value(value)}" for key, value in config.items()
                             if key not in TARGET_KEYS)
        name = profile["name"] + (" (default)" if profile["default"] else "")
        # Text: a [bracket] in a value is no markup; fold: a long id wraps, never cut to an ellipsis
        table.add_row(*(Text(cell, overflow="fold") for cell in (name, target, settings)))
    return table


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
