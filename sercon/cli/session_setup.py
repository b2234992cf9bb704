"""The interactive session's setup, shared by the commands that end in one (connect, rescue): its
options from the command line and profile, and the session itself on an open transport.

Its own module so that command modules import it, never each other.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from sercon.cli.env import Env
from sercon.errors import ExitStatus, UsageError

if TYPE_CHECKING:
    from sercon.terminal.session_options import SessionOptions
    from sercon.transport.base import Transport
    from sercon.transport.control import ControlTransport


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
    fd = env.stdin.fileno()
    tty = os.ttyname(fd) if os.isatty(fd) else "none"
    return f"{user}@{socket.gethostname()} pid {os.getpid()}, tty {tty}"
