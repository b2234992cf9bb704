"""`sercon connect` driven in a real pty against pseudo-terminal devices, the screen read by pyte."""

from __future__ import annotations

import json
import os
import random
import re
import subprocess
import time
from pathlib import Path

from tests.conftest import SERCON, cli_env, need_program
from tests.support.login import type_login_and_password
from tests.support.socat import unplug_and_replug

MENU_KEY = b"\x1d"


def test_output_and_input_pass_through_unmodified(device, terminal):
    term = terminal("connect", device.path).connected()
    device.write(b"hello from the device\r\nbare\nlf\r\n")
    term.wait_text("hello from the device")
    term.wait_raw(rb"bare\nlf\r\n")  # a bare LF reaches the terminal as it was sent (no OPOST)
    term.send(b"typed \x03\x04\x7f\x1b[A\r")  # Ctrl-C, Ctrl-D, DEL and an arrow key are data here
    assert device.expect(re.escape(b"typed \x03\x04\x7f\x1b[A\r"))


def test_utf8_split_across_reads_renders(device, terminal):
    term = terminal("connect", device.path).connected()
    data = "grüß ─ 漢字\r\n".encode()
    for byte in data:
        device.write(bytes([byte]))
    term.wait_text("grüß ─ 漢字")


def test_menu_line_leaves_the_remote_screen_as_it_was(device, terminal):
    term = terminal("connect", device.path).connected()
    device.write(b"\x1b[2J\x1b[Hline one\r\nline two\r\nprompt> ")
    term.wait_text("prompt>")
    before, cursor = list(term.screen.display), (term.screen.cursor.x, term.screen.cursor.y)
    term.send(MENU_KEY)
    term.wait_text("sercon: q quit")
    device.write(b"late")  # arrives while the menu is open: held back, not drawn over the menu
    time.sleep(0.3)
    term.pump()
    assert "late" not in term.text()
    term.send(b"\x1b")
    term.wait_text("prompt> late")
    assert "sercon:" not in term.text()
    assert term.screen.display[:2] == before[:2]
    assert (term.screen.cursor.x, term.screen.cursor.y) == (cursor[0] + 4, cursor[1])


def test_menu_key_twice_sends_it(device, terminal):
    term = terminal("connect", device.path).connected()
    term.send(MENU_KEY + MENU_KEY + b"x")
    device.expect(re.escape(b"\x1dx"))
    assert "sercon:" not in term.text()


def test_escape_key_is_configurable(device, terminal):
    term = terminal("connect", device.path, "--escape", "ctrl-t").connected()
    term.send(MENU_KEY + b"\x14")
    device.expect(re.escape(MENU_KEY))
    term.wait_text("sercon: q quit")
    term.send(b"q")
    assert term.wait_exit() == 0


def test_menu_quit_exits_zero(device, terminal):
    term = terminal("connect", device.path).connected()
    term.send(MENU_KEY + b"q")
    assert term.wait_exit() == 0


def test_enter_tilde_dot_quits_and_sends_only_the_enter(device, terminal):
    term = terminal("connect", device.path).connected()
    term.send(b"ls\r~.")
    assert term.wait_exit() == 0
    device.expect(b"ls\r")
    time.sleep(0.2)
    assert b"~" not in device.buffer


def test_paste_of_a_megabyte_arrives_intact(device, terminal):
    rng = random.Random(7)
    alphabet = b"abcdefghijklmnopqrstuvwxyz0123456789 \n"
    payload = bytes(rng.choice(alphabet) for _ in range(1 << 20))
    term = terminal("connect", device.path).connected()
    term.send(b"\x1b[200~" + payload + b"\x1b[201~")  # bracketed paste, as a terminal sends it
    received = device.wait_for_size(len(payload), timeout=90)
    assert len(received) == len(payload)
    assert received == payload


def test_busy_device_exits_9_naming_the_holder(device, terminal):
    term = terminal("connect", device.path).connected()
    result = subprocess.run([*SERCON, "connect", device.path], capture_output=True, env=cli_env(), timeout=20)
    assert result.returncode == 9
    # your own sercon holds it (found through its control socket, or else by the device's lock)
    assert (f"already connected in another sercon (pid {term.child.pid}".encode() in result.stderr
            or f"locked by process {term.child.pid}".encode() in result.stderr)


def test_missing_device_exits_4():
    result = subprocess.run([*SERCON, "connect", "/dev/ttyNOPE9"], capture_output=True, env=cli_env(), timeout=20)
    assert result.returncode == 4
    assert b"/dev/ttyNOPE9: no such device" in result.stderr and b"fix:" in result.stderr


def test_permission_denied_exits_5_with_the_dialout_hint(device, tmp_path):
    setpriv = need_program("setpriv")
    if os.geteuid() != 0:
        os.chmod(device.path, 0o600)  # our own pty: take away our own access instead
        command = [*SERCON, "connect", device.path]
    else:
        os.chmod(device.path, 0o600)
        command = [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", *SERCON, "connect", device.path]
    result = subprocess.run(command, capture_output=True, env=cli_env(HOME=str(tmp_path)), timeout=20)
    assert result.returncode == 5, result.stderr
    assert b"permission denied" in result.stderr and b"dialout" in result.stderr


def test_log_text_with_timestamps(device, terminal, tmp_path):
    log = tmp_path / "console.log"
    term = terminal("connect", device.path, "--log", str(log), "--timestamps").connected()
    device.write(b"first line\r\nsecond line\r\n")
    term.wait_text("second line")
    assert re.search(r"\[\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d\] first line", term.text())
    time.sleep(1.3)  # flushed within a second, while the session is still running
    assert re.search(rb"\] second line\r\n", log.read_bytes())
    term.send(MENU_KEY + b"q")
    assert term.wait_exit() == 0


def test_log_jsonl_has_both_directions(device, terminal, tmp_path):
    log = tmp_path / "console.jsonl"
    term = terminal("connect", device.path, "--log", str(log), "--log-format", "jsonl").connected()
    device.write(b"from device\r\n")
    term.wait_text("from device")
    term.send(b"to device")
    device.expect(b"to device")
    term.send(MENU_KEY + b"q")
    assert term.wait_exit() == 0
    records = [json.loads(line) for line in log.read_text().splitlines()]
    data = [(r["dir"], r["data"]) for r in records if "dir" in r]
    assert ("rx", "from device\r\n") in data
    assert "".join(d for direction, d in data if direction == "tx") == "to device"
    assert records[0]["event"] == "open" and records[-1]["event"] == "close"


def test_menu_toggles_logging_and_timestamps(device, terminal, tmp_path):
    term = terminal("connect", device.path, cwd=str(tmp_path)).connected()
    term.send(MENU_KEY + b"l")
    term.wait_text("logging to sercon-")
    device.write(b"kept\r\n")
    term.wait_text("kept")
    term.send(MENU_KEY + b"t")
    term.wait_text("timestamps on")
    device.write(b"stamped\r\n")
    term.wait_screen(lambda t: re.search(r"\[\d{4}-.*\] stamped", t.text()), what="a stamped line")
    term.send(MENU_KEY + b"l")
    term.wait_text("logging stopped")
    [log] = list(Path(tmp_path).glob("sercon-*.log"))
    assert b"kept\r\n" in log.read_bytes() and re.search(rb"\] stamped", log.read_bytes())


def test_reconnects_when_the_device_comes_back(socat_device, terminal):
    dev, peer, procs, start = socat_device
    term = terminal("connect", str(dev), cols=200).connected()
    unplug_and_replug(term, socat_device)
    term.send(MENU_KEY + b"q")
    assert term.wait_exit() == 0


def test_no_reconnect_exits_7(socat_device, terminal):
    dev, peer, procs, start = socat_device
    term = terminal("connect", str(dev), "--no-reconnect", cols=200).connected()
    procs[0].terminate()
    assert term.wait_exit() == 7
    assert "lost" in term.text()


def test_a_password_typed_at_a_prompt_stays_out_of_the_log(device, terminal, tmp_path):
    log = tmp_path / "console.jsonl"
    term = terminal("connect", device.path, "--log", str(log), "--log-format", "jsonl").connected()
    type_login_and_password(term, device)
    term.send(MENU_KEY + b"q")
    assert term.wait_exit() == 0
    text = log.read_text()
    assert "hunter2" not in text and '"hidden": 8' in text and '"data": "ops\\r"' in text
