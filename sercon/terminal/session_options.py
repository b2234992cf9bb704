"""What a session is asked to do: the options `sercon connect` (and demo, rescue) build for it.

Apart from session.py, which runs them; callers import SessionOptions from either module.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sercon.choices import JOURNAL_DEFAULT_SIZE


@dataclass
class SessionOptions:
    escape: int | None = 0x1D
    paste_chunk: int = 2048
    reconnect: bool = True
    timestamps: bool = False
    log_path: str | None = None
    log_format: str = "text"
    take_back: bool = False  # reopen a session the far end closed (another user's takeover too) (--force)
    interactive: bool | None = None  # may the user be asked (Enter reconnects)? None: stdin is a terminal
    control_path: Path | None = None  # where other sercon commands reach this session
    resize: bool = False  # type `stty rows R cols C` at a shell prompt when the window size changes (resize.py)
    logout_on_exit: bool = False
    logout_sequence: bytes = b"\x15exit\r"  # Ctrl-U clears a half-typed line first
    journal: bool = True  # append what the console prints to the target's journal (sercon/journal/)
    journal_input: bool = False  # typed input too (--journal-input)
    journal_size: int = JOURNAL_DEFAULT_SIZE  # the journal's bound per target, in bytes (journal_size in a profile)
