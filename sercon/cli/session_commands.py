"""Commands that talk to a console: connect, send, sysrq."""

from __future__ import annotations

import time
from typing import Any

import click

from sercon.cli import completion as complete
from sercon.cli.context import resolve
from sercon.cli.env import Env
from sercon.cli.options import (
    Seconds,
    azure_options,
    azure_target_options,
    checks_option,
    journal_options,
    line_options,
    paste_option,
    qmp_option,
    replay_option,
    session_options,
    target_argument,
    target_options,
)
from sercon.cli.session_setup import run_session, second_connect, session_options_from
from sercon.errors import ExitStatus


@click.command()
@target_argument
@target_options
@azure_options
@checks_option
@session_options
@journal_options
@replay_option
@click.pass_obj
def connect(env: Env, target: str | None, identity: bool, **options: Any) -> int:
    """Interactive console on TARGET, with an escape menu (Ctrl-] then ? for help).

    Quit with Ctrl-] q, or <Enter>~. as in ssh.
    """
    from sercon.cli.transport import OpenOptions, open_transport

    resolved, prefs = resolve(env, target, options)
    session = session_options_from(prefs, env.environ)
    open_options = OpenOptions(share=False, force=session.take_back, checks=not prefs.get("no_checks"))
    from sercon.transport.control import SessionRunning

    try:
        transport = open_transport(resolved, env, identity, open_options)
    except SessionRunning as busy:  # the user's own session has it: watch it, or take its keyboard
        return second_connect(env, busy, session, resolved.label)
    if prefs.get("replay"):
        from sercon.cli.session_setup import show_replay

        show_replay(env, transport.label, prefs["replay"])
    return run_session(env, transport, session)


@click.command()
@click.argument("args", nargs=-1, metavar="[TARGET] [TEXT...]", shell_complete=complete.complete_send_args)
@click.option("-t", "--target", "target", metavar="TARGET", shell_complete=complete.complete_target,
              help="The target; every positional is then TEXT (e.g. a one-word command for the default target).")
@azure_target_options
@line_options
@qmp_option
@azure_options
@checks_option
@click.option("--eol", type=click.Choice(["cr", "lf", "crlf"]), default="cr", show_default=True,
              help="Line ending for TEXT and for each line of stdin; lf sends stdin byte for byte.")
@click.option("--expect", metavar="REGEX", help="Print output up to and including the first match, then exit 0.")
@click.option("--timeout", type=Seconds(min=0), default=10.0, show_default=True,
              help="Give up after this many seconds (exit 3).")
@click.option("--wait-idle", type=Seconds(min=0), metavar="SECONDS",
              help="Print output until the console has been quiet this long.")
@click.option("--raw", is_flag=True,
              help="Print the console's bytes exactly (CR LF, bash's bracketed-paste switches); --expect searches "
                   "them. Without it the output is plain lines.")
@paste_option
@journal_options
@click.pass_obj
def send(env: Env, args: tuple[str, ...], target: str | None, eol: str, expect: str | None, timeout: float,
         wait_idle: float | None, raw: bool, paste_chunk: int | None, identity: bool, **options: Any) -> int:
    """Send TEXT (or stdin, when no TEXT or `-` is given) and print the console's output.

    With a default target (SERCON_TARGET or the config's default), a first word that cannot be a
    target (`uname -a`) is TEXT; a single word is still taken as the TARGET: use -t TARGET then.

    \b
    printf 'uname -a\\n' | sercon send /dev/ttyUSB0 --expect '[$#] $' | grep Linux
    sercon send 'uname -a'                  # to SERCON_TARGET
    sercon send -g prod-rg -n web1 'echo hi'
    """
    from sercon.cli.transport import OpenOptions, open_transport
    from sercon.targets import split_send_args
    from sercon.terminal.journal_sink import journal_for
    from sercon.terminal.scripted import SendOptions, run_send, stream_input, text_input

    spec, text = split_send_args(args, {"target": target, "name": options.get("name")}, env.environ, env.config)
    resolved, prefs = resolve(env, spec, options)
    source = stream_input(env.stdin.fileno(), eol) if text in ((), ("-",)) else text_input(text, eol)
    send_options = SendOptions(expect, timeout, wait_idle, paste_chunk or prefs.get("paste_chunk") or 2048, raw)
    transport = open_transport(resolved, env, identity, OpenOptions(checks=not prefs.get("no_checks"), timeout=timeout))
    try:
        return run_send(transport, source, send_options, env.stdout_fd,
                        journal_for(transport, "send", prefs, env.environ, env.info))
    finally:
        transport.close()


@click.command()
@click.argument("keys")
@target_argument
@target_options
@azure_options
@checks_option
@click.option("--interval", type=Seconds(min=0, zero=True), default=1.0, show_default=True,
              help="Seconds between keys when several are sent (reisub).")
@click.option("--yes", is_flag=True, help="Do not ask before keys that reboot, crash, power off or kill (b c o e i).")
@click.option("--quiet", is_flag=True, help="Do not wait a second for the console's reply nor print it.")
@journal_options
@click.pass_obj
def sysrq(env: Env, keys: str, target: str | None, interval: float, yes: bool, quiet: bool, identity: bool,
          **options: Any) -> int:
    """Send magic SysRq KEYS: letters (h, s, b), names (help, sync, reboot) or reisub.

    On a serial line this is a BREAK followed by the key. Several keys
    (`reisub`, `sync,reboot`) go one at a time, --interval apart. What the console
    prints meanwhile and for a second after the last key (the kernel's reply) goes
    to stdout. A line that cannot carry a BREAK (a pseudo-terminal, socket://) is
    refused with exit 6 and nothing is sent: use telnet:// or --qmp SOCKET there.
    Keys that reboot, crash, power off or kill every process (b c o e i) are
    asked about first, as nmi is (--yes skips the question).
    """
    from sercon.cli.transport import OpenOptions, open_transport
    from sercon.sysrq import destructive, parse_keys
    from sercon.targets import SerialTarget

    sequence = parse_keys(keys)
    resolved, prefs = resolve(env, target, options)
    if isinstance(resolved, SerialTarget):  # also when a running session would send it: exit 6, not 1
        from sercon.transport.serial import require_break

        require_break(resolved.url, resolved.qmp, "SysRq")
    harm = destructive(sequence)
    if harm and not env.confirmed(f"Send SysRq {keys} to {resolved.label} ({harm})?", yes):
        env.info("nothing sent")
        return ExitStatus.PRECONDITION  # declined: as a declined nmi
    transport = open_transport(resolved, env, identity, OpenOptions(checks=not prefs.get("no_checks"), one_shot=True))
    from sercon.terminal.journal_sink import journal_for
    from sercon.terminal.scripted import ANSWER_WAIT, ConsoleAnswer

    journal = journal_for(transport, "sysrq", prefs, env.environ, env.info)  # the keys sent, and the reply
    answer = None if quiet else ConsoleAnswer(transport, env.stdout_fd, journal)  # the kernel's reply, on stdout
    try:
        for index, key in enumerate(sequence):
            if index and answer:
                answer.show(interval)  # what the last key made the console print, while waiting
            elif index:
                time.sleep(interval)
            transport.sysrq(key)
            transport.drain()
            if journal is not None:
                journal.event("sysrq", key=key)
            env.info(f"sent SysRq {key} to {transport.label}")
        if answer:
            answer.show(ANSWER_WAIT, stop_when_quiet=True)
            answer.close()
    finally:
        transport.close()
        if journal is not None:
            journal.close()
    return ExitStatus.SUCCESS


def _machine_action(env: Env, target: str | None, options: dict[str, Any], identity: bool, yes: bool,
                    action: str, question: str) -> int:
    from sercon.cli.transport import OpenOptions, open_transport

    resolved, prefs = resolve(env, target, options)
    if not env.confirmed(question.format(label=resolved.label), yes):
        env.info("nothing sent")
        return ExitStatus.PRECONDITION  # declined: as a declined `doctor --fix` (1 is for bugs)
    transport = open_transport(resolved, env, identity, OpenOptions(checks=not prefs.get("no_checks"), one_shot=True))
    from sercon.terminal.journal_sink import journal_for

    journal = journal_for(transport, action, prefs, env.environ, env.info)  # an event: what was sent, and when
    try:
        getattr(transport, action)()
        if journal is not None:
            journal.event(action)
    finally:
        transport.close()
        if journal is not None:
            journal.close()
    env.info(f"{action.upper() if action == 'nmi' else action} sent to {transport.label}")
    return ExitStatus.SUCCESS


def machine_command(func: Any) -> click.Command:
    """nmi and reset take the same arguments: a target, its options, and --yes."""
    for decorator in reversed((click.command(), target_argument, azure_target_options, qmp_option, azure_options,
                               checks_option, journal_options,
                               click.option("--yes", is_flag=True, help="Do not ask for confirmation."),
                               click.pass_obj)):
        func = decorator(func)
    return func


@machine_command
def nmi(env: Env, target: str | None, identity: bool, yes: bool, **options: Any) -> int:
    """Send a non-maskable interrupt (asks first unless --yes).

    Linux reports it, or panics if kernel.unknown_nmi_panic is set (a crash dump on demand).
    """
    return _machine_action(env, target, options, identity, yes, "nmi",
                           "Send an NMI to {label} (with unknown_nmi_panic set, the guest panics)?")


@machine_command
def reset(env: Env, target: str | None, identity: bool, yes: bool, **options: Any) -> int:
    """Hard-reset the machine, like pressing its reset button (asks first unless --yes)."""
    return _machine_action(env, target, options, identity, yes, "reset",
                           "Hard-reset {label} (unsaved data in the guest is lost)?")


COMMANDS = (connect, send, sysrq, nmi, reset)
