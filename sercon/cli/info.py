"""Commands that describe or demonstrate: list, completion, demo."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
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


DEMO_SUBSCRIPTION = "00000000-0000-4000-8000-00000000de40"


@click.command()
@click.option("--local", is_flag=True, help="Skip Azure: a shell on a pseudo-terminal serial line instead.")
@click.option("--qemu", "use_qemu", is_flag=True,
              help="Back the VM with a real Linux guest under QEMU (Debian's cloud kernel, busybox).")
@click.pass_obj
def demo(env: Env, local: bool, use_qemu: bool) -> int:
    """Try sercon with no account: an emulated Azure VM (a login prompt and a shell on this machine).

    sercon starts its Azure emulator, signs in to it, runs doctor's checks and connects. With
    --qemu the VM is a real kernel booted under QEMU, so SysRq, NMI and reset act on it for real.
    """
    if local:
        return _local_demo(env)
    import secrets

    from sercon.cli.azure_commands import check_rows
    from sercon.cli.render import render_checks
    from sercon.cli.transport import open_transport
    from sercon.emulator.server import Emulator
    from sercon.emulator.world import World
    from sercon.errors import ConnectionLost
    from sercon.targets import AzureTarget
    from sercon.terminal.session import Session, SessionOptions

    password = secrets.token_hex(6)
    vm: dict = {"name": "demo-vm", "password": password}
    user = "azureuser"
    if use_qemu:
        vm["qemu"], user = _qemu_image(env, password), "guest"
    world = World({"subscriptions": [{"id": DEMO_SUBSCRIPTION, "name": "sercon demo", "resource_groups": {
        "demo-rg": {"vms": [vm]}}}]})
    with Emulator(world) as emulator, _environment(emulator.environment()):
        demo_env = Env(env.stdin, env.stdout, env.stderr, {**env.environ, **emulator.environment()})
        target = AzureTarget("demo-vm", "demo-rg", DEMO_SUBSCRIPTION)
        env.info(f"demo: Azure emulated at {emulator.base_url}; VM demo-vm, user {user}, password {password}")
        render_checks(demo_env, target.label, check_rows(demo_env, target, False)[0], False)
        transport = open_transport(target, demo_env)
        with contextlib.suppress(ConnectionLost):
            transport.write(b"\r")  # the login prompt was printed before we attached: ask for a fresh one
        return Session(transport, env.stdin, env.stdout_fd, SessionOptions(reconnect=True, resize=True)).run()


def _qemu_image(env: Env, password: str) -> dict[str, str]:
    from pathlib import Path

    from sercon.emulator.qemu import build_image, missing_tools
    from sercon.errors import PreconditionFailed

    missing = missing_tools()
    if missing:
        raise PreconditionFailed(f"--qemu needs {', '.join(missing)}",
                                 "sudo apt-get install qemu-system-x86 busybox-static lz4 (or run `sercon demo`)")
    cache = Path(env.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "sercon" / "guest"
    env.info(f"demo: preparing the guest in {cache} (the first time downloads Debian's cloud kernel)")
    image = build_image(cache, password)
    return {"kernel": str(image.kernel), "initrd": str(image.initrd)}


@contextlib.contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    """The emulator runs in this process: its CA must be trusted here too, for the length of the demo."""
    trust = {k: v for k, v in values.items() if k in ("REQUESTS_CA_BUNDLE", "SSL_CERT_FILE")}
    saved = {k: os.environ.get(k) for k in trust}
    os.environ.update(trust)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _local_demo(env: Env) -> int:
    import shutil

    from sercon.cli.transport import open_transport
    from sercon.emulator.ptyconsole import PtyConsole
    from sercon.targets import SerialTarget
    from sercon.terminal.session import Session, SessionOptions

    program = shutil.which("bash") or "/bin/sh"
    environ = {**os.environ, "PS1": "demo$ ", "TERM": os.environ.get("TERM", "vt100")}
    with PtyConsole([program, "--norc", "-i"] if program.endswith("bash") else [program, "-i"], env=environ) as pty:
        env.info(f"demo: a shell on the pseudo-terminal {pty.device_path}, standing in for a serial device")
        transport = open_transport(SerialTarget(pty.device_path), env)
        transport.write(b"\r")  # opening the port discarded the first prompt: ask for a fresh one
        return Session(transport, env.stdin, env.stdout_fd, SessionOptions(reconnect=False)).run()


COMMANDS = (list_, completion, demo)
