"""`--qmp SOCKET` pointed at something that is not QEMU's QMP: a clear usage error, never exit 1.

A real QEMU without a guest (`-machine none`) serves both its human monitor (HMP, `-monitor`: the usual
mix-up) and QMP; a socket of another program stands for "any socket that does not speak QMP".
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

from tests.conftest import need_program, run_cli


@pytest.fixture
def qemu_sockets(tmp_path):
    """A guest-less QEMU: (its HMP socket, its QMP socket)."""
    qemu = need_program("qemu-system-x86_64")
    hmp, qmp = tmp_path / "hmp.sock", tmp_path / "qmp.sock"
    process = subprocess.Popen([qemu, "-machine", "none", "-nodefaults", "-display", "none",
                                "-monitor", f"unix:{hmp},server=on,wait=off",
                                "-qmp", f"unix:{qmp},server=on,wait=off"], stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE)
    deadline = time.monotonic() + 30
    while not (hmp.exists() and qmp.exists()):
        assert process.poll() is None, process.stderr.read()
        assert time.monotonic() < deadline, "QEMU made no sockets"
        time.sleep(0.05)
    yield str(hmp), str(qmp)
    process.terminate()
    process.wait(10)


@contextlib.contextmanager
def serving(path: Path, greeting: bytes):
    """A Unix socket of another program: it says *greeting* to whoever connects, then reads on."""
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))
    server.listen()
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            with contextlib.suppress(OSError):
                client, _ = server.accept()
                with client:
                    client.sendall(greeting)
                    while client.recv(4096):
                        pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield str(path)
    finally:
        stop.set()
        server.shutdown(socket.SHUT_RDWR)
        server.close()


def nmi(device, qmp: str):
    return run_cli("nmi", "--yes", device.path, "--qmp", qmp)


def test_qemus_human_monitor_is_not_a_qmp_socket(device, qemu_sockets):
    hmp, _ = qemu_sockets
    result = nmi(device, hmp)
    stderr = result.stderr.decode()
    assert result.returncode == 2, stderr
    assert f"{hmp} is not a QMP socket" in stderr and "human monitor" in stderr
    fix = stderr.split("fix: ", 1)[1]
    assert "-qmp unix:" in fix and "-monitor" in fix
    assert "Traceback" not in stderr and "unexpected error" not in stderr


@pytest.mark.parametrize("greeting", [b'{"hello": "not qmp"}\n', b"SSH-2.0-OpenSSH_9.2\r\n", b"\x00\xff\xfe\n",
                                      b'["QMP"]\n'])
def test_a_socket_that_speaks_something_else_is_not_a_qmp_socket(device, tmp_path, greeting):
    with serving(tmp_path / "other.sock", greeting) as path:
        result = nmi(device, path)
    stderr = result.stderr.decode()
    assert result.returncode == 2, stderr
    assert f"{path} is not a QMP socket" in stderr and "fix: " in stderr and "-qmp unix:" in stderr


def test_a_command_qemu_refuses_is_a_prerequisite_not_met(device, qemu_sockets):
    _, qmp = qemu_sockets  # a machine without a CPU has no NMI to inject
    result = nmi(device, qmp)
    stderr = result.stderr.decode()
    assert result.returncode == 6, stderr
    assert "QEMU refused inject-nmi: this feature or command is not currently supported" in stderr
    assert "fix: " in stderr


def test_a_real_qmp_socket_still_works(device, qemu_sockets):
    _, qmp = qemu_sockets
    result = run_cli("reset", "--yes", device.path, "--qmp", qmp)
    assert result.returncode == 0, result.stderr


def test_a_qmp_command_is_traced(device, qemu_sockets, tmp_path):
    _, qmp = qemu_sockets
    trace = tmp_path / "wire.trace"
    result = run_cli("--trace", str(trace), "reset", "--yes", device.path, "--qmp", qmp)
    assert result.returncode == 0, result.stderr
    said = [line.split("] ", 1)[1] for line in trace.read_text().splitlines()]
    steps = [event for event in said if event.startswith("qmp ")]
    assert steps == [f"qmp execute qmp_capabilities socket={qmp}", "qmp return qmp_capabilities",
                     f"qmp execute system_reset socket={qmp}", "qmp return system_reset"], said
