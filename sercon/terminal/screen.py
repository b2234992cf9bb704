"""The local terminal's output side: console bytes pass unmodified; the menu and status lines fit around them."""

from __future__ import annotations

import os
import re
import select
import threading
import time
from collections.abc import Callable

from sercon.errors import OutputClosed, OutputFailed
from sercon.stream.ansi import ESCAPE, strip

SAVE, RESTORE, ERASE_EOL = b"\x1b7", b"\x1b8", b"\x1b[K"
NOWRAP, WRAP, REVERSE, PLAIN, BOLD = b"\x1b[?7l", b"\x1b[?7h", b"\x1b[7m", b"\x1b[0m", b"\x1b[1m"
LINE_MEMORY = 2048  # bytes of the cursor's line kept to redraw it after the menu
# Pattern sources, compiled on first use (re caches them): not at import, on the way to the first byte.
HARMLESS = rb"\x1b\[[0-9;]*[mK]"  # colours and erase-to-end: a line redrawn with these stays right
# A status line never cuts a console line (the kernel's reply to a SysRq arrives while sercon says it
# sent it): while the console is mid-line it waits for the line to end, as long as output goes on coming
# (STATUS_HOLD of quiet ends the wait: a prompt never ends its line), STATUS_HOLD_MAX at most.
STATUS_HOLD, STATUS_HOLD_MAX = 0.3, 2.0


def write_all(fd: int, data: bytes | memoryview) -> None:
    """os.write until everything is out, waiting (not spinning) if the descriptor is non-blocking."""
    view = data
    while view:
        try:
            written = os.write(fd, view)
            if written == len(view):  # the usual case: one write, no memoryview
                return
            view = memoryview(view)[written:]
        except BlockingIOError:
            select.select([], [fd], [])
        except BrokenPipeError as exc:
            raise OutputClosed("the output was closed") from exc
        except OSError as exc:  # a full disk, /dev/full, a revoked terminal: say so, never lose output quietly
            raise OutputFailed(f"cannot write the output: {exc.strerror}",
                               "write to a file or pipe that can take it (the output so far was written)") from exc


class Screen:
    """Serialises writes from the reader thread (console output) and the input loop (menu, status).

    The menu line is drawn from the first column of the cursor's line (so it has the whole width),
    with autowrap off and the cursor saved. When it closes, that line is redrawn from the bytes the
    console printed on it since its last line feed, and the cursor restored, so the screen is as it
    was and the remote program's idea of it stays right. (A line a full-screen program drew with
    cursor movements cannot be redrawn that way: it stays blank until the program redraws it.)
    Console output that arrives while the menu is shown waits and is written when it closes.
    """

    def __init__(self, out_fd: int, status_fd: int | None = None, is_tty: bool = True) -> None:
        self.out_fd = out_fd
        self.status_fd = out_fd if status_fd is None else status_fd
        self.is_tty = is_tty
        self.at_line_start = True
        self._lock = threading.Lock()
        self._menu_open = False
        self._held = bytearray()
        self._line = bytearray()  # what the console printed since the last line feed
        self._waiting = threading.Condition(self._lock)  # status lines held for the console line's end
        self._pending: list[str] = []
        self._hold_until = self._hold_max = 0.0

    def _remember(self, data: bytes) -> None:
        newline = data.rfind(b"\n")
        if newline != -1:
            self._line = bytearray(data[newline + 1 :])
        else:
            self._line += data
        del self._line[:-LINE_MEMORY]

    def _line_redraw(self) -> bytes:
        """The cursor's line as the console drew it, or b"" when replaying it could not be right."""
        line = bytes(self._line)
        if len(line) >= LINE_MEMORY or any(not re.fullmatch(HARMLESS, m.group(0)) for m in re.finditer(ESCAPE, line)):
            return b""
        visible = strip(line).rsplit(b"\r", 1)[-1]
        return line if len(visible.decode("utf-8", "replace")) < self._columns() else b""

    def _columns(self) -> int:
        try:
            return os.get_terminal_size(self.out_fd).columns
        except OSError:
            return 80

    def write(self, data: bytes) -> None:
        if not data:
            return
        with self._lock:
            if self._menu_open:
                self._held += data
            else:
                write_all(self.out_fd, data)
                self._remember(data)
            self.at_line_start = data[-1:] == b"\n"
            if self._pending:
                self._hold_until = time.monotonic() + STATUS_HOLD
                if self.at_line_start:
                    self._show_pending()

    def status(self, message: str) -> None:
        """One line of sercon's own, on a line of its own: after the console line it would cut."""
        with self._lock:
            self._pending.append(message)
            if self.at_line_start or self.status_fd != self.out_fd:
                self._show_pending()
            elif len(self._pending) == 1:
                now = time.monotonic()
                self._hold_until, self._hold_max = now + STATUS_HOLD, now + STATUS_HOLD_MAX
                threading.Thread(target=self._hold, name="sercon-status", daemon=True).start()

    def _hold(self) -> None:
        with self._lock:
            while self._pending:
                left = min(self._hold_until, self._hold_max) - time.monotonic()
                if left <= 0:
                    self._show_pending()
                    return
                self._waiting.wait(left)

    def _show_pending(self) -> None:
        messages, self._pending = self._pending, []
        self._waiting.notify_all()
        if not messages:
            return
        if not self.is_tty:
            lead = "" if self.at_line_start or self.status_fd != self.out_fd else "\n"
            text = lead + "".join(f"sercon: {message}\n" for message in messages)
            write_all(self.status_fd, text.encode(errors="replace"))
            self.at_line_start = self.at_line_start or self.status_fd == self.out_fd
            return
        gap = b"" if self.at_line_start else b"\r\n"
        self._erase_menu()
        write_all(self.out_fd, gap + b"".join(BOLD + b"[sercon] " + message.encode(errors="replace") + PLAIN + b"\r\n"
                                               for message in messages))
        self.at_line_start = True
        self._line.clear()
        if self._menu_open:
            self._draw_menu(self._menu_text)

    def end_line(self) -> None:
        with self._lock:
            self._show_pending()
            self._erase_menu()
            self._menu_open = False
            if self.is_tty and not self.at_line_start:
                write_all(self.out_fd, b"\r\n")
                self.at_line_start = True

    def show_menu(self, text: str | None) -> None:
        with self._lock:
            if not self.is_tty:
                if text:
                    write_all(self.status_fd, f"{text}\n".encode(errors="replace"))
                return
            self._erase_menu()
            if text is None:
                self._menu_open = False
                held, self._held = bytes(self._held), bytearray()
                write_all(self.out_fd, held)
                self._remember(held)
            else:
                self._menu_open = True
                self._menu_text = text
                self._draw_menu(text)

    def _draw_menu(self, text: str) -> None:
        text = text[: max(1, self._columns() - 1)]  # never wrap: the line below stays as it is
        write_all(self.out_fd, SAVE + NOWRAP + b"\r" + REVERSE + text.encode(errors="replace") + PLAIN + ERASE_EOL)

    def _erase_menu(self) -> None:
        if self._menu_open:
            write_all(self.out_fd, b"\r" + ERASE_EOL + self._line_redraw() + RESTORE + WRAP)


class ScreenSink:
    """The receive pipeline's first sink: console output to the screen, stamped when timestamps are on
    (the menu's t switches them while output flows)."""

    __slots__ = ("screen", "stamp", "timestamps")

    def __init__(self, screen: Screen, stamp: Callable[[bytes], bytes], timestamps: bool) -> None:
        self.screen, self.stamp, self.timestamps = screen, stamp, timestamps

    def rx(self, data: bytes) -> None:
        self.screen.write(self.stamp(data) if self.timestamps else data)
