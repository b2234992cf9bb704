"""Input that must keep flowing: a failing action never ends typing; `sercon send` through a session is typed."""

from __future__ import annotations

import re

from tests.conftest import cli_env, run_cli
from tests.support.fake_hmp import fake_hmp


def test_a_failing_action_is_a_status_line_and_typing_goes_on(device, terminal, tmp_path):
    monitor = str(tmp_path / "hmp.sock")
    fake_hmp(monitor)
    term = terminal("connect", device.path, "--qmp", monitor, cols=160).connected()
    term.send(b"\x1dny")  # NMI through the "QMP" socket
    term.wait_text("is not a QMP socket")
    term.send(b"still typing\r")
    device.expect(re.escape(b"still typing\r"))
    term.send(b"\x1b[200~" + b"pasted line\r" * 10 + b"\x1b[201~")
    device.expect(re.escape(b"pasted line\r" * 10))
    term.send(b"\x1dq")
    assert term.wait_exit() == 0


def test_send_through_a_session_is_typed_even_when_the_remote_takes_bracketed_paste(device, terminal, tmp_path):
    env = cli_env(XDG_RUNTIME_DIR=str(tmp_path))
    term = terminal("connect", device.path, env=env).connected()
    device.write(b"\x1b[?2004hbash-5.2$ ")  # bash 5.1+ asks for bracketed paste at its prompt
    term.wait_text("bash-5.2$")
    text = "echo " + "x" * 200
    result = run_cli("send", device.path, text, env=env)
    assert result.returncode == 0, result.stderr
    device.expect(re.escape(text.encode() + b"\r"))
    assert b"\x1b[200~" not in device.buffer  # a bracketed paste would wait unexecuted for the next Enter
