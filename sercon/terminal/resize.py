"""When `--resize auto` may type `stty rows R cols C` into the console, and when it must not.

Serial lines cannot carry the window size, so the only way to tell the remote tty is to type a
command, and sercon never types into something that is not waiting for one. It types only when all
of these hold: a window size is pending (the first prompt, or the window changed); the guest is not
Windows; the size is not 0x0; the user's last keystroke was Enter (nothing half-typed on the line);
and the console printed since then, ending at a recognised shell prompt (`$ `, `# `, `% `, not a
Python `>>> `, `SAC>` or a traceback line). Both the key loop and the reader thread ask, so the
state is guarded by a lock: at most one command per pending size.
"""

from __future__ import annotations

import threading

from sercon.terminal.prompt import at_shell_prompt, stty_command


class ResizePolicy:
    def __init__(self, enabled: bool, windows_guest: bool = False) -> None:
        self.enabled = enabled and not windows_guest
        self._lock = threading.Lock()
        self._pending = self.enabled  # the first prompt gets the size too
        self._after_enter = False  # the user's last keystroke was Enter
        self._output_since_enter = False

    def window_changed(self) -> None:
        with self._lock:
            self._pending = self.enabled

    def typed(self, data: bytes) -> None:
        """What the user typed (not terminal replies, not pastes)."""
        if data:
            with self._lock:
                self._after_enter = data[-1:] in (b"\r", b"\n")
                self._output_since_enter = False

    def output(self) -> None:
        with self._lock:
            self._output_since_enter = True

    def command(self, tail: bytes, rows: int, cols: int) -> bytes | None:
        """The stty command to type now, or None; a command returned clears the pending size."""
        with self._lock:
            if not (self._pending and self._after_enter and self._output_since_enter):
                return None
            if rows <= 0 or cols <= 0 or not at_shell_prompt(tail):
                return None
            self._pending = False
            self._after_enter = False  # what sercon types is not the user's Enter
            return stty_command(rows, cols)
