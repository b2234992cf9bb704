"""The interactive session's setup, shared by the commands that end in one (connect, rescue): its
options from the command line and profile, and the session itself on an open transport.

Its own module so that command modules import it, never each other.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from sercon.cli.env import Env
from sercon.errors import DeviceBusy, ExitStatus, UsageError

if TYPE_CHECKING:
    from sercon.terminal.session_options import SessionOptions
    from sercon.transport.base import Transport
    from sercon.transport.control import ControlTransport, SessionRunning


def session_options_from(prefs: dict[str, Any], environ: Mapping[str, str] | None = None) -> SessionOptions:
    """The session's options from the command line and the profile (connect, and rescue's session);
    a bad --log path is exit 2 here, before anything connects. *environ*: SERCON_NO_JOURNAL."""
    from sercon.config import escape_key
    from sercon.journal.settings import journal_settings
    from sercon.terminal.session_options import SessionOptions

    for key, takes in (("escape", "ctrl-] (the default), ^T, ..., or none for no menu key"),
                       ("log", "a file path, e.g. --log console.log")):
        if prefs.get(key) is not None and not prefs[key].strip():  # empty is no value: not the default, not none
            raise UsageError(f"--{key} {prefs[key]!r} names nothing", f"give --{key} {takes}")
    session = SessionOptions(
        escape=escape_key(prefs.get("escape") or "ctrl-]"),
        paste_chunk=prefs.get("paste_chunk") or 2048,
        reconnect=prefs.get("reconnect", True) is not False,
        timestamps=bool(prefs.get("timestamps")),
        log_path=prefs.get("log"),
        log_format=prefs.get("log_format") or "text",
        take_back=bool(prefs.get("take_back")),
        resize=prefs.get("resize") == "auto",  # off unless asked: sercon types nothing by itself
        logout_on_exit=bool(prefs.get("logout_on_exit")),
    )
    journal = journal_settings(prefs, environ or {})
    session.journal, session.journal_input, session.journal_size = (
        journal.journal, journal.journal_input, journal.journal_size)
    if prefs.get("logout_sequence"):
        session.logout_sequence = unescape(prefs["logout_sequence"])
    if session.log_path:
        from sercon.terminal.logfile import SessionLog

        SessionLog.check(session.log_path)
    return session


def run_session(env: Env, transport: Transport, session: SessionOptions) -> int:
    """The interactive session on an open transport, reachable by other sercon commands."""
    from sercon.terminal.session import Session
    from sercon.transport.control import socket_path

    session.control_path = socket_path(transport.key, env.environ)
    return Session(transport, env.stdin, env.stdout_fd, session).run()


def show_replay(env: Env, label: str, count: int) -> None:
    """`connect --replay N`: the target's last N journal lines, marked as history, before the live console
    (read before this session's own journal opens, so none of its output is in them)."""
    if count <= 0:
        return
    from sercon.journal.history import lines_of, replay_text
    from sercon.journal.reader import ReadNotes, find_journal, read_records
    from sercon.journal.store import JournalError
    from sercon.terminal.screen import write_all

    notes = ReadNotes()
    try:
        journal = find_journal([label], env.environ)
        lines = lines_of(read_records(journal, notes), events=False) if journal else []
    except JournalError as exc:  # an unreadable journal costs the replay, not the session
        env.info(f"no history replayed: {exc.message}")
        return
    if not lines:
        env.info(f"no history of {label} to replay yet: its journal begins with this session")
        return
    write_all(env.stdout_fd, replay_text(lines, count).replace(b"\n", b"\r\n"))
    for note in notes.notes:
        env.info(f"note: {note}")


def unescape(text: str) -> bytes:
    """`\\x15exit\\r` as typed on a command line or in a profile -> the bytes it means."""
    from sercon.config import unescape as key_sequence

    try:
        return key_sequence(text)
    except ValueError as exc:
        raise UsageError(f"cannot read {text!r} as a key sequence: {exc}", r"write e.g. '\x04' or 'exit\r'") from exc


def watch_running(env: Env, running: ControlTransport, label: str, escape: int | None) -> int:
    """Watch a running session read-only (`sercon watch`, and a second `connect` that chose to watch)."""
    from sercon.terminal.watcher import Watcher

    watcher = Watcher(env.stdin, env.stdout_fd, env.info, escape)
    try:
        reply = running.watch()
        who = f"pid {reply.get('pid', '?')}, tty {reply.get('tty') or 'none'}"
        holder = reply.get("keyboard")
        watcher.notice(f"watching {label} (the session of {who}"
                       + (f"; the keyboard is with {holder})" if holder else ")"))
        ended = watcher.session(running)
    finally:
        running.close()
    if ended != "quit":
        env.info(ended)
    return int(ExitStatus.SUCCESS)


def who_am_i(env: Env) -> str:
    """How the other screen names this process when it takes the keyboard: user@host pid N, tty T."""
    import getpass
    import socket

    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = str(os.getuid())
    return f"{user}@{socket.gethostname()} pid {os.getpid()}, tty {_tty(env)}"


CHOICES = {"w": "watch", "k": "take the keyboard", "q": "quit"}


def second_connect(env: Env, busy: SessionRunning, session: SessionOptions, label: str) -> int:
    """A `connect` on a console that already has a session of this user: at a terminal, watch it or
    take its keyboard (relayed through its control socket, so no second Azure connect call is made and
    the console stays one session with one writer); without a terminal, refuse (exit 9) as before."""
    from sercon.transport.control import find_session

    if not env.stdin_is_tty():
        raise busy

    def check(answer: str) -> str:
        answer = answer.strip().lower()[:1]
        if answer not in CHOICES:
            raise ValueError("answer w (watch), k (take the keyboard) or q (quit)")
        return answer

    answer = env.prompt(f"{busy.message}: w to watch it, k to take the keyboard, q to quit", "w", check)
    if answer == "q":
        return int(ExitStatus.SUCCESS)
    running = find_session(busy.key, env.environ)
    if running is None:
        raise DeviceBusy("the other sercon session ended in the meantime", "run sercon connect again")
    if answer == "w":
        return watch_running(env, running, label, session.escape)
    return take_keyboard(env, running, session, label)


def take_keyboard(env: Env, running: ControlTransport, session: SessionOptions, label: str) -> int:
    """This terminal types, through the running session (which now only watches); it gets the keyboard
    back when this one quits."""
    from sercon.terminal.session import Session
    from sercon.transport.control import keyboard_line

    try:
        holder = running.describe()
        running.take(who_am_i(env))
        running.watch()  # the recent output, for context
    except BaseException:
        running.close()
        raise
    running.label = f"{label} (through the sercon session of {holder})"
    env.info(f"{keyboard_line(who_am_i(env))} (you); the console stays with {holder}, which now only watches")
    session.control_path = None  # the running session keeps the socket: send and watch still go there
    session.reconnect = False  # when it ends, so does this one (exit 7): no connect call of our own
    session.journal = False  # the running session journals the console already: once is enough
    return int(Session(running, env.stdin, env.stdout_fd, session).run())


def _tty(env: Env) -> str:
    fd = env.stdin.fileno()
    return os.ttyname(fd) if os.isatty(fd) else "none"
