"""`sercon sysrq` and BREAK: sent where the line carries a BREAK, refused (exit 6, nothing written) where not."""

from __future__ import annotations

import contextlib
import json
import os
import re
import select
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

from sercon.transport.telnet import BRK, IAC
from tests.azure.conftest import azure  # noqa: F401 - the emulated Azure
from tests.conftest import REQUIRE_ALL, SERCON, call_cli, cli_env, run_cli

IAC_BRK = bytes([IAC, BRK])
MENU_KEY = b"\x1d"


class Peer:
    """The far end of a TCP line (a console server): accepts connections in turn and records what arrives."""

    def __init__(self, answers: dict[bytes, bytes] | None = None) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.url_port = self.server.getsockname()[1]
        self.received = bytearray()
        self.answers = answers or {}  # what arrives -> what the console prints back (a kernel's reply)
        self.conn: socket.socket | None = None
        self._cond = threading.Condition()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            with conn, contextlib.suppress(OSError):  # a client that left before the answer
                self.conn = conn
                while chunk := conn.recv(4096):
                    with self._cond:
                        self.received += chunk
                        self._cond.notify_all()
                    for trigger, answer in self.answers.items():
                        if trigger in chunk:
                            conn.sendall(answer)

    def send(self, data: bytes) -> None:
        """The console prints *data* (to the client connected now)."""
        assert self.conn is not None, "no client connected"
        self.conn.sendall(data)

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


HELP = b"\r\n[   12.345678] sysrq: HELP : loglevel(0-9) reboot(b) crash(c)\r\n"


@pytest.fixture
def kernel():
    """A console server whose kernel answers SysRq h with its help line."""
    server = Peer({b"h": HELP})
    yield server
    server.close()


def nothing_written(device) -> bool:
    """True when sercon wrote nothing to the pty: a marker written now arrives first."""
    os.write(device.slave, b"MARK")  # the pty keeps order: anything sercon wrote would come before it
    device.expect(b"MARK")
    return bytes(device.buffer) == b"MARK"


# -- where BREAK travels: sent --------------------------------------------------------------------------
def test_sysrq_over_telnet_sends_break_then_the_key(peer):
    result = call_cli("sysrq", "help", f"telnet://127.0.0.1:{peer.url_port}")
    assert result.returncode == 0, result.stderr
    peer.wait_for(re.escape(IAC_BRK + b"h"))
    assert b"sent SysRq h" in result.stderr


def test_reisub_is_paced_key_by_key(peer):
    result = call_cli("sysrq", "reisub", f"telnet://127.0.0.1:{peer.url_port}", "--interval", "0.05", "--yes")
    assert result.returncode == 0, result.stderr
    peer.wait_for(re.escape(IAC_BRK + b"b"))
    assert re.findall(rb"\xff\xf3(.)", peer.received) == [bytes([k]) for k in b"reisub"]


def test_default_target_from_the_environment(peer):
    result = call_cli("sysrq", "s", env=cli_env(SERCON_TARGET=f"telnet://127.0.0.1:{peer.url_port}"))
    assert result.returncode == 0, result.stderr
    peer.wait_for(re.escape(IAC_BRK + b"s"))


def test_default_target_from_the_config(peer, tmp_path):
    config = tmp_path / "config.toml"
    config.write_text(f'default = "board"\n[profiles.board]\nurl = "telnet://127.0.0.1:{peer.url_port}"\n')
    result = call_cli("sysrq", "b", "--yes", env=cli_env(SERCON_CONFIG=str(config)))
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
    result = call_cli("sysrq", "h", device.path, "--qmp", str(qmp.path))
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
    err = refused(call_cli("sysrq", "h", device.path))
    assert "pseudo-terminal" in err
    assert nothing_written(device)


def test_sysrq_on_a_link_to_a_pty_is_refused(device, tmp_path):
    link = tmp_path / "ttyV0"  # as socat's pty,link=... makes
    link.symlink_to(device.path)
    assert "pseudo-terminal" in refused(call_cli("sysrq", "reisub", str(link)))
    assert nothing_written(device)


def test_sysrq_through_spy_on_a_pty_is_refused(device, tmp_path):
    refused(call_cli("sysrq", "s", f"spy://{device.path}?file={tmp_path / 'spy.txt'}"))
    assert nothing_written(device)


def test_sysrq_over_raw_tcp_is_refused_and_sends_nothing(peer):
    err = refused(call_cli("sysrq", "h", f"socket://127.0.0.1:{peer.url_port}"))
    assert "socket://" in err
    assert peer.nothing_received()


def test_sysrq_on_loop_is_refused():
    refused(call_cli("sysrq", "h", "loop://"))


def test_sysrq_through_a_running_session_on_a_pty_types_nothing(device, terminal, tmp_path):
    env = cli_env(XDG_RUNTIME_DIR=str(tmp_path))
    term = terminal("connect", device.path, env=env).connected()
    refused(call_cli("sysrq", "h", device.path, env=env))
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


# -- what the console printed: the kernel's reply, sercon's own lines -----------------------------------
def test_a_one_shot_sysrq_shows_the_kernels_reply(kernel):
    result = call_cli("sysrq", "h", f"telnet://127.0.0.1:{kernel.url_port}")
    assert result.returncode == 0, result.stderr
    assert result.stdout == b"\n[   12.345678] sysrq: HELP : loglevel(0-9) reboot(b) crash(c)\n", result.stdout
    assert b"sent SysRq h" in result.stderr


def test_a_one_shot_sysrq_says_nothing_when_the_console_says_nothing(peer):
    started = time.monotonic()
    result = call_cli("sysrq", "s", f"telnet://127.0.0.1:{peer.url_port}")
    assert result.returncode == 0, result.stderr
    assert result.stdout == b"" and time.monotonic() - started < 10


def test_quiet_sends_and_leaves_without_the_reply(kernel):
    result = call_cli("sysrq", "h", f"telnet://127.0.0.1:{kernel.url_port}", "--quiet")
    assert result.returncode == 0, result.stderr
    assert result.stdout == b""
    kernel.wait_for(re.escape(IAC_BRK + b"h"))


def test_a_one_shot_sysrq_through_a_running_session_shows_the_reply(kernel, terminal, tmp_path):
    env = cli_env(XDG_RUNTIME_DIR=str(tmp_path))
    url = f"telnet://127.0.0.1:{kernel.url_port}"
    term = terminal("connect", url, env=env).connected()
    result = run_cli("sysrq", "h", url, env=env)
    assert result.returncode == 0, result.stderr
    assert b"using the running `sercon connect`" in result.stderr
    assert b"sysrq: HELP : loglevel(0-9) reboot(b) crash(c)\n" in result.stdout
    term.wait_text("sysrq: HELP")
    term.send(MENU_KEY + b"q")
    assert term.wait_exit() == 0


def test_a_status_line_waits_for_the_end_of_the_console_line_it_would_cut(peer, terminal):
    term = terminal("connect", f"telnet://127.0.0.1:{peer.url_port}").connected()
    peer.send(b"[   12.345678] a kernel line, half")
    term.wait_raw(rb"half")
    term.send(MENU_KEY + b"b")
    peer.wait_for(re.escape(IAC_BRK))
    peer.send(b" and its end\r\n")
    term.wait_text("BREAK sent")
    assert re.search(rb"half(\x1b[78]|\x1b\[\?7h)* and its end\r\n\x1b\[1m\[sercon\] BREAK sent", term.raw), term.raw
    term.send(MENU_KEY + b"q")
    assert term.wait_exit() == 0


def test_a_status_line_starts_a_line_of_its_own_in_piped_output(peer, tmp_path):
    env = cli_env(XDG_RUNTIME_DIR=str(tmp_path))
    url = f"telnet://127.0.0.1:{peer.url_port}"
    session = subprocess.Popen([*SERCON, "connect", url], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, env=env)
    try:
        shown = read_until(session.stdout, b"connected to")
        peer.send(b"web1 login: ")
        shown += read_until(session.stdout, b"login: ")
        assert run_cli("sysrq", "t", url, "--quiet", env=env).returncode == 0
        out, err = session.communicate(timeout=20)  # its input closes: the session ends
        shown += out
        assert b"web1 login: \nsercon: SysRq t sent\n" in shown, shown
    finally:
        session.kill()
        session.wait()


def read_until(pipe, needle: bytes, timeout: float = 10) -> bytes:
    got, deadline = b"", time.monotonic() + timeout
    while needle not in got:
        left = deadline - time.monotonic()
        assert left > 0, f"never saw {needle!r}: {got!r}"
        if select.select([pipe], [], [], left)[0]:
            chunk = os.read(pipe.fileno(), 4096)
            assert chunk, f"ended before {needle!r}: {got!r}"
            got += chunk
    return got


# -- arguments ----------------------------------------------------------------------------------------
def test_no_target_is_a_usage_error():
    result = call_cli("sysrq", "b")
    assert result.returncode == 2
    assert b"no target given" in result.stderr


def test_mistyped_name_sends_nothing(device):
    result = call_cli("sysrq", "reboto", device.path)
    assert result.returncode == 2
    assert b"did you mean 'reboot'" in result.stderr
    assert nothing_written(device)


# -- keys that end the machine's work: asked first, as nmi asks ---------------------------------------
@pytest.mark.parametrize("keys", ["reisub", "b", "crash", "o", "e", "s,i", "reboot"])
def test_a_destructive_key_without_a_terminal_needs_yes_and_sends_nothing(peer, keys):
    result = call_cli("sysrq", keys, f"telnet://127.0.0.1:{peer.url_port}")
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
    result = call_cli("sysrq", "s,u,t,w,h", f"telnet://127.0.0.1:{peer.url_port}", "--interval", "0")
    assert result.returncode == 0, result.stderr
    peer.wait_for(re.escape(IAC_BRK + b"h"))


def test_a_one_shot_sysrq_to_an_azure_vm_shows_the_kernels_reply(azure):  # noqa: F811
    result = azure.cli("sysrq", "h", "-g", "prod-rg", "web1")
    assert result.returncode == 0, result.stderr
    assert re.search(rb"\n\[ *[0-9.]+\] sysrq: HELP : loglevel\(0-9\)", result.stdout), result.stdout
