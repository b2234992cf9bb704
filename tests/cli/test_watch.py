"""`sercon watch`: a running session's console read-only, and the second `connect`'s choice."""

from __future__ import annotations

import os
import socket
import subprocess
import threading
from pathlib import Path

import pytest

from sercon.transport.control import find_session
from sercon.transport.serial import console_key
from tests.conftest import SERCON, call_cli, cli_env
from tests.support.waiting import wait_for

NOTICE = "read-only, your keys do not reach the console"


@pytest.fixture
def env(tmp_path):
    return cli_env(XDG_RUNTIME_DIR=str(tmp_path))


def session_listening(device, env) -> None:
    """The writer's control socket answers (it starts just after the console's first bytes can show)."""
    def answered() -> bool:
        running = find_session(console_key(device.path), {"XDG_RUNTIME_DIR": env["XDG_RUNTIME_DIR"]})
        if running is not None:
            running.close()
        return running is not None

    wait_for(answered, what="the session's control socket")


def test_watch_sees_recent_and_live_output_and_its_keys_never_reach_the_device(device, terminal, env):
    writer = terminal("connect", device.path, env=env).connected()
    session_listening(device, env)
    device.write(b"before the watcher\r\n")
    writer.wait_text("before the watcher")
    watcher = terminal("watch", device.path, env=env, cols=200)
    watcher.wait_text(NOTICE)
    watcher.wait_text("before the watcher")  # the recent output first
    device.write(b"live line\r\n")
    watcher.wait_text("live line")
    watcher.send(b"not for the console\r")
    writer.send(b"typed by the writer\r")
    device.expect(b"typed by the writer\r")
    watcher.send(b"\x03")
    assert watcher.wait_exit() == 0
    assert b"not for the console" not in device.wait_for_size(0, 0)  # the device saw only the writer
    assert writer.child.isalive()
    device.write(b"after\r\n")
    writer.wait_text("after")
    writer.send(b"\x1dq")
    assert writer.wait_exit() == 0


def test_two_watchers_and_the_escape_key_then_q_quits(device, terminal, env):
    writer = terminal("connect", device.path, env=env).connected()
    session_listening(device, env)
    first = terminal("watch", device.path, env=env, cols=200)
    second = terminal("watch", device.path, env=env, cols=200)
    first.wait_text(NOTICE)
    second.wait_text(NOTICE)
    device.write(b"for both\r\n")
    first.wait_text("for both")
    second.wait_text("for both")
    first.send(b"x\x1dq")
    assert first.wait_exit() == 0
    device.write(b"still watched\r\n")
    second.wait_text("still watched")
    writer.send(b"\x1dq")  # the session ends: its watcher says so and ends too
    assert writer.wait_exit() == 0
    second.wait_text("session ended")
    assert second.wait_exit() == 0
    assert device.wait_for_size(0, 0) == b""  # nobody typed: nothing reached the device


def test_a_watcher_that_never_reads_is_dropped_and_the_session_goes_on(device, env):
    writer = subprocess.Popen([*SERCON, "connect", device.path], env=env, stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # no pty: 1 MB through pyte is slow
    shown = bytearray()
    reader = threading.Thread(target=read_into, args=(writer.stdout, shown), daemon=True)
    reader.start()
    try:
        session_listening(device, env)
        [path] = (Path(env["XDG_RUNTIME_DIR"]) / "sercon").iterdir()
        stalled = socket.socket(socket.AF_UNIX)
        stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        stalled.connect(str(path))
        stalled.sendall(b'{"op": "watch"}\n')  # and then never reads
        block = b"".join(b"%06d %s\r\n" % (i, b"x" * 90) for i in range(12000))  # 1.6 MB as base64: past 1 MiB
        device.write(block)
        wait_for(lambda: b"011999 " in shown, what="the writer's output of the whole block")
        assert block in shown  # the session's own output: whole, in order
        received = b""
        stalled.settimeout(20)
        while chunk := stalled.recv(1 << 20):  # the session cut it off: its end comes
            received += chunk
        assert received.endswith(b'{"error": "dropped: too slow"}\n')
    finally:
        writer.stdin.close()
        writer.wait(timeout=20)


def read_into(stream, shown: bytearray) -> None:
    while data := stream.read1(65536):
        shown += data


def test_no_session_on_a_device_reads_it_read_only(device, terminal, env):
    watcher = terminal("watch", device.path, env=env, cols=200)
    watcher.wait_text("reading the device itself: read-only")
    device.write(b"from the device\r\n")
    watcher.wait_text("from the device")
    watcher.send(b"keys\r")
    watcher.send(b"\x03")
    assert watcher.wait_exit() == 0
    assert device.wait_for_size(0, 0) == b""


def test_no_session_on_a_network_console_says_how_to_start_one(env):
    result = subprocess.run([*SERCON, "watch", "socket://127.0.0.1:9"], env=env, capture_output=True,
                            stdin=subprocess.DEVNULL, timeout=30)
    assert result.returncode == 6
    assert b"sercon connect socket://127.0.0.1:9" in result.stderr and b"Traceback" not in result.stderr


def test_a_missing_device_is_not_found(env, tmp_path):
    missing = str(Path(tmp_path) / "ttyNOPE")
    result = subprocess.run([*SERCON, "watch", missing], env=env, capture_output=True, stdin=subprocess.DEVNULL,
                            timeout=30)
    assert result.returncode == 4, result.stderr
    assert not os.path.exists(missing)


# -- a second connect on the same console ----------------------------------------------------------

def test_second_connect_without_a_terminal_refuses_with_the_fix(device, terminal, env):
    writer = terminal("connect", device.path, env=env).connected()
    session_listening(device, env)
    result = subprocess.run([*SERCON, "connect", device.path], env=env, capture_output=True,
                            stdin=subprocess.DEVNULL, timeout=30)
    assert result.returncode == 9, result.stderr
    assert b"sercon watch" in result.stderr and b"--force" in result.stderr
    assert writer.child.isalive()
    writer.send(b"\x1dq")
    assert writer.wait_exit() == 0


def test_second_connect_can_watch(device, terminal, env):
    writer = terminal("connect", device.path, env=env).connected()
    session_listening(device, env)
    second = terminal("connect", device.path, env=env, cols=200)
    second.wait_text("w to watch it, k to take the keyboard, q to quit")
    second.send(b"w\r")
    second.wait_text(NOTICE)
    device.write(b"seen by both\r\n")
    second.wait_text("seen by both")
    second.send(b"ignored\r")
    writer.send(b"from the writer\r")
    device.expect(b"from the writer\r")
    second.send(b"\x03")
    assert second.wait_exit() == 0
    assert b"ignored" not in device.wait_for_size(0, 0)
    writer.send(b"\x1dq")
    assert writer.wait_exit() == 0


def test_second_connect_takes_the_keyboard_and_gives_it_back(device, terminal, env):
    first = terminal("connect", device.path, env=env, cols=200).connected()
    session_listening(device, env)
    second = terminal("connect", device.path, env=env, cols=200)
    second.wait_text("w to watch it, k to take the keyboard, q to quit")
    second.send(b"k\r")
    second.wait_text("the keyboard is now with")
    second.wait_text("(you)")
    first.wait_text("the keyboard is now with")  # both screens say who has it
    assert f"pid {second.child.pid}" in first.text()
    first.send(b"old writer\r")
    second.send(b"new writer\r")
    device.expect(b"new writer\r")
    device.write(b"answer\r\n")
    first.wait_text("answer")
    second.wait_text("answer")
    second.send(b"\x1dq")
    assert second.wait_exit() == 0
    first.wait_text("the keyboard is back with you")
    first.send(b"mine again\r")
    device.expect(b"mine again\r")
    assert b"old writer" not in device.wait_for_size(0, 0)  # typed while the other had the keyboard: dropped
    first.send(b"\x1dq")
    assert first.wait_exit() == 0


def test_a_device_another_program_holds_is_not_read_beside_it(device):
    """Two readers of a tty split its input: with no sercon session to join, a device locked by another
    program (as pyserial and sercon connect lock it) is refused, exit 9, naming the holder."""
    import fcntl

    holder = os.open(device.path, os.O_RDWR | os.O_NOCTTY)
    try:
        fcntl.flock(holder, fcntl.LOCK_EX | fcntl.LOCK_NB)
        result = call_cli("watch", device.path)
    finally:
        os.close(holder)
    assert result.returncode == 9, result.stderr
    assert b"in use by" in result.stderr and b"fix:" in result.stderr
