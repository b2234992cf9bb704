"""`sercon emulator`: the local stand-in for Azure, in the foreground."""

from __future__ import annotations

import click

from sercon.cli.env import Env
from sercon.errors import ExitStatus


@click.command()
@click.option("--config", "world_file", type=click.Path(exists=True, dir_okay=False), help="World file (JSON).")
@click.option("--port", type=click.IntRange(0, 65535), default=0, help="Port (default: any free one).")
@click.option("--state-dir", type=click.Path(file_okay=False), help="Where the CA and keys go.")
@click.option("--env-file", type=click.Path(dir_okay=False), metavar="PATH",
              help="Also write the environment to PATH (mode 0600), for `. PATH` in other shells.")
@click.pass_obj
def emulator(env: Env, world_file: str | None, port: int, state_dir: str | None, env_file: str | None) -> int:
    """Run the local Azure emulator in the foreground and print the environment a client needs.

    The secrets it prints (AZURE_CLIENT_SECRET, and SERCON_EMULATOR_SECRET for device-code
    approval and the test hooks) are new every run: keep them to yourself (docs/emulator.md).
    """
    import select
    import signal
    from pathlib import Path

    from sercon_emulator import require_extra

    require_extra()  # `pip install sercon` leaves the emulator's packages out: say how to add them

    from sercon.errors import Interrupted
    from sercon.terminal.signals import EXIT_SIGNALS, SignalWake, signal_name
    from sercon_emulator.envfile import export_lines, write_private
    from sercon_emulator.server import Emulator
    from sercon_emulator.world import World

    world = World.load(world_file) if world_file else World({})
    # Signals only wake this thread (whichever thread the kernel hands them to), from before the
    # environment is out, so whoever reads it may stop us at once; no signal mask is changed, so
    # the VMs' programs get Ctrl-C as usual.
    with SignalWake(EXIT_SIGNALS) as wake, Emulator(world, Path(state_dir) if state_dir else None,
                                                    port=port) as emu:
        lines = export_lines(emu.environment(admin=True))
        if env_file:
            write_private(Path(env_file), lines)
        env.stdout.write(lines)
        env.stdout.flush()
        env.info(f"emulating Azure at {emu.base_url}; Ctrl-C stops")
        while not (received := wake.pending()):
            select.select([wake.read_fd], [], [])
    if received[0] not in (signal.SIGINT, signal.SIGTERM):
        raise Interrupted(received[0], signal_name(received[0]))
    return ExitStatus.SUCCESS


COMMANDS = (emulator,)
