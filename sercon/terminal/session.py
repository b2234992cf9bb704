"""The interactive session: console output to the screen, keys to the console, the escape menu between.

Three threads. The main thread reads keys and signals and runs the menu; a reader thread copies
console output to the screen (and reconnects when the console vanishes, by the policy of
reconnect.py: a session the far end closed on purpose is reopened only when the user presses Enter,
or with --force); a writer thread (sender.py) sends input in order, pacing pastes, and runs control
actions (actions.py). What they share: the writer's queue; events (stop, the user's Enter); the
Screen, SessionLog, ResizePolicy and Sender's drop count, each guarded by its own lock; and a few
values written by one thread and only read by the others (the reader's tail and paste flag, sinks of
its receive pipeline, sercon/stream/sinks.py; the main thread's ``timestamps``, ``log`` and the
pipeline's sinks, a tuple replaced whole; ``_closed``,
handed from the reader to the main thread with the Enter event; ``_fatal``, handed over with the
wake pipe). Fatal errors are raised from the main thread after the terminal is restored, so
``cli.main`` prints them on a sane terminal.

A keystroke takes the shortest way (issue 12): plain typing skips prompt-toolkit's parser
(console.py) and the escape machine's byte loop (``feed_plain``), and the key loop writes it to the
console itself while the writer has nothing queued. The reader starts before anything it does not
need is loaded: the control socket's server starts after it.
"""

from __future__ import annotations

import os
import re
import select
import threading
from collections.abc import Callable
from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING, TextIO

from sercon.choices import key_name
from sercon.errors import ConnectionLost, ExitStatus, Interrupted, SerconError, SessionClosed
from sercon.stream.sinks import Call, PasteMode, Pipeline, Sink, Tail
from sercon.terminal.actions import Actions
from sercon.terminal.console import Chunk, KeyReader, RawConsole
from sercon.terminal.escape import EscapeMachine, Forward, Prompt, Run
from sercon.terminal.journal_sink import journal_sink
from sercon.terminal.logfile import LineStamper, LogError, LogSink, SessionLog
from sercon.terminal.logout import log_out
from sercon.terminal.prompt import at_secret_prompt, stty_command
from sercon.terminal.reconnect import Reconnector
from sercon.terminal.resize import ResizePolicy
from sercon.terminal.screen import Screen, ScreenSink
from sercon.terminal.sender import PASTE, TYPED, Sender
from sercon.terminal.session_options import SessionOptions
from sercon.terminal.signals import EXIT_SIGNALS, SIGWINCH, SignalWake, signal_name
from sercon.transport.base import Transport
from sercon.wakeup import WakePipe

if TYPE_CHECKING:
    from sercon.terminal.control_server import ControlServer
    from sercon.terminal.watcher import WatchKeys

TICK = 0.25  # how often the loop wakes while a log needs flushing or a lone Esc is held back
EOF_DRAIN_TIMEOUT = 10.0


class Session:
    def __init__(
        self,
        transport: Transport,
        stdin: TextIO,
        out_fd: int,
        options: SessionOptions,
        status_fd: int | None = None,
        kind: str = "connect",
    ) -> None:
        self.transport = transport
        self.options = options
        self.stdin = stdin
        self.screen = Screen(out_fd, status_fd, is_tty=os.isatty(out_fd))
        self.machine = EscapeMachine(options.escape, transport.controls)
        self._resize = ResizePolicy(options.resize, windows_guest=transport.windows)
        # What the console prints goes through these, built once (sercon/stream/sinks.py).
        stamper = LineStamper(restamp=True)  # on screen, a bare CR must not hide the stamp
        self._screen_sink = ScreenSink(self.screen, stamper.stamp, options.timestamps)
        self._paste_mode = PasteMode()
        self._tail = Tail()  # the console's last few KB: is a prompt showing?
        log = SessionLog(options.log_path, options.log_format, options.timestamps) if options.log_path else None
        self._log_sink = LogSink(log, self.screen.status)
        sinks: list[Sink] = [self._screen_sink, self._paste_mode, self._tail]
        if self._resize.enabled:  # off, it never types (and asking costs a window-size ioctl a chunk)
            sinks.append(Call(self._resize_on_output))
        sinks.append(self._log_sink)
        # The target's journal: opened with the first chunk, so nothing of it is on the way to the first byte.
        self.journal = journal_sink(transport.label, kind, options, self.screen.status)
        if self.journal is not None:
            sinks.append(self.journal)
        self.rx = Pipeline(*sinks)
        self._stop = threading.Event()
        self._interactive = options.interactive if options.interactive is not None else stdin.isatty()
        self._closed: SessionClosed | None = None  # set while a closed session waits for the user's Enter
        self._enter = threading.Event()  # the user pressed Enter to reopen it (or the session stops)
        self._reconnector = Reconnector(transport, self._stop, self.screen.status, self._log_event,
                                        self._quit_hint())
        self._quit = False
        self._fatal: BaseException | None = None
        self._tx = Sender(transport, self.screen, options.paste_chunk, self._stop, lambda: self.log,
                          lambda: self._paste_mode.on, lambda: at_secret_prompt(self._tail.data))
        self._tx.journal = self.journal
        self._wake = WakePipe()  # the reader thread wakes the key loop with a fatal error
        self._actions = Actions(transport, self._tx.put)
        # What each menu command does (escape.py's MENU names them; help is answered by the menu itself).
        self._menu: dict[str, Callable[[str | None], None]] = {
            "quit": lambda _: setattr(self, "_quit", True),
            "resize": lambda _: self._type_window_size(),
            "toggle_log": lambda _: self._toggle_log(),
            "toggle_timestamps": lambda _: self._toggle_timestamps(),
            **{name: partial(self._actions.queue, name) for name in self._actions.table},
        }
        self.control: ControlServer | None = None  # set once the session runs (_start_control)
        self._watch_keys: WatchKeys | None = None  # set while another sercon has the keyboard (keyboard_taken)

    @property
    def log(self) -> SessionLog | None:
        return self._log_sink.log

    @log.setter
    def log(self, log: SessionLog | None) -> None:
        self._log_sink.log = log

    @property
    def timestamps(self) -> bool:
        return self._screen_sink.timestamps

    @timestamps.setter
    def timestamps(self, on: bool) -> None:
        self._screen_sink.timestamps = on

    @property
    def remote_bracketed_paste(self) -> bool:
        return self._paste_mode.on

    # -- main thread ------------------------------------------------------------------------------
    def run(self) -> ExitStatus:
        if self.log:
            self.log.open()
            self.log.event("open", target=self.transport.label)
        if self.journal is not None:
            self.journal.event("connected", target=self.transport.label)
        keys = KeyReader(self.stdin)
        reader = threading.Thread(target=self._read_loop, name="sercon-rx", daemon=True)
        threads = [reader, self._tx.thread]  # the writer starts with the first input it takes (Sender.put)
        ending: tuple[int, str] = (int(ExitStatus.ERROR), "ended by an error")
        try:
            self.machine.width = self._window()[1]
            with SignalWake() as signals, RawConsole(self.stdin, self.screen.out_fd):
                self.screen.status(self._banner())
                reader.start()
                self._start_control()  # after the reader: the console's first bytes do not wait for it
                try:
                    status = self._loop(keys, signals)
                    ending = (int(status), "the user quit" if self._quit else "input ended")
                    return status
                except SerconError as exc:
                    ending = (int(exc.exit_status), exc.message)
                    raise
                finally:
                    if self.options.logout_on_exit and self._fatal is None:
                        self._logout()
                    self.screen.end_line()  # whatever is printed next starts on a line of its own
        finally:
            self._shutdown(threads, ending)

    def _start_control(self) -> None:
        """Let other sercon commands reach this session. Started after the reader (a client cannot
        connect before the socket listens, so it misses nothing)."""
        if self.options.control_path is None:
            return
        from sercon.terminal.session_control import ControlBridge

        bridge = ControlBridge(self.transport, self._tx, self._actions, self._post_fatal, self.keyboard_taken)
        try:
            self.control = bridge.start(self.options.control_path, self.stdin, self._interactive)
        except OSError as exc:  # a convenience, not the session: say so once and go on without it
            too_long = len(os.fsencode(self.options.control_path)) > 107 or "too long" in str(exc)
            why = ("its path is longer than a Unix socket allows; set XDG_RUNTIME_DIR to a shorter folder"
                   if too_long else f"{exc.strerror or exc} ({self.options.control_path})")
            self.screen.status(f"other sercon commands (send, sysrq) cannot reach this session: {why}")
            return
        self.rx.add(Call(self.control.broadcast))  # watchers: sent everything printed from now on

    def keyboard_taken(self, who: str | None) -> None:
        """Another sercon of this user took the keyboard (*who*), or gave it back (None): until then this
        session only watches; its keys do not reach the console (one writer per console)."""
        from sercon.terminal.watcher import WatchKeys
        from sercon.transport.control import keyboard_line

        keys = WatchKeys(self.options.escape) if who is not None else None
        line = keyboard_line(who) if who is not None else "the keyboard is back with you"
        self.screen.status(f"{line}; your keys do not reach the console, {keys.how_to_quit()}" if keys else line)
        self._watch_keys = keys

    def _banner(self) -> str:
        esc = key_name(self.options.escape) if self.options.escape is not None else None
        ways = f"{esc} ? for the menu, {esc} q or <Enter>~. to quit" if esc else "<Enter>~. to quit"
        return f"connected to {self.transport.label}; {ways}"

    def _loop(self, keys: KeyReader, signals: SignalWake) -> ExitStatus:
        holding_esc = False
        key_fd, signal_fd, wake_fd = keys.fileno(), signals.read_fd, self._wake.fileno()
        watch = [key_fd, signal_fd, wake_fd]  # plain descriptors: no fileno() calls on a keystroke's path
        while not self._quit:
            busy = holding_esc or (self.log is not None and self.log.active)
            ready, _, _ = select.select(watch, [], [], TICK if busy else None)
            if signal_fd in ready:
                self._signals(signals)
            if wake_fd in ready:
                self._wake.drain()
                if self._fatal is not None:
                    raise self._fatal
            chunks: list[Chunk] = []
            if key_fd in ready:
                data = keys.read()
                if self._watch_keys is not None:  # another sercon has the keyboard: only a way out is read
                    self._quit = self._watch_keys.feed(data) or keys.closed
                    continue
                # A keystroke's usual way, the fast path: plain typing that the menu passes on whole
                # goes straight out, in as few calls as can be (each costs microseconds on a cold CPU).
                if keys.plain and self._closed is None and self.machine.feed_plain(data):
                    self._typed(data)
                else:
                    chunks = keys.feed(data)
                if keys.closed:
                    self._handle(chunks)
                    return self._end_of_input()
                holding_esc = keys.holding  # a lone Esc (or a cut sequence): flushed after a TICK of quiet
            elif holding_esc:
                chunks, holding_esc = keys.flush(), False
            if chunks:
                self._handle(chunks)
            if self.log is not None:
                self._flush_log()
        closed = self._closed  # quit while a closed session waited for Enter: say why it had ended
        return closed.exit_status if closed is not None else ExitStatus.SUCCESS

    def _signals(self, signals: SignalWake) -> None:
        for signum in signals.pending():
            if signum in EXIT_SIGNALS:
                raise Interrupted(signum, signal_name(signum))
            if signum == SIGWINCH:
                self.machine.width = self._window()[1]
                self._resize.window_changed()
                self._resize_at_prompt()

    def _handle(self, chunks: list[Chunk]) -> None:
        for chunk in chunks:
            if not (chunk.reply or chunk.pasted) and self._closed is None and self.machine.feed_plain(chunk.data):
                self._typed(chunk.data)  # plain typing after all (it came with an arrow key, say)
                continue
            if chunk.reply:  # the terminal answering the remote (cursor position...): not a keystroke
                if self._closed is None:
                    self._tx.typed(chunk.data)
                continue
            if chunk.pasted:
                self._tx.put((chunk.data, PASTE))
                self._resize.typed(b"x")  # a paste leaves a line half-typed as far as resize knows
                continue
            for action in self.machine.feed(chunk.data):
                if isinstance(action, Forward):
                    self._forward(action.data)
                elif isinstance(action, Prompt):
                    self.screen.show_menu(action.text)
                elif isinstance(action, Run):
                    self._command(action.name, action.arg)

    def _forward(self, data: bytes) -> None:
        if self._closed is None:
            self._typed(data)
        elif b"\r" in data or b"\n" in data:
            self._closed = None
            self._enter.set()
        else:
            self._tx.input_lost(len(data))

    def _typed(self, data: bytes) -> None:
        self._tx.typed(data)
        if self._resize.enabled:  # off, it never types: what was typed does not matter to it
            self._resize.typed(data)

    def _command(self, name: str, arg: str | None) -> None:
        self._menu[name](arg)

    def _toggle_timestamps(self) -> None:
        self.timestamps = not self.timestamps
        if self.log:
            self.log.timestamps = self.timestamps
        self.screen.status(f"timestamps {'on' if self.timestamps else 'off'}")

    def _window(self) -> tuple[int, int]:
        try:
            size = os.get_terminal_size(self.screen.out_fd)
        except OSError:
            return 0, 80
        return size.lines, size.columns

    def _resize_at_prompt(self) -> None:
        command = self._resize.command(self._tail.data, *self._window())
        if command is not None:
            self._tx.put((command, TYPED))

    def _type_window_size(self) -> None:
        """The menu's w: the user asked, so it is typed now (a 0x0 window is never sent)."""
        rows, cols = self._window()
        if rows <= 0 or cols <= 0:
            self.screen.status("this terminal reports no window size: nothing typed")
            return
        self._tx.put((stty_command(rows, cols), TYPED))

    def _logout(self) -> None:
        log_out(self._tail, self._tx.put, self.options.logout_sequence, self.screen.status,
                lambda: self._fatal is not None)

    def _toggle_log(self) -> None:
        if self.log is not None and self.log.active:
            self.log.close()
            self.screen.status(f"logging stopped ({self.log.path})")
            return
        if self.log is None:
            stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
            name = re.sub(r"[^A-Za-z0-9_.-]+", "_", self.transport.label).strip("_")
            self.log = SessionLog(f"sercon-{name}-{stamp}.log", self.options.log_format, self.timestamps)
        try:
            self.log.open()
        except LogError as exc:
            self.screen.status(exc.message)
            return
        self.screen.status(f"logging to {self.log.path}")

    def _flush_log(self) -> None:
        if self.log is not None:
            try:
                self.log.flush_if_due()
            except LogError as exc:
                self.screen.status(exc.message)

    def _end_of_input(self) -> ExitStatus:
        """stdin closed (a pipe ran dry): send what was read, then leave."""
        done = threading.Event()
        self._tx.put(lambda: done.set())
        done.wait(EOF_DRAIN_TIMEOUT)
        return ExitStatus.SUCCESS

    def _shutdown(self, threads: list[threading.Thread], ending: tuple[int, str]) -> None:
        self._stop.set()
        self._enter.set()
        if self.control is not None:
            self.control.stop()
        self._tx.close()
        self.transport.cancel_read()
        for thread in threads:
            if thread.is_alive():
                thread.join(timeout=2.0)
        self.transport.close()
        if self.log is not None:
            self.log.event("close", target=self.transport.label)
            self.log.close()
        if self.journal is not None:
            self.journal.close(code=ending[0], reason=ending[1])
        self._wake.close()

    def _post_fatal(self, exc: BaseException) -> None:
        self._fatal = exc
        self._wake.wake()

    # -- reader thread ---------------------------------------------------------------------------
    def _read_loop(self) -> None:
        try:
            while not self._stop.is_set():
                try:
                    # Block for good where the transport allows it: an idle session never wakes up.
                    data = self.transport.read(None if self.transport.read_can_wait else 1.0)
                except SessionClosed as exc:
                    if self._stop.is_set() or not self._after_close(exc):
                        return
                    continue
                except ConnectionLost as exc:
                    if self._stop.is_set():
                        return
                    if not self.options.reconnect:
                        self._post_fatal(exc)
                        return
                    if not self._reconnector.recover(exc):
                        return
                    self._tx.reconnected()
                    continue
                if data:
                    self.rx.rx(data)  # the screen first: it is what someone waits for
                    self._reconnector.backoff.answered()
        except BaseException as exc:  # anything unexpected ends the session, reported by the main thread
            if not self._stop.is_set():
                self._post_fatal(exc)

    def _after_close(self, exc: SessionClosed) -> bool:
        """The far end closed the session on purpose. Reopening takes the console from whoever holds
        it now, so it happens on its own only for a session that never answered (a refusal), or with
        --force; otherwise the user decides. False when the session ends."""
        if exc.taken_over and self.journal is not None:
            self.journal.event("taken-over", code=exc.code, reason=exc.reason)
        if self.options.take_back:
            reopened = self._reconnector.recover(ConnectionLost(f"{exc.message}; reopening it (--force)"),
                                                 refused=self._reconnector.backoff.on_probation())
        elif not exc.taken_over and self._reconnector.backoff.on_probation():
            reopened = self._reconnector.recover(exc, refused=True)
        elif not (self._interactive and self.options.reconnect):
            self._post_fatal(exc)
            return False
        else:
            reopened = self._await_enter(exc) and self._reconnector.recover(exc)
        if reopened:
            self._tx.reconnected()
        return reopened

    def _await_enter(self, exc: SessionClosed) -> bool:
        self._log_event("closed", code=exc.code, reason=exc.reason)
        self._enter.clear()
        self._closed = exc
        self.screen.status(f"{exc.message}. Press Enter to reconnect (a new session takes the console over if "
                           f"someone else holds it now), or {self._quit_hint()}")
        self._enter.wait()
        return not self._stop.is_set()

    def _log_event(self, kind: str, **fields: object) -> None:
        """A session event (lost, reconnected, closed) for the log and the journal."""
        if self.log is not None:
            self.log.event(kind, **fields)
        if self.journal is not None:
            self.journal.event(kind, **fields)

    def _resize_on_output(self, data: bytes) -> None:
        self._resize.output()
        self._resize_at_prompt()

    def _quit_hint(self) -> str:
        esc = self.options.escape
        return f"{key_name(esc)} q to quit" if esc is not None else "<Enter>~. to quit"

