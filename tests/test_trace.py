"""--trace FILE and SERCON_TRACE: one line per wire event, private, redacted, and nothing at all when off."""

from __future__ import annotations

import os
import re
import socket
import stat
import subprocess
import sys
import threading

from sercon.transport.telnet import ECHO, IAC, SGA, WILL
from tests.conftest import ROOT, call_cli, cli_env

LINE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z \+\d+\.\d{3} \[[^\]]+\] [a-z-]+ \S.*$")
SECRET_TYPED = "hunter2-typed-secret"


def telnet_peer() -> tuple[int, bytearray, threading.Thread]:
    """A real telnet server on loopback: it offers ECHO and SGA, echoes what it gets, and says `done`
    once a line ends."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    received = bytearray()

    def serve():
        conn, _ = server.accept()
        conn.sendall(bytes([IAC, WILL, ECHO, IAC, WILL, SGA]))
        while chunk := conn.recv(4096):
            received.extend(chunk)
            conn.sendall(chunk.replace(b"\xff", b""))  # the echo, as a console gives it
            if b"\r" in chunk:
                conn.sendall(b"\r\ndone\r\n")
        conn.close()
        server.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return server.getsockname()[1], received, thread


def lines_of(path) -> list[str]:
    lines = path.read_text().splitlines()
    assert lines and all(LINE.match(line) for line in lines), lines
    return lines


def test_a_telnet_session_is_traced_by_name_and_size_without_its_bytes(tmp_path):
    port, received, thread = telnet_peer()
    trace = tmp_path / "wire.trace"
    result = call_cli("--trace", str(trace), "send", f"telnet://127.0.0.1:{port}", SECRET_TYPED, "--expect", "done")
    thread.join(5)
    assert result.returncode == 0, result.stderr
    assert SECRET_TYPED.encode() in received  # it went over the wire, and echoed back ...
    text = trace.read_text()
    assert SECRET_TYPED not in text  # ... but no console byte is in the trace
    events = [line.split("] ", 1)[1] for line in lines_of(trace)]
    assert events[0].startswith("trace start") and events[-1] == "trace end"
    assert "run command name=send" in events
    assert f"telnet open host=127.0.0.1 port={port}" in events
    for said in ("send DO BINARY", "send WILL BINARY", "send DO SGA", "recv WILL ECHO", "recv WILL SGA",
                 "send DO ECHO"):
        assert f"telnet {said}" in events, (said, events)
    assert f"telnet out data={len(SECRET_TYPED) + 1} bytes={len(SECRET_TYPED) + 1}" in events
    assert any(event.startswith("telnet in bytes=") for event in events)
    assert stat.S_IMODE(trace.stat().st_mode) == 0o600


def test_sercon_trace_appends_and_an_open_file_is_made_private(tmp_path):
    trace = tmp_path / "wire.trace"
    trace.write_text("earlier\n")
    trace.chmod(0o644)
    env = cli_env(SERCON_TRACE=str(trace))
    for _ in range(2):
        result = call_cli("send", "loop://", "x", env=env)
        assert result.returncode == 0, result.stderr
    text = trace.read_text()
    assert text.startswith("earlier\n") and text.count("trace start") == 2
    assert "serial open path=loop:// kind=protocol_loop settings=115200 8N1 flow=none" in text
    assert stat.S_IMODE(trace.stat().st_mode) == 0o600


def test_a_dash_traces_to_standard_error(tmp_path):
    result = call_cli("--trace", "-", "send", "loop://", "x")
    assert result.returncode == 0, result.stderr
    assert b"] serial open path=loop://" in result.stderr and b"] trace end" in result.stderr


def test_a_trace_that_cannot_be_written_is_a_usage_error(tmp_path):
    result = call_cli("--trace", str(tmp_path / "missing" / "wire.trace"), "send", "loop://", "x")
    assert result.returncode == 2
    assert b"cannot write the trace to" in result.stderr and b"fix:" in result.stderr
    assert b"Traceback" not in result.stderr


def test_every_line_is_redacted():
    import io

    from sercon.trace import Tracer, bare_url

    out = io.StringIO()
    tracer = Tracer(out, owned=False)
    tracer.event("ws", "open", url="https://h/p?sig=abcdef&sv=1", auth="Bearer eyJabcd.eyJefgh.ijkl")
    assert "abcdef" not in out.getvalue() and "eyJabcd" not in out.getvalue()
    assert bare_url("wss://user:pw@host:8443/n/s/client?token=abc&sig=xyz") == "wss://host:8443/n/s/client?token=...&sig=..."


PROBE = """
import sys
from sercon.cli import main
status = main(sys.argv[1:])
print("sercon.trace" in sys.modules, file=sys.stderr)
sys.exit(status)
"""


def test_tracing_off_imports_nothing_of_it(tmp_path):
    """The probe can tell: with a trace the module is loaded, without one it is not."""
    env = cli_env()
    for args, loaded in ((["send", "loop://", "x"], b"False"), (["--trace", str(tmp_path / "t"), "send", "loop://",
                                                                  "x"], b"True")):
        result = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, env=env, cwd=str(ROOT),
                                timeout=60)
        assert result.returncode == 0, result.stderr
        assert result.stderr.strip().endswith(loaded), result.stderr
    assert not os.environ.get("SERCON_TRACE")


def test_a_trace_that_fills_up_is_one_warning_and_the_command_goes_on(tmp_path):
    result = call_cli("--trace", "/dev/full", "send", "loop://", "hello", "--expect", "hello")
    assert result.returncode == 0, result.stderr
    assert result.stdout == b"hello"
    assert result.stderr.count(b"warning: the trace ended early") == 1, result.stderr
    assert b"No space left on device" in result.stderr


def test_a_serial_device_trace_has_its_settings(device, tmp_path):
    trace = tmp_path / "wire.trace"
    result = call_cli("--trace", str(trace), "send", device.path, "-b", "9600", "ok")
    assert result.returncode == 0, result.stderr
    device.expect(b"ok")
    said = [line.split("] ", 1)[1] for line in lines_of(trace)]
    assert f"serial open path={device.path} kind=serialposix settings=9600 8N1 flow=none" in said, said
    assert "ok" not in " ".join(said[2:])  # what was typed is not


def test_a_break_over_telnet_is_traced_as_iac_brk(tmp_path):
    port, received, thread = telnet_peer()
    trace = tmp_path / "wire.trace"
    result = call_cli("--trace", str(trace), "sysrq", "h", f"telnet://127.0.0.1:{port}")
    thread.join(5)
    assert result.returncode == 0, result.stderr
    said = [line.split("] ", 1)[1] for line in lines_of(trace)]
    brk = said.index("serial break ms=250 via=line")
    assert said[brk + 1] == "telnet send BRK", said


def test_trace_after_the_command_name_is_taken_too_and_wins_over_the_environment(tmp_path):
    late, early = tmp_path / "late.trace", tmp_path / "env.trace"
    result = call_cli("send", "loop://", "x", "--trace", str(late), env=cli_env(SERCON_TRACE=str(early)))
    assert result.returncode == 0, result.stderr
    assert "serial open path=loop://" in late.read_text()
    assert "serial open" not in early.read_text()  # the environment's trace ended where the option took over
    assert f"trace moved to={late}" in early.read_text()
    assert stat.S_IMODE(late.stat().st_mode) == 0o600


def test_trace_given_before_and_after_the_command_is_a_usage_error(tmp_path):
    result = call_cli("--trace", str(tmp_path / "a"), "send", "loop://", "x", "--trace", str(tmp_path / "b"))
    assert result.returncode == 2
    assert b"--trace given twice" in result.stderr and b"fix:" in result.stderr


def test_a_trace_to_a_terminal_ends_its_lines_for_raw_mode():
    """`--trace -` beside a session: the terminal is raw, so each line ends CR LF; a CR or LF inside an
    event (a close reason) is shown escaped, never moving the cursor."""
    import pty
    import tty

    from sercon.trace import Tracer

    master, slave = pty.openpty()
    try:
        tty.setraw(slave)
        with open(slave, "w", closefd=False) as out:
            Tracer(out, owned=False).event("ws", "closed", reason="'bye\r\nnow'")
        got = os.read(master, 4096)
    finally:
        os.close(master)
        os.close(slave)
    assert got.endswith(b" ws closed reason='bye\\r\\nnow'\r\n"), got
