"""The control socket is a convenience: a session whose socket cannot be made goes on without it."""

from __future__ import annotations

import os

from tests.conftest import Terminal, cli_env


def test_a_runtime_folder_too_long_for_a_socket_is_said_once_and_the_session_goes_on(device, tmp_path):
    """A Unix socket's path holds at most 107 bytes: a long XDG_RUNTIME_DIR (or TMPDIR) must not end
    the session with 'unexpected error: AF_UNIX path too long' (found running the tests in parallel)."""
    deep = tmp_path / ("r" * 60) / ("u" * 60)
    deep.mkdir(parents=True, mode=0o700)
    term = Terminal(["connect", device.path], env=cli_env(XDG_RUNTIME_DIR=str(deep)))
    try:
        term.connected()
        term.wait_text("cannot reach this session")
        assert "unexpected error" not in term.text()
        device.write(b"still-here\r\n")
        term.wait_text("still-here")
        term.send(b"typed")
        device.expect(b"typed")
        term.send(b"\x1dq")
        assert term.wait_exit() == 0
        assert term.text().count("cannot reach this session") == 1
        assert os.listdir(deep) in ([], ["sercon"])
    finally:
        term.close()
