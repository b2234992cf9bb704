"""Just enough of a VT100 to follow GRUB's serial drawing: 80x24, cursor addressing, erase.

GRUB assumes 80x24 on a serial terminal and draws with `ESC[H ESC[J`, `ESC[row;colH` and reverse
video, one byte at a time; escape sequences may arrive split across reads. Anything this model
does not know (colours, modes, OSC) is consumed and ignored, never printed.
"""

from __future__ import annotations

import re

ROWS, COLS = 24, 80
_OSC_END = rb"\x07|\x1b\\"  # a source: compiled on first use, not at import


class Screen:
    """Characters on screen and the cursor, fed with raw console bytes."""

    def __init__(self, rows: int = ROWS, cols: int = COLS) -> None:
        self.rows, self.cols = rows, cols
        self.lines = [[" "] * cols for _ in range(rows)]
        self.row = self.col = 0
        self._pending = b""

    def feed(self, data: bytes) -> None:
        data, self._pending = self._pending + data, b""
        index = 0
        while index < len(data):
            byte = data[index]
            if byte == 0x1B:
                used = self._escape(data, index)
                if used == 0:  # incomplete: wait for the rest
                    self._pending = data[index:]
                    return
                index += used
                continue
            self._control_or_text(byte)
            index += 1

    def text(self, row: int) -> str:
        return "".join(self.lines[row])

    def display(self) -> list[str]:
        return [self.text(row) for row in range(self.rows)]

    def contains(self, needle: str) -> bool:
        return any(needle in line for line in self.display())

    def _escape(self, data: bytes, index: int) -> int:
        """How many bytes the sequence at *index* takes; 0 when it is not complete yet."""
        if index + 1 >= len(data):
            return 0
        kind = data[index + 1]
        if kind == ord("["):
            end = index + 2
            while end < len(data) and 0x20 <= data[end] <= 0x3F:
                end += 1
            if end >= len(data):
                return 0 if end - index < 32 else end - index
            if 0x40 <= data[end] <= 0x7E:
                self._csi(data[index + 2:end].decode("ascii", "replace"), chr(data[end]))
                return end + 1 - index
            return end - index  # broken sequence: drop it, keep what follows
        if kind == ord("]"):  # OSC, up to BEL or ST
            found = re.compile(_OSC_END).search(data, index)
            return 0 if found is None else found.end() - index
        if kind == ord("c"):
            self._erase(0, 0, self.rows - 1, self.cols - 1)
            self.row = self.col = 0
        return 2

    def _csi(self, params: str, final: str) -> None:
        numbers = [int(part) if part.isdigit() else 0 for part in params.lstrip("?").split(";")]
        first = numbers[0] or 1
        if final in "Hf":
            row = numbers[0] if numbers[0] else 1
            col = numbers[1] if len(numbers) > 1 and numbers[1] else 1
            self.row, self.col = min(row, self.rows) - 1, min(col, self.cols) - 1
        elif final == "J":
            mode = numbers[0]
            if mode == 0:
                self._erase(self.row, self.col, self.rows - 1, self.cols - 1)
            elif mode in (2, 3):
                self._erase(0, 0, self.rows - 1, self.cols - 1)
        elif final == "K":
            start, end = {0: (self.col, self.cols - 1), 1: (0, self.col)}.get(numbers[0], (0, self.cols - 1))
            self.lines[self.row][start:end + 1] = [" "] * (end - start + 1)
        elif final in "ABCD":
            step = {"A": (-first, 0), "B": (first, 0), "C": (0, first), "D": (0, -first)}[final]
            self.row = max(0, min(self.rows - 1, self.row + step[0]))
            self.col = max(0, min(self.cols - 1, self.col + step[1]))

    def _erase(self, row: int, col: int, last_row: int, last_col: int) -> None:
        for line in range(row, last_row + 1):
            start = col if line == row else 0
            end = last_col if line == last_row else self.cols - 1
            self.lines[line][start:end + 1] = [" "] * (end - start + 1)

    def _control_or_text(self, byte: int) -> None:
        if byte == 0x0D:
            self.col = 0
        elif byte == 0x0A:
            self._line_feed()
        elif byte == 0x08:
            self.col = max(0, self.col - 1)
        elif byte >= 0x20 and byte != 0x7F:
            self.lines[self.row][self.col] = chr(byte) if byte < 0x80 else "?"
            self.col += 1
            if self.col >= self.cols:  # autowrap is off in GRUB (`ESC[?7l`): stay on the last column
                self.col = self.cols - 1

    def _line_feed(self) -> None:
        if self.row < self.rows - 1:
            self.row += 1
            return
        self.lines.pop(0)
        self.lines.append([" "] * self.cols)
