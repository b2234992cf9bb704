"""Every escape-menu command has a handler in the session (one registry: escape.py's MENU)."""

from __future__ import annotations

import io
import os

from sercon.targets import LineSettings
from sercon.terminal.escape import MENU
from sercon.terminal.session import Session, SessionOptions
from sercon.transport.serial import SerialTransport


def test_every_menu_command_has_a_handler():
    transport = SerialTransport("loop://", LineSettings())
    read_fd, write_fd = os.pipe()
    try:
        session = Session(transport, io.TextIOWrapper(io.FileIO(read_fd, closefd=False)), write_fd, SessionOptions())
        assert {c.name for c in MENU} - {"help"} == set(session._menu)
    finally:
        os.close(read_fd)
        os.close(write_fd)
