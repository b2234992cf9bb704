"""How a keystroke and the console's first byte travel (issue 12): mechanisms, not times.

The real `sercon connect` runs in a pty on a pty device, with its serial transport wrapped so that
every write says which thread made it and every read what had been imported by then.
"""

from __future__ import annotations

import re
import sys
import time
from collections.abc import Callable

import pytest

from tests.conftest import cli_env

DRIVER = r"""
import re, sys, threading

compiled_by = []  # which modules compiled a regular expression, before the first read
_compile = re._compile


def recording_compile(*args, **kwargs):
    frame = sys._getframe(1)
    while frame is not None and frame.f_globals.get("__name__") == "re":
        frame = frame.f_back
    compiled_by.append(frame.f_globals.get("__name__", "?") if frame is not None else "?")
    return _compile(*args, **kwargs)


re._compile = recording_compile
import sercon.transport.serial as serial_transport
from sercon.cli import main

record = open(sys.argv[1], "a", buffering=1)
WATCH = ("prompt_toolkit", "rich", "msal", "websocket", "requests", "aiohttp", "sercon.azure",
         "sercon.cli.azure_commands", "sercon.cli.account_commands", "sercon.cli.demo", "sercon.cli.info",
         "sercon.terminal.control_server", "_hashlib", "concurrent.futures", "tomllib", "tempfile", "json",
         "base64", "socket", "signal", "difflib", "sercon.trace")


class Recording(serial_transport.SerialTransport):
    reads = 0

    def read(self, timeout):
        if Recording.reads == 0:
            record.write("first read, imported: " + ",".join(m for m in WATCH if m in sys.modules) + "\n")
            ours = sorted({name for name in compiled_by if name.startswith("sercon")})
            record.write("first read, patterns compiled by: " + ",".join(ours) + "\n")
        elif Recording.reads == 1:  # the first output is on the screen; nothing was typed yet
            record.write("second read, threads: " + ",".join(sorted(t.name for t in threading.enumerate())) + "\n")
        Recording.reads += 1
        return super().read(timeout)

    def try_write(self, data):
        sent = super().try_write(data)
        record.write(f"try_write {threading.current_thread().name} {data.hex()} {len(data)} {sent} "
                     f"parser={'prompt_toolkit' in sys.modules}\n")
        return sent

    def write(self, data):
        record.write(f"write {threading.current_thread().name} {data.hex()} {len(data)}\n")
        super().write(data)


serial_transport.SerialTransport = Recording  # open_transport looks it up when it runs
sys.exit(main(["connect", sys.argv[2]]))
"""


@pytest.fixture
def recorded(device, terminal, tmp_path):
    """Start the driver; returns the terminal and a function that waits until the record's lines of
    the given kinds satisfy *done* (a write is recorded just after it went, so the device may have
    it a moment before the record does) and returns those lines."""
    log = tmp_path / "record.txt"

    def start():
        term = terminal(command=[sys.executable, "-c", DRIVER, str(log), device.path]).connected()

        def lines(kinds: tuple[str, ...], done: Callable[[list[str]], bool], timeout: float = 10.0) -> list[str]:
            deadline = time.monotonic() + timeout
            while True:
                found = [line for line in log.read_text().splitlines() if line.startswith(kinds)]
                if done(found) or time.monotonic() > deadline:
                    return found
                time.sleep(0.01)

        return term, lines

    return start


WRITES = ("try_write", "write")


def sent(lines: list[str]) -> bytes:
    return bytes.fromhex("".join(line.split()[2] for line in lines))


def test_a_plain_keystroke_goes_from_the_key_loop_straight_to_the_device(device, recorded):
    term, record = recorded()
    term.send(b"l")
    device.expect(b"l")
    term.send(b"s -l\r")
    device.expect(re.escape(b"s -l\r"))
    typed = record(WRITES, lambda found: sent(found) == b"ls -l\r")
    # Written by the key loop itself (no hand-off to the writer thread), all of it at once, and
    # prompt-toolkit never loaded: plain typing does not go near its parser.
    assert typed and all(line.startswith("try_write MainThread") and line.endswith("parser=False")
                         for line in typed), typed
    assert all(line.split()[3] == line.split()[4] for line in typed), typed  # every byte in that one write
    assert sent(typed) == b"ls -l\r"
    term.send(b"\x1b[A")  # an arrow key: through the parser, which is loaded now, and out unchanged
    device.expect(re.escape(b"\x1b[A"))
    assert record(WRITES, lambda found: len(found) > len(typed))[-1].endswith("parser=True")
    term.send(b"\r~.")  # and the escape machine still sees every byte
    assert term.wait_exit() == 0
    assert b"~" not in device.buffer


def test_the_menu_key_still_opens_the_menu_on_the_fast_path(device, recorded):
    term, record = recorded()
    term.send(b"abc")
    device.expect(b"abc")
    term.send(b"\x1d")
    term.wait_text("q quit")
    term.send(b"q")
    assert term.wait_exit() == 0
    assert b"\x1d" not in device.buffer and b"q" not in device.buffer


def test_the_console_is_read_before_anything_heavy_is_imported(device, recorded):
    """The way from exec to the first read of the device: no prompt-toolkit, rich, Azure, other
    commands' modules, nor the control socket's server (started once the reader runs); no OpenSSL
    hashes, thread pools, TOML parser (no config file) or tempfile (XDG_RUNTIME_DIR is set), nor json,
    base64 and socket (the control socket's protocol, the jsonl log: a few ms together), nor `signal`'s
    enums (the C module does) or difflib (for a name that matched nothing), nor the
    wire trace's module (no --trace was given); and no
    regular expression of sercon's compiled (each costs a fraction of a millisecond)."""
    term, record = recorded()
    device.write(b"hello\r\n")
    term.wait_text("hello")
    assert record(("first read",), lambda found: len(found) == 2) == [
        "first read, imported: ", "first read, patterns compiled by: "]  # and no regex compiled at import
    threads = record(("second read",), bool)
    assert threads and "sercon-tx" not in threads[0], threads  # the writer starts with the first input it takes
    term.send(b"\x1dq")
    assert term.wait_exit() == 0


def test_the_control_socket_still_answers(device, recorded, tmp_path):
    """Started after the reader, the control server still takes `sercon send` through the session."""
    from tests.conftest import run_cli

    term, _ = recorded()
    result = run_cli("send", device.path, "echo hi", env=cli_env())
    assert result.returncode == 0, result.stderr
    device.expect(re.escape(b"echo hi\r"))
    term.send(b"\x1dq")
    assert term.wait_exit() == 0
