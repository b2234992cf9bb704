"""`sercon connect`, send, sysrq, nmi and reset through the emulated gateway, in real ptys."""

from __future__ import annotations

import hashlib
import random
import re
import subprocess
import time

import pexpect

from tests.conftest import SERCON, Terminal
from tests.support.azure_session import log_in, run, start


def test_login_and_a_command_round_trip(azure):
    term = start(azure, "-g", "prod-rg", "web1")
    try:
        log_in(term)
        run(term, "echo answer=$((6*7))", r"answer=42")
        term.send(b"\x1dq")
        assert term.wait_exit() == 0
    finally:
        term.close()


def test_wrong_password_is_refused_at_the_prompt(azure):
    term = start(azure, "-g", "prod-rg", "web1")
    try:
        term.send(b"\r")
        term.wait_raw(rb"login: ")
        term.send(b"azureuser\r")
        term.wait_raw(rb"Password: ")
        term.send(b"nope\r")
        term.wait_text("Login incorrect")
    finally:
        term.close()


def test_utf8_split_across_frames_renders(azure):
    term = start(azure, "-g", "prod-rg", "bytewise")  # this VM's output comes one byte per frame
    try:
        log_in(term, password="pw")
        term.send(b"printf 'gr\\303\\274\\303\\237 \\342\\224\\200 \\346\\274\\242\\n'\r")
        term.wait_text("grüß ─ 漢")
    finally:
        term.close()


def test_megabyte_paste_arrives_intact_in_frames_of_2048(azure):
    rng = random.Random(5)
    lines = ["".join(rng.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(79)) for _ in range(13108)]
    payload = ("\n".join(lines) + "\n").encode()
    term = start(azure, "-g", "prod-rg", "web1")
    try:
        log_in(term)
        run(term, "stty -echo; cat > /tmp/sercon-paste-test; stty echo", r"stty echo\r\n")
        term.send(b"\x1b[200~" + payload + b"\x1b[201~")
        term.send(b"\x04")
        term.wait_raw(rb"~\$ $", timeout=120)
        run(term, "sha256sum /tmp/sercon-paste-test; rm /tmp/sercon-paste-test", r"[0-9a-f]{64}")
        digest = re.search(rb"([0-9a-f]{64})", bytes(term.raw[-400:])).group(1).decode()
        assert digest == hashlib.sha256(payload).hexdigest()
        assert azure.emulator.arm.gateway.oversize_frames == 0
    finally:
        term.close()


def test_network_cut_reconnects_and_the_log_goes_on(azure, tmp_path):
    log = tmp_path / "web1.log"
    term = start(azure, "-g", "prod-rg", "web1", "--log", str(log))
    try:
        log_in(term)
        run(term, "echo before-cut", r"before-cut\r\n")
        azure.hook("gateway/web1/cut")
        term.wait_text("reconnecting in", timeout=15)
        term.wait_text("reconnected to prod-rg/web1", timeout=30)
        run(term, "echo after-cut", r"after-cut\r\n")
        term.send(b"\x1dq")
        assert term.wait_exit() == 0
        text = log.read_bytes()
        assert b"before-cut" in text and b"after-cut" in text
        connects = [r for r in azure.requests if r["url"].split("?")[0].endswith("serialPorts/0/connect")]
        assert len(connects) >= 2  # a fresh connect call (and token) for the new session
    finally:
        term.close()


def test_send_expect_over_the_gateway(azure):
    term = start(azure, "-g", "prod-rg", "web1")  # log in once; send then finds a shell prompt
    log_in(term)
    term.send(b"\x1dq")
    term.wait_exit()
    script = f"printf 'uname -s\\n' | {' '.join(SERCON)} send -g prod-rg web1 --expect '\\$ $' | grep Linux"
    result = subprocess.run(["/bin/sh", "-c", script], capture_output=True, env=azure.env, timeout=60)
    assert result.returncode == 0, result.stderr
    timeout = azure.cli("send", "-g", "prod-rg", "web1", "true", "--expect", "NEVER", "--timeout", "2")
    assert timeout.returncode == 3


def test_sysrq_nmi_reset_from_the_command_line(azure):
    sysrq = azure.cli("sysrq", "h", "-g", "prod-rg", "web1")
    assert sysrq.returncode == 0, sysrq.stderr
    nmi = azure.cli("nmi", "--yes", "-g", "prod-rg", "web1")
    assert nmi.returncode == 0, nmi.stderr
    reset = azure.cli("reset", "--yes", "-g", "prod-rg", "web1")
    assert reset.returncode == 0, reset.stderr
    commands = [r["url"].rsplit("/", 1)[1] for r in azure.requests if "/adminCommand/" in r["url"]]
    assert commands == ["sysrq", "nmi", "reset"]
    windows = azure.cli("sysrq", "h", "-g", "prod-rg", "win1")
    assert windows.returncode == 6 and b"only send a SysRq to a Linux VM" in windows.stderr


def test_nmi_and_reset_ask_on_a_terminal(azure):
    for command, answer, status in (("nmi", "n", 6), ("reset", "n", 6), ("nmi", "y", 0)):
        child = pexpect.spawn(SERCON[0], [*SERCON[1:], command, "-g", "prod-rg", "web1"], env=azure.env, timeout=30)
        child.expect(r"\[y/N\]")
        child.sendline(answer)
        child.expect(pexpect.EOF)
        child.close()
        assert child.exitstatus == status, (command, answer)
    assert [r["url"].rsplit("/", 1)[1] for r in azure.requests if "/adminCommand/" in r["url"]] == ["nmi"]
    refused = azure.cli("reset", "-g", "prod-rg", "web1")
    assert refused.returncode == 2 and b"--yes" in refused.stderr


def test_menu_nmi_and_reset_are_seen_in_the_console(azure):
    term = start(azure, "-g", "prod-rg", "web1", cols=200)
    try:
        log_in(term)
        term.send(b"\x1dn")
        term.wait_text("Send a non-maskable interrupt? [y/N]")
        term.send(b"y")
        term.wait_text("NMI received for unknown reason")
        term.send(b"\x1dr")
        term.wait_text("Hard-reset the machine? [y/N]")
        term.send(b"y")
        # sercon's "reset sent" line may land inside the console's line: look past sercon's own lines
        term.wait_screen(lambda t: b"Linux version 6.1.0-emulated" in re.sub(
            rb"\r\n\x1b\[1m\[sercon\] [^\x1b]*\x1b\[0m\r\n", b"", bytes(t.raw)), 15, "the reboot banner")
        term.wait_raw(rb"web1 login: ", timeout=15)
    finally:
        term.close()


def test_no_token_in_any_url(azure):
    result = azure.cli("sysrq", "s", "-g", "prod-rg", "web1")
    assert result.returncode == 0, result.stderr
    tokens = list(azure.emulator.tokens.live)
    assert tokens
    for request in azure.requests:
        assert "authorization=" not in request["url"].lower()
        assert not any(token in request["url"] for token in tokens)
    websocket_opens = [r for r in azure.requests if r["url"].endswith("/client")]
    assert websocket_opens and not any(r["authorization"] for r in websocket_opens)


def test_sysrq_during_a_connect_uses_that_session(azure, tmp_path):
    env = {**azure.env, "XDG_RUNTIME_DIR": str(tmp_path)}
    term = Terminal(["connect", "-g", "prod-rg", "web1"], env=env, cols=200, rows=30)
    try:
        term.connected()
        log_in(term)
        result = subprocess.run([*SERCON, "sysrq", "h", "-g", "prod-rg", "web1"], capture_output=True, env=env,
                                timeout=60)
        assert result.returncode == 0, result.stderr
        assert b"using the running `sercon connect`" in result.stderr
        term.wait_text("sysrq: HELP")
        connects = [r for r in azure.requests if r["url"].split("?")[0].endswith("serialPorts/0/connect")]
        assert len(connects) == 1  # no second session: the running one was not taken over
        run(term, "echo still-here", r"still-here\r\n")
    finally:
        term.close()


def stty_size(term: Terminal) -> str:
    mark = len(term.raw)
    term.send(b"stty size\r")
    term.wait_screen(lambda t: re.search(rb"\r\n(\d+ \d+)\r\n", bytes(t.raw[mark:])), 15, "stty size")
    return re.search(rb"\r\n(\d+ \d+)\r\n", bytes(term.raw[mark:])).group(1).decode()


def test_resize_auto_follows_the_local_window(azure):
    term = start(azure, "-g", "prod-rg", "web1", "--resize", "auto", cols=120)  # 30 rows
    try:
        log_in(term)
        assert stty_size(term) == "30 120"  # typed at the first shell prompt
        term.child.setwinsize(40, 150)  # SIGWINCH to sercon
        term.screen.resize(40, 150)
        term.wait_raw(rb"stty rows 40 cols 150", timeout=15)
        term.wait_raw(rb"~\$ $", timeout=15)
        assert stty_size(term) == "40 150"
    finally:
        term.close()


def test_resize_from_the_menu(azure):
    term = start(azure, "-g", "prod-rg", "web1", cols=100)  # --resize is off by default
    try:
        log_in(term)
        assert stty_size(term) == "24 80"  # the emulated VM's own default: nothing was typed
        term.send(b"\x1dw")
        term.wait_raw(rb"stty rows 30 cols 100", timeout=15)
        term.wait_raw(rb"~\$ $", timeout=15)
        assert stty_size(term) == "30 100"
    finally:
        term.close()


def test_logout_on_exit_leaves_a_login_prompt(azure):
    term = start(azure, "-g", "prod-rg", "web1", "--logout-on-exit", cols=200)
    try:
        log_in(term)
        term.send(b"\x1dq")
        term.wait_text("logged out: the console is at a login prompt", timeout=15)
        assert term.wait_exit() == 0
    finally:
        term.close()
    # the next session finds the getty, not a shell someone left logged in
    probe = azure.cli("send", "-g", "prod-rg", "web1", "", "--expect", r"login: $", "--timeout", "10")
    assert probe.returncode == 0, (probe.stdout, probe.stderr)


def test_logout_on_exit_leaves_every_shell_a_nested_one_included(azure):
    """After `sudo -i` or `su` one logout only returns to the login shell: sercon logs out again."""
    term = start(azure, "-g", "prod-rg", "web1", "--logout-on-exit", cols=200)
    try:
        log_in(term)
        run(term, "PS1='inner# ' sh", r"inner# $")
        term.send(b"\x1dq")
        term.wait_text("logged out: 2 shells exited, the console is at a login prompt", timeout=20)
        assert term.wait_exit() == 0
    finally:
        term.close()
    probe = azure.cli("send", "-g", "prod-rg", "web1", "", "--expect", r"login: $", "--timeout", "10")
    assert probe.returncode == 0, (probe.stdout, probe.stderr)


def test_without_logout_a_shell_is_left_behind(azure):
    term = start(azure, "-g", "prod-rg", "web1", cols=200)
    try:
        log_in(term)
        term.send(b"\x1dq")
        assert term.wait_exit() == 0
    finally:
        term.close()
    probe = azure.cli("send", "-g", "prod-rg", "web1", "", "--expect", r"\$ $", "--timeout", "10")
    assert probe.returncode == 0, probe.stdout


def test_a_gateway_that_stops_in_the_middle_of_a_frame_cannot_hang_the_session(azure):
    term = start(azure, "-g", "prod-rg", "web1", "--no-reconnect")
    try:
        log_in(term)
        azure.hook("gateway/web1/stall")
        started = time.monotonic()
        term.send(b"\x1dq")  # quit must end it, whatever the reading thread is stuck in
        status = term.wait_exit(timeout=40)
        assert status in (0, 7), status
        assert time.monotonic() - started < 30
        assert b"Traceback" not in term.raw
    finally:
        term.close()


def test_send_ends_by_its_deadline_when_the_gateway_stalls_mid_frame(azure):
    from tests.conftest import SERCON

    child = subprocess.Popen([*SERCON, "send", "-g", "prod-rg", "web1", "", "--expect", "never-printed",
                              "--timeout", "15"], env=azure.env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 20
        while azure.hook("gateway/web1/stall").json()["stalled"] == 0:  # once its session is up
            assert time.monotonic() < deadline and child.poll() is None
            time.sleep(0.1)
        started = time.monotonic()
        _, err = child.communicate(timeout=60)
        assert time.monotonic() - started < 30, err
        assert child.returncode in (3, 7), err
        assert b"Traceback" not in err
    finally:
        child.kill()
        child.wait()
