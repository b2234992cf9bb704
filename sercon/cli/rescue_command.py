"""`sercon rescue`: reboot a machine into a root shell through GRUB, then hand the console over."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from sercon.cli.context import resolve
from sercon.cli.env import Env
from sercon.cli.options import (
    Seconds,
    azure_options,
    checks_option,
    journal_options,
    target_argument,
    target_options,
)
from sercon.errors import ExitStatus, NotSupported, UsageError
from sercon.rescue.modes import AUTO, DEFAULT_MODE, MODES, rescue_parameter

if TYPE_CHECKING:
    from sercon.terminal.session_options import SessionOptions
    from sercon.transport.base import Transport

_MODE_HELP = "; ".join(f"{name}: {parameter}" for name, (parameter, _) in MODES.items())


@click.command()
@target_argument
@target_options
@azure_options
@checks_option
@click.option("--mode", type=click.Choice([AUTO, *MODES]), help=f"The rescue parameter ({_MODE_HELP}). Default "
              f"{DEFAULT_MODE}: init first, then the initramfs's shell, then emergency, a reset before each "
              "(the next only when the guest refuses one).")
@click.option("--append", metavar="TEXT", help="Add TEXT to the kernel's command line instead of a --mode.")
@click.option("--no-reset", is_flag=True, help="Do not reset: wait for you to reboot the machine yourself.")
@click.option("--timeout", type=Seconds(min=1), default=120.0, show_default=True,
              help="Seconds to wait for GRUB's menu after the reset; of silence from the booting guest.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation before the reset.")
@click.option("--escape", metavar="KEY", help="Menu key of the session that follows (default ctrl-]).")
@click.option("--log", type=click.Path(dir_okay=False), help="Append what the console prints to this file.")
@journal_options
@click.pass_obj
def rescue(env: Env, target: str | None, mode: str | None, append: str | None, no_reset: bool, timeout: float,
           yes: bool, identity: bool, **options: Any) -> int:
    """Reboot TARGET into a root shell through GRUB, then attach the console.

    Resets the machine (an Azure VM through the gateway; a local QEMU VM with --qmp), presses Esc
    until GRUB's menu shows, adds the rescue parameter to the default entry's `linux` line, boots
    it, and waits for the shell. Other targets: --no-reset, then reboot the machine yourself.

    \b
    sercon rescue -g prod-rg web1                       # init=/bin/bash, then the next mode if refused
    sercon rescue web1 --mode emergency                 # systemd's emergency shell: root's password
    sercon rescue board --no-reset --append 'rd.break'
    """
    from sercon.cli.session_setup import session_options_from
    from sercon.cli.transport import OpenOptions, open_transport
    from sercon.targets import AzureTarget
    from sercon.transport.base import RESET

    parameter = rescue_parameter(mode, append)
    session_prefs = {"escape": options.pop("escape"), "log": options.pop("log")}
    resolved, prefs = resolve(env, target, options)
    session = session_options_from({**prefs, **_given(session_prefs)}, env.environ)  # a bad --log: exit 2 now
    if session.logout_on_exit:  # `exit` in init=/bin/bash panics the kernel; in the initramfs it boots on
        session.logout_on_exit = False
        env.info("logout_on_exit is not used after a rescue: `exit` would end the rescue shell")
    can_reset = isinstance(resolved, AzureTarget) or bool(getattr(resolved, "qmp", None))
    if not no_reset and not can_reset:
        raise UsageError(f"sercon cannot reset {resolved.label}", "add --no-reset and reboot it yourself, or give "
                         "a local QEMU VM's --qmp SOCKET")
    if not no_reset and not env.confirmed(_question(resolved.label, parameter), yes):
        env.info("nothing sent")
        return ExitStatus.PRECONDITION  # declined: as a declined `doctor --fix` (1 is for bugs)
    # A running `sercon connect` to this console is driven through (as sysrq is): a second session
    # would take the console from it.
    transport = open_transport(resolved, env, identity, OpenOptions(share=True, checks=not prefs.get("no_checks")))
    if transport.windows:  # before any reset: there is no GRUB to stop in
        transport.close()
        raise NotSupported(f"{transport.label} is a Windows VM: sercon rescue goes through GRUB, which it has not",
                           "use the console's SAC (`sercon connect`, then `cmd`), or attach the disk to a rescue VM")
    if not no_reset and RESET not in transport.controls:
        transport.close()
        raise UsageError(f"{transport.label} cannot be reset", "add --no-reset and reboot it yourself")
    return _rescue(env, transport, parameter, no_reset, timeout, session)


def _question(label: str, parameter: str | None) -> str:
    if parameter is not None:
        return f"Reset {label} and boot it into a root shell with '{parameter}'? Unsaved data in the guest is lost."
    return (f"Reset {label} and boot it into a root shell ('{MODES['init'][0]}' first; if the guest refuses it, "
            "sercon resets it again for the next mode, 3 boots at most)? Unsaved data in the guest is lost.")


def _rescue(env: Env, transport: Transport, parameter: str | None, no_reset: bool, timeout: float,
            session: SessionOptions) -> int:
    """The rescue is rescue/handover.py's; here its steps are drawn, and the session run when it hands over."""
    from sercon.rescue.driver import RescuePlan
    from sercon.rescue.handover import next_steps
    from sercon.rescue.handover import rescue as run_rescue

    try:
        plan = RescuePlan(parameter, reset=not no_reset, step_timeout=timeout)
        result = run_rescue(transport, plan, _Progress(env), env.stdin_is_tty())
        if result.failure is not None:
            exc = result.failure
            env.error(exc.message, exc.hint)
            env.info(result.handover or "")
            _attach(env, session, transport)
            env.error(exc.message, exc.hint)  # again, below whatever the console drew
            return result.exit_status
        assert result.outcome is not None
        env.info(f"{result.outcome.value} on {transport.label}, {result.elapsed:.1f} s after `sercon rescue`"
                 f" (with '{result.parameter}')")
        if not result.attach:
            where = ("in your running `sercon connect`" if result.shared
                     else "`sercon connect` or `sercon send` to use it")
            env.info(f"the console is left there: {where} ({next_steps(result.parameter)})")
            return result.exit_status
        env.info(next_steps(result.parameter))
        return _attach(env, session, transport)
    finally:
        transport.close()  # the session closes it too; closing twice is harmless


def _attach(env: Env, session: SessionOptions, transport: Transport) -> int:
    from sercon.cli.session_setup import run_session

    _drop_typed_ahead(env)
    return run_session(env, transport, session)


def _drop_typed_ahead(env: Env) -> None:
    """Keys typed while sercon drove GRUB (and the terminal's answers to the guest's queries, shown
    while the terminal was not raw) must not reach the root shell as commands."""
    import contextlib
    import termios

    with contextlib.suppress(OSError, ValueError, termios.error):
        termios.tcflush(env.stdin.fileno(), termios.TCIFLUSH)


def _given(values: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in values.items() if value is not None}


class _Progress:
    """Steps as sercon's own lines on stderr, each on a line of its own; the console's output after
    the boot as it comes (which may end mid-line: the next step starts a fresh one)."""

    def __init__(self, env: Env) -> None:
        self.env = env
        self.mid_line = False

    def step(self, message: str) -> None:
        self.fresh_line()
        self.env.info(message)

    def output(self, data: bytes) -> None:
        from sercon.terminal.screen import write_all

        write_all(self.env.stdout_fd, data)
        self.mid_line = not data.endswith((b"\n", b"\r"))

    def fresh_line(self) -> None:
        if self.mid_line:
            from sercon.terminal.screen import write_all

            write_all(self.env.stdout_fd, b"\r\n")
            self.mid_line = False


COMMANDS = (rescue,)
