"""Commands go through a running `sercon connect` instead of fighting it for the console."""

from __future__ import annotations

import os
import stat
import subprocess

from tests.conftest import SERCON, cli_env, run_cli


def test_send_and_sysrq_go_through_the_running_session(device, terminal, tmp_path):
    env = cli_env(XDG_RUNTIME_DIR=str(tmp_path))
    term = terminal("connect", device.path, env=env).connected()
    proc = subprocess.Popen([*SERCON, "send", device.path, "ping", "--expect", "pong"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=env)
    device.expect(b"ping\r")
    device.write(b"pong\r\n")
    out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    assert out.endswith(b"pong") and b"using the running `sercon connect`" in err
    sysrq = run_cli("sysrq", "t", device.path, env=env)
    assert sysrq.returncode == 0, sysrq.stderr
    device.expect(b"t")
    term.wait_text("SysRq t sent")  # the session ran it, and says so on its screen
    assert term.child.isalive()
    folder = tmp_path / "sercon"
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    [sock] = list(folder.iterdir())
    assert stat.S_ISSOCK(sock.stat().st_mode) and stat.S_IMODE(sock.stat().st_mode) == 0o600
    term.send(b"\x1dq")
    assert term.wait_exit() == 0
    assert not sock.exists()  # removed on the way out


def test_stale_socket_is_ignored(device, tmp_path):
    from sercon.transport.control import socket_path

    env = cli_env(XDG_RUNTIME_DIR=str(tmp_path))
    path = socket_path(os.path.realpath(device.path), {"XDG_RUNTIME_DIR": str(tmp_path)})
    import socket

    stale = socket.socket(socket.AF_UNIX)
    stale.bind(str(path))
    stale.close()  # bound, never listening: connect is refused
    result = run_cli("sysrq", "s", device.path, env=env)
    assert result.returncode == 0, result.stderr
    device.expect(b"s")
    assert not path.exists()
