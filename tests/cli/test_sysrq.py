"""`sercon sysrq` and BREAK: sent where the line carries a BREAK, refused (exit 6, nothing written) where not."""

from __future__ import annotations

import json
import os
import re
import socket
import threading
from pathlib import Path

import pytest

from sercon.transport.telnet import BRK, IAC
from tests.conftest import REQUIRE_ALL, cli_env, run_cli

IAC_BRK = bytes([IAC, BRK])
MENU_KEY = b"\x1d"


class Peer:
    """The far end of a TCP line (a console server): accepts connections in turn and records what arrives."""

    def __init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.url_port = self.server.getsockname()[1]
        self.received = bytearray()
        self._cond = threading.Condition()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            with conn:
                while chunk := conn.recv(4096):
                    with self._cond:
                        self.received += chunk
                        self._cond.notify_all()

    def wait_for(self, pattern: bytes, timeout: float = 10) -> None:
        with self._cond:
            if not self._cond.wait_for(lambda: re.search(pattern, self.received), timeout):
                raise AssertionError(f"the peer never received {pattern!r}; got {bytes(self.received)!r}")

    def nothing_received(self) -> bool:
        """True when no earlier client sent anything: connections are served in turn, so a marker sent
        now on a new one arrives after all of theirs."""
        with socket.create_connection(("127.0.0.1", self.url_port)) as marker:
            marker.sendall(b"MARK")
        self.wait_for(b"MARK")
        return bytes(self.received) == b"MARK"

    def close(self) -> None:
        self.server.close()


@pytest.fixture
def peer():
    server = Peer()
    yield server
    server.close()


def nothing_written(device) -> bool:
    """True when sercon wrote nothing to the pty: a marker written now arrives first."""
    os.write(device.slave, b"MARK")  # the pty keeps order: anything sercon wrote would come before it
    device.expect(b"MARK")
    return bytes(device.buffer) == b"MARK"


# -- where BREAK travels: sent --------------------------------------------------------------------------
def test_sysrq_over_telnet_sends_break_then_the_key(peer):
    result = run_cli("sysrq", "help", f"telnet://127.0.0.1:{peer.url_port}")
    assert result.returncode == 0, result.stderr
    peer.wait_for(re.escape(IAC_BRK + b"h"))
    assert b"sent SysRq h" in result.stderr


def test_reisub_is_paced_key_by_key(peer):
    result = run_cli("sysrq", "reisub", f"telnet://127.0.0.1:{peer.url_port}", "--interval", "0.05", "--yes")
    assert result.returncode == 0, result.stderr
    peer.wait_for(re.escape(IAC_BRK + b"b"))
    assert re.findall(rb"\xff\xf3(.)", peer.received) == [bytes([k]) for k in b"reisub"]


def test_default_target_from_the_environment(peer):
    result = run_cli("sysrq", "s", env=cli_env(SERCON_TARGET=f"telnet://127.0.0.1:{peer.url_port}"))
    assert result.returncode == 0, result.stderr
    peer.wait_for(re.escape(IAC_BRK + b"s"))


def test_default_target_from_the_config(peer, tmp_path):
    config = tmp_path / "config.toml"
    config.write_text(f'default = "board"\n[profiles.board]\nurl = "telnet://127.0.0.1:{peer.url_port}"\n')
    result = run_cli("sysrq", "b", "--yes", env=cli_env(SERCON_CONFIG=str(config)))
    assert result.returncode == 0, result.stderr
    peer.wait_for(re.escape(IAC_BRK + b"b"))


class FakeQemuQmp:
    """QEMU's QMP socket as the far end sees it: greeting, capabilities, commands answered and recorded."""

    def __init__(self, path: Path, device) -> None:
        self.path, self.device = path, device
        self.commands: list[tuple[str, dict, bytes]] = []  # (command, arguments, what the pty had by then)
        self.server = socket.socket(socket.AF_UNIX)
        self.server.bind(str(path))
        self.server.listen(4)
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            with conn, conn.makefile("rwb") as stream:
                stream.write(b'{"QMP": {"version": {}, "capabilities": []}}\n')
                stream.flush()
                while line := stream.readline():
                    request = json.loads(line)
                    self.commands.append((request["execute"], request.get("arguments", {}),
                                          bytes(self.device.buffer)))
                    stream.write(b'{"return": {}}\n')
                    stream.flush()


def test_qmp_puts_the_break_on_a_pty_line(device, tmp_path):
    qmp = FakeQemuQmp(tmp_path / "qmp.sock", device)
    result = run_cli("sysrq", "h", device.path, "--qmp", str(qmp.path))
    assert result.returncode == 0, result.stderr
    device.expect(b"h")
    breaks = [(args, before) for command, args, before in qmp.commands if command == "chardev-send-break"]
    assert breaks == [({"id": "serial0"}, b"")]  # the BREAK went through QEMU, before the key was typed


def test_a_real_uart_is_a_serial_line_and_a_pty_is_not(device, tmp_path):
    from sercon.transport.serial import break_refusal, tty_kind

    link = tmp_path / "ttyLINK"
    link.symlink_to(device.path)
    assert tty_kind(device.path) == "pty" and tty_kind(str(link)) == "pty"
    assert break_refusal(device.path) and break_refusal(f"spy://{device.path}")
    uarts = sorted(str(p) for p in Path("/dev").glob("ttyS[0-9]*"))
    if not uarts:
        message = "no /dev/ttyS* on this machine to check a real UART's kind"
        if REQUIRE_ALL:
            pytest.fail(message)
        pytest.skip("SKIPPED LOUDLY: " + message)
    assert tty_kind(uarts[0]) == "serial" and break_refusal(uarts[0]) is None


@pytest.mark.parametrize("url", ["telnet://h:1", "rfc2217://h:1"])
def test_console_server_urls_carry_break(url):
    from sercon.transport.serial import break_refusal

    assert break_refusal(url) is None


# -- where BREAK cannot travel: refused, nothing written ------------------------------------------------
def refused(result) -> str:
    assert result.returncode == 6, (result.returncode, result.stderr)
    err = result.stderr.decode()
    assert "cannot carry a BREAK" in err and "nothing was sent" in err, err
    assert "telnet" in err and "--qmp SOCKET" in err, err  # what to use instead
    return err


def test_sysrq_on_a_pty_is_refused_and_types_nothing(device):
    err = refused(run_cli("sysrq", "h", device.path))
    assert "pseudo-terminal" in err
    assert nothing_written(device)


def test_sysrq_on_a_link_to_a_pty_is_refused(device, tmp_path):
    link = tmp_path / "ttyV0"  # as socat's pty,link=... makes
    link.symlink_to(device.path)
    assert "pseudo-terminal" in refused(run_cli("sysrq", "reisub", str(link)))
    assert nothing_written(device)


def test_sysrq_through_spy_on_a_pty_is_refused(device, tmp_path):
    refused(run_cli("sysrq", "s", f"spy://{device.path}?file={tmp_path / 'spy.txt'}"))
    assert nothing_written(device)


def test_sysrq_over_raw_tcp_is_refused_and_sends_nothing(peer):
    err = refused(run_cli("sysrq", "h", f"socket://127.0.0.1:{peer.url_port}"))
    assert "socket://" in err
    assert peer.nothing_received()


def test_sysrq_on_loop_is_refused():
    refused(run_cli("sysrq", "h", "loop://"))


def test_sysrq_through_a_running_session_on_a_pty_types_nothing(device, terminal, tmp_path):
    env = cli_env(XDG_RUNTIME_DIR=str(tmp_path))
    term = terminal("connect", device.path, env=env).connected()
    refused(run_cli("sysrq", "h", device.path, env=env))
    assert term.child.isalive()
    term.send(MENU_KEY + b"q")
    assert term.wait_exit() == 0
    assert nothing_written(device)


def test_the_transport_says_what_its_line_can_do(device, peer, tmp_path):
    from sercon.errors import NotSupported
    from sercon.transport.base import BREAK, NMI, RESET, SYSRQ
    from sercon.transport.serial import SerialTransport

    pty = SerialTransport(device.path)
    pty.open()
    try:
        assert pty.controls == frozenset()
        with pytest.raises(NotSupported, match="pseudo-terminal"):
            pty.sysrq("h")
        with pytest.raises(NotSupported, match="cannot send a BREAK"):
            pty.send_break()
    finally:
        pty.close()
    assert nothing_written(device)
    assert SerialTransport(device.path, qmp=str(tmp_path / "qmp.sock")).controls == {BREAK, SYSRQ, NMI, RESET}
    assert SerialTransport(f"telnet://127.0.0.1:{peer.url_port}").controls == {BREAK, SYSRQ}
    assert SerialTransport(f"socket://127.0.0.1:{peer.url_port}").controls == frozenset()


def test_menu_break_and_sysrq_on_a_pty_are_not_available(device, terminal):
    term = terminal("connect", device.path).connected()
    term.send(MENU_KEY)
    term.wait_text("sercon: q quit")
    assert " b break" not in term.text() and " s sysrq" not in term.text()
    term.send(b"b")
    term.wait_screen(lambda t: re.search(r"break is not available", t.text()), what="b refused")
    term.send(b"\x1b" + MENU_KEY + b"s")
    term.wait_screen(lambda t: re.search(r"sysrq is not available", t.text()), what="s refused")
    term.send(b"\x1bh" + MENU_KEY + b"q")  # an h after the refused s is typed as itself, as the user pressed it
    assert term.wait_exit() == 0
    device.expect(b"h")
    assert nothing_written_but(device, b"h")


def nothing_written_but(device, expected: bytes) -> bool:
    os.write(device.slave, b"MARK")
    device.expect(b"MARK")
    return bytes(device.buffer) == expected + b"MARK"


def test_menu_break_over_telnet_reaches_the_line(peer, terminal):
    term = terminal("connect", f"telnet://127.0.0.1:{peer.url_port}").connected()
    term.send(MENU_KEY + b"b")
    term.wait_text("BREAK sent")
    peer.wait_for(re.escape(IAC_BRK))
    term.send(MENU_KEY + b"q")
    assert term.wait_exit() == 0


def test_menu_sysrq_over_telnet_sends_break_then_the_key(peer, terminal):
    term = terminal("connect", f"telnet://127.0.0.1:{peer.url_port}").connected()
    term.send(MENU_KEY + b"s")
    term.wait_text("SysRq: press the key")
    term.send(b"h")
    term.wait_text("SysRq h sent")
    peer.wait_for(re.escape(IAC_BRK + b"h"))
    term.send(MENU_KEY + b"q")
    assert term.wait_exit() == 0


def test_sysrq_through_a_running_session_over_telnet(peer, terminal, tmp_path):
    env = cli_env(XDG_RUNTIME_DIR=str(tmp_path))
    url = f"telnet://127.0.0.1:{peer.url_port}"
    term = terminal("connect", url, env=env).connected()
    result = run_cli("sysrq", "t", url, env=env)
    assert result.returncode == 0, result.stderr
    assert b"using the running `sercon connect`" in result.stderr
    peer.wait_for(re.escape(IAC_BRK + b"t"))
    term.wait_text("SysRq t sent")  # the session ran it, and says so on its screen
    term.send(MENU_KEY + b"q")
    assert term.wait_exit() == 0


# -- arguments ----------------------------------------------------------------------------------------
def test_no_target_is_a_usage_error():
    result = run_cli("sysrq", "b")
    assert result.returncode == 2
    assert b"no target given" in result.stderr


def test_mistyped_name_sends_nothing(device):
    result = run_cli("sysrq", "reboto", device.path)
    assert result.returncode == 2
    assert b"did you mean 'reboot'" in result.stderr
    assert nothing_written(device)


# -- keys that end the machine's work: asked first, as nmi asks ---------------------------------------
@pytest.mark.parametrize("keys", ["reisub", "b", "crash", "o", "e", "s,i", "reboot"])
def test_a_destructive_key_without_a_terminal_needs_yes_and_sends_nothing(peer, keys):
    result = run_cli("sysrq", keys, f"telnet://127.0.0.1:{peer.url_port}")
    assert result.returncode == 2, result.stderr
    assert b"needs confirmation" in result.stderr and b"--yes" in result.stderr
    assert peer.nothing_received()


def test_a_destructive_key_is_asked_about_and_a_no_sends_nothing(peer, terminal):
    term = terminal("sysrq", "reisub", f"telnet://127.0.0.1:{peer.url_port}", cols=200)
    term.wait_raw(rb"\[y/N\]", timeout=20)
    assert "b reboots" in term.text() and "i kills every process" in term.text()
    term.send("n\r")
    assert term.wait_exit(timeout=20) == 6
    assert b"nothing sent" in term.raw
    assert peer.nothing_received()


def test_a_destructive_key_answered_yes_is_sent(peer, terminal):
    term = terminal("sysrq", "b", f"telnet://127.0.0.1:{peer.url_port}", cols=200)
    term.wait_raw(rb"\[y/N\]", timeout=20)
    term.send("y\r")
    assert term.wait_exit(timeout=20) == 0
    peer.wait_for(re.escape(IAC_BRK + b"b"))


def test_a_harmless_key_is_not_asked_about(peer):
    result = run_cli("sysrq", "s,u,t,w,h", f"telnet://127.0.0.1:{peer.url_port}", "--interval", "0")
    assert result.returncode == 0, result.stderr
    peer.wait_for(re.escape(IAC_BRK + b"h"))
