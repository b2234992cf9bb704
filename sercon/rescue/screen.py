"""GRUB's screen as rescue follows it: the VT model lives with the other escape-sequence code
(sercon/stream/vt.py); this name stays for rescue's modules."""

from sercon.stream.vt import COLS, ROWS, Screen

__all__ = ["COLS", "ROWS", "Screen"]
