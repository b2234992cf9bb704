"""The escape menu as a pure state machine: bytes typed in, actions out.

Two ways in: the escape key (Ctrl-] by default) opens the menu; ``<Enter>~.`` quits, as in ssh, for
keyboard layouts where Ctrl-] is hard to reach. One registry drives dispatch, the menu line and help.
Every prompt fits in ``width`` columns: the menu line shortens to the keys alone on a narrow window,
and help is shown a page at a time (``?`` again for the next page), so nothing is ever cut.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import Enum, auto
from typing import NamedTuple

from sercon.choices import key_name
from sercon.sysrq import destructive
from sercon.transport.base import BREAK, NMI, RESET, SYSRQ


# NamedTuples, not frozen dataclasses: made at import on the way to the console's first byte, they
# cost a fifth of the time (a dataclass execs generated methods, ~1 ms each on a loaded machine).
class MenuCommand(NamedTuple):
    key: str
    name: str
    description: str
    needs: str | None = None  # a transport control this command requires
    arg_prompt: str | None = None  # the command takes one more key
    question: str | None = None  # asks this, y/N, first
    label: str = ""  # a short name for the menu line on a narrow window


MENU: tuple[MenuCommand, ...] = (
    MenuCommand("q", "quit", "quit sercon"),
    MenuCommand("b", "break", "send a BREAK", needs=BREAK),
    MenuCommand("s", "sysrq", "SysRq, then its key", needs=SYSRQ,
                arg_prompt="SysRq: press the key (h = help, Esc = cancel)"),
    MenuCommand("n", "nmi", "NMI (asks first)", needs=NMI, question="Send a non-maskable interrupt?"),
    MenuCommand("r", "reset", "hard reset (asks first)", needs=RESET, question="Hard-reset the machine?"),
    MenuCommand("w", "resize", "type stty rows/cols", label="size"),
    MenuCommand("l", "toggle_log", "logging on/off"),
    MenuCommand("t", "toggle_timestamps", "timestamps on/off", label="time"),
    MenuCommand("?", "help", "this help"),
)


class Forward(NamedTuple):
    data: bytes


class Run(NamedTuple):
    name: str
    arg: str | None = None


class Prompt(NamedTuple):
    """Show this text on the menu line, or close the menu line when text is None."""

    text: str | None


Action = Forward | Run | Prompt


class State(Enum):
    IDLE = auto()
    TILDE = auto()
    MENU = auto()
    ARG = auto()
    CONFIRM = auto()


CANCEL = {0x1B, 0x03, 0x0D}
UNAVAILABLE = {  # why a command is missing from the menu, and what would bring it
    BREAK: "this line cannot carry a BREAK: use telnet:// or --qmp SOCKET",
    SYSRQ: "no BREAK here, and SysRq needs one: use telnet:// or --qmp SOCKET (Windows guests: SAC)",
    NMI: "needs an Azure VM or --qmp SOCKET",
    RESET: "needs an Azure VM or --qmp SOCKET",
}
HELP_TAIL = "  (?)"  # Esc, Ctrl-C, Enter close the menu
TILDE, DOT = ord("~"), ord(".")


class EscapeMachine:
    def __init__(self, escape: int | None, controls: Iterable[str] = (), width: int = 80) -> None:
        self.escape = escape
        self.commands = {c.key: c for c in MENU if c.needs is None or c.needs in set(controls)}
        self.unavailable = {c.key: c for c in MENU if c.key not in self.commands}
        self.width = width  # the window's columns: the session updates it when the window changes
        self.state = State.IDLE
        self.at_line_start = True
        self._pending: MenuCommand | None = None
        self._pending_arg: str | None = None  # the SysRq key a question waits on
        self._help_page = 0

    def menu_line(self) -> str:
        """The keys with their names if that fits, else the keys alone, else as many as fit."""
        esc = key_name(self.escape) if self.escape is not None else ""
        send = f"  {esc} send {esc}" if esc else ""
        for label, tail in ((lambda c: c.name.split("_")[-1], send), (lambda c: c.label or c.name.split("_")[-1], send),
                            (lambda c: c.label or c.name.split("_")[-1], "")):
            line = "sercon: " + "  ".join(f"{c.key} {label(c)}" for c in self.commands.values()) + tail
            if len(line) < self.width:
                return line
        keys = " ".join(self.commands)
        short = f"sercon: {keys} (? help)"
        return short if len(short) < self.width else _fit(f"{keys} ?", self.width)

    def help_pages(self) -> list[str]:
        """The help, a page a line, each less than ``width`` columns; a long item flows on to the next page."""
        items = [f"{c.key} {c.description}" for c in self.commands.values()]
        if self.escape is not None:
            items.append(f"{key_name(self.escape)} send {key_name(self.escape)} itself")
        items.append("<Enter>~. quits too")
        room = max(12, self.width - 1 - len("10/10 ") - len(HELP_TAIL))
        pages: list[str] = []
        line = ""
        for item in items:
            if line and len(line) + 3 + len(item) <= room:
                line = f"{line} · {item}"
                continue
            if line:
                pages.append(line)
            line = ""
            for word in item.split():
                if line and len(line) + 1 + len(word) > room:
                    pages.append(line)
                    line = word
                else:
                    line = f"{line} {word}" if line else word
        pages.append(line)
        return [_fit(f"{i + 1}/{len(pages)} {page}{HELP_TAIL}", self.width) for i, page in enumerate(pages)]

    def feed(self, data: bytes) -> list[Action]:
        actions: list[Action] = []
        out = bytearray()
        for byte in data:
            if self.state is State.IDLE:
                if byte == self.escape:
                    self._flush(out, actions)
                    self.state = State.MENU
                    actions.append(Prompt(self.menu_line()))
                elif byte == TILDE and self.at_line_start:
                    self.state = State.TILDE
                else:
                    out.append(byte)
                    self.at_line_start = byte in (0x0D, 0x0A)
            elif self.state is State.TILDE:
                self.state = State.IDLE
                if byte == DOT:
                    self._flush(out, actions)
                    actions.append(Run("quit"))
                    continue
                out.append(TILDE)
                if byte != TILDE:
                    out.append(byte)
                self.at_line_start = byte in (0x0D, 0x0A)
            else:
                self._flush(out, actions)
                actions.extend(self._menu_key(byte))
        self._flush(out, actions)
        return actions

    def feed_plain(self, data: bytes) -> bool:
        """Take *data* whole if it is plain typing, and say so; else change nothing (use ``feed``).

        Plain: the menu is closed and *data* holds neither the escape key nor a `~`. ``feed`` would
        then return exactly ``[Forward(data)]`` and move nothing but ``at_line_start``; this says as
        much without a Python loop over the bytes, so a keystroke costs a few checks on its way out."""
        if self.state is not State.IDLE or not data or TILDE in data or (
                self.escape is not None and self.escape in data):
            return False
        self.at_line_start = data[-1] in (0x0D, 0x0A)
        return True

    @staticmethod
    def _flush(out: bytearray, actions: list[Action]) -> None:
        if out:
            actions.append(Forward(bytes(out)))
            out.clear()

    def _menu_key(self, byte: int) -> list[Action]:
        if byte == self.escape:
            if self.state is State.MENU:
                self.state = State.IDLE
                return [Prompt(None), Forward(bytes([byte]))]
            self.state = State.MENU
            return [Prompt(self.menu_line())]
        if self.state is State.ARG:
            self.state = State.IDLE
            command = self._pending
            if byte in CANCEL or command is None:
                return [Prompt(None)]
            harm = destructive([chr(byte)]) if command.name == "sysrq" else None
            if harm:  # b, c, o, e, i end the machine's work: asked first, as NMI and reset are
                self.state, self._pending_arg = State.CONFIRM, chr(byte)
                return [Prompt(_fit(f"SysRq {chr(byte)}: {harm}? [y/N]", self.width))]
            return [Prompt(None), Run(command.name, chr(byte))]
        if self.state is State.CONFIRM:
            self.state = State.IDLE
            command, arg, self._pending_arg = self._pending, self._pending_arg, None
            if byte in (ord("y"), ord("Y")) and command is not None:
                return [Prompt(None), Run(command.name, arg)]
            return [Prompt(None)]
        return self._command_key(byte)

    def _command_key(self, byte: int) -> list[Action]:
        if byte != ord("?"):
            self._help_page = 0
        if byte in CANCEL:
            self.state = State.IDLE
            return [Prompt(None)]
        command = self.commands.get(chr(byte))
        if command is None and (missing := self.unavailable.get(chr(byte))) and missing.needs:
            why = UNAVAILABLE[missing.needs]
            return [Prompt(_fit(f"sercon: {missing.name} is not available on this console ({why}); Esc to close",
                                self.width))]
        if command is None:
            return [Prompt(_fit(f"sercon: no command on {key_name(byte)!s}; ? for help, Esc to close", self.width))]
        if command.name == "help":
            pages = self.help_pages()
            page = pages[self._help_page % len(pages)]
            self._help_page += 1
            return [Prompt(page)]
        self._pending = command
        if command.arg_prompt:
            self.state = State.ARG
            return [Prompt(_fit(command.arg_prompt, self.width))]
        if command.question:
            self.state = State.CONFIRM
            return [Prompt(_fit(f"{command.question} [y/N]", self.width))]
        self.state = State.IDLE
        return [Prompt(None), Run(command.name)]


def _fit(text: str, width: int) -> str:
    """*text* in at most *width* columns (one column is kept free: some terminals wrap on the last)."""
    room = max(1, width - 1)
    return text if len(text) <= room else text[: room - 1] + "…"
