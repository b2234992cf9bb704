"""The escape menu as a pure state machine: bytes typed in, actions out.

Two ways in: the escape key (Ctrl-] by default) opens the menu; ``<Enter>~.`` quits, as in ssh, for
keyboard layouts where Ctrl-] is hard to reach. One registry drives dispatch, the menu line and help.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum, auto

from sercon.errors import UsageError
from sercon.transport.base import BREAK, NMI, RESET, SYSRQ


@dataclass(frozen=True)
class MenuCommand:
    key: str
    name: str
    description: str
    needs: str | None = None  # a transport control this command requires
    arg_prompt: str | None = None  # the command takes one more key
    confirm: bool = False  # asks y/N first


MENU: tuple[MenuCommand, ...] = (
    MenuCommand("q", "quit", "quit sercon."),
    MenuCommand("b", "break", "send a BREAK.", needs=BREAK),
    MenuCommand("s", "sysrq", "send a magic SysRq key (then press the key).", needs=SYSRQ,
                arg_prompt="SysRq: press the key (h = help, Esc = cancel)"),
    MenuCommand("n", "nmi", "send a non-maskable interrupt.", needs=NMI, confirm=True),
    MenuCommand("r", "reset", "hard-reset the machine.", needs=RESET, confirm=True),
    MenuCommand("w", "resize", "tell the remote the window size (types stty rows/cols)."),
    MenuCommand("l", "toggle_log", "start or stop logging."),
    MenuCommand("t", "toggle_timestamps", "show or hide timestamps."),
    MenuCommand("?", "help", "show this help."),
)


@dataclass(frozen=True)
class Forward:
    data: bytes


@dataclass(frozen=True)
class Run:
    name: str
    arg: str | None = None


@dataclass(frozen=True)
class Prompt:
    """Show this text on the menu line, or close the menu line when text is None."""

    text: str | None


Action = Forward | Run | Prompt


class State(Enum):
    IDLE = auto()
    TILDE = auto()
    MENU = auto()
    ARG = auto()
    CONFIRM = auto()


CANCEL = {0x1B, 0x03, 0x0D}  # Esc, Ctrl-C, Enter close the menu
TILDE, DOT = ord("~"), ord(".")


def parse_escape_key(spec: str) -> int | None:
    """`^]`, `ctrl-]`, `ctrl-t`, `^T` or `none` -> the escape byte (None: no menu key)."""
    text = spec.strip().lower()
    if text in ("none", "off", ""):
        return None
    for prefix in ("ctrl-", "ctrl+", "c-", "^"):
        if text.startswith(prefix) and len(text) == len(prefix) + 1:
            byte = ord(text[-1].upper()) ^ 0x40
            if 0 <= byte < 0x20:
                return byte
    raise UsageError(f"cannot use {spec!r} as the escape key", "write it as ctrl-] (the default), ^T or none")


def key_name(byte: int) -> str:
    return f"^{chr(byte ^ 0x40)}" if byte < 0x20 else chr(byte)


class EscapeMachine:
    def __init__(self, escape: int | None, controls: Iterable[str] = ()) -> None:
        self.escape = escape
        self.commands = {c.key: c for c in MENU if c.needs is None or c.needs in set(controls)}
        self.state = State.IDLE
        self.at_line_start = True
        self._pending: MenuCommand | None = None

    def menu_line(self) -> str:
        names = "  ".join(f"{c.key} {c.name.split('_')[-1]}" for c in self.commands.values())
        esc = key_name(self.escape) if self.escape is not None else ""
        return f"sercon: {names}  {esc} send {esc}" if esc else f"sercon: {names}"

    def help_line(self) -> str:
        items = [f"{c.key}: {c.description.rstrip('.')}" for c in self.commands.values()]
        if self.escape is not None:
            items.append(f"{key_name(self.escape)}: send {key_name(self.escape)} itself")
        return "; ".join(items) + "; <Enter>~. quits too"

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
            return [Prompt(None), Run(command.name, chr(byte))]
        if self.state is State.CONFIRM:
            self.state = State.IDLE
            command = self._pending
            if byte in (ord("y"), ord("Y")) and command is not None:
                return [Prompt(None), Run(command.name)]
            return [Prompt(None)]
        return self._command_key(byte)

    def _command_key(self, byte: int) -> list[Action]:
        if byte in CANCEL:
            self.state = State.IDLE
            return [Prompt(None)]
        command = self.commands.get(chr(byte))
        if command is None:
            return [Prompt(f"sercon: no command on {key_name(byte)!s}; ? for help, Esc to close")]
        if command.name == "help":
            return [Prompt(self.help_line())]
        self._pending = command
        if command.arg_prompt:
            self.state = State.ARG
            return [Prompt(command.arg_prompt)]
        if command.confirm:
            self.state = State.CONFIRM
            return [Prompt(f"{command.description[:-1].capitalize()}? [y/N]")]
        self.state = State.IDLE
        return [Prompt(None), Run(command.name)]
