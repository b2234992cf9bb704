"""The reconnect policy on a shared console (docs/azure.md, "Reconnect policy"), against the strict emulator.

A session the gateway closes on purpose is never reopened behind the user's back (a reopen takes the
console from whoever holds it); refusals back off and stop; a network cut reconnects by itself.
"""

from __future__ import annotations

import subprocess
import time

import pytest

from tests.conftest import SERCON, Terminal, run_cli
from tests.support.azure_session import answered, close_console, connect_calls, ended, log_in, piped_connect, run, start
from tests.support.waiting import wait_for


def other_user(azure, tmp_path, name: str) -> dict[str, str]:
    """Another operator: a control-socket folder of their own, so sercon cannot see the first session."""
    folder = tmp_path / name
    folder.mkdir(mode=0o700, exist_ok=True)
    return {**azure.env, "XDG_RUNTIME_DIR": str(folder)}


def test_keystrokes_and_a_paste_go_out_as_text_frames(azure):
    gateway = azure.emulator.arm.gateway
    term = start(azure, "-g", "prod-rg", "web1")
    try:
        log_in(term)
        run(term, "echo grüß-$((6*7))", "grüß-42")
        term.send("\x1b[200~echo ─漢─\r\x1b[201~".encode())  # a paste
        term.wait_raw("\r\n─漢─\r\n".encode(), timeout=15)
        assert gateway.text_frames > 0 and gateway.binary_frames == 0  # binary input would close the session
    finally:
        term.close()


def test_utf8_split_at_every_boundary_arrives_whole(azure, monkeypatch):
    """Writes cut inside characters: each frame the gateway receives is whole UTF-8 text."""
    from sercon.azure.client import arm_client
    from sercon.azure.gateway import console_transport
    from sercon.azure.resolve import resolve_vm
    from sercon.targets import AzureTarget

    term = start(azure, "-g", "prod-rg", "web1")  # log in through sercon, then leave the shell running
    log_in(term)
    term.send(b"\x1dq")
    term.wait_exit()
    for key in ("REQUESTS_CA_BUNDLE", "SSL_CERT_FILE"):
        monkeypatch.setenv(key, azure.env[key])
    arm = arm_client(dict(azure.env))
    vm = resolve_vm(arm, AzureTarget("web1", "prod-rg"), azure.env["AZURE_SUBSCRIPTION_ID"])
    transport = console_transport(arm, vm)
    transport.open()
    try:
        data = "echo ü€𝄞-done\r".encode()
        for index in range(len(data)):
            transport.write(data[index : index + 1])  # one byte a write: every character is split
        received = b""
        deadline = time.monotonic() + 15
        while "\r\nü€𝄞-done\r\n".encode() not in received:
            assert time.monotonic() < deadline, received
            received += transport.read(0.5)
    finally:
        transport.close()
    assert azure.emulator.arm.gateway.binary_frames == 0


def test_a_neutral_close_waits_for_enter_and_enter_reconnects(azure):
    term = start(azure, "-g", "prod-rg", "web1", cols=200)
    try:
        log_in(term)
        before = connect_calls(azure)
        close_console(azure, "web1", 1000, "Session closed")
        term.wait_text("1000 'Session closed'", timeout=10)
        term.wait_text("Press Enter to reconnect")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:  # the absence of a call is the point: watch for the whole window
            term.pump(0.2)
            assert connect_calls(azure) == before, "reconnected without being asked"
        term.send(b"\r")
        term.wait_text("reconnected to prod-rg/web1", timeout=20)
        assert connect_calls(azure) == before + 1
        run(term, "echo back-again", r"back-again\r\n")
        term.send(b"\x1dq")
        assert term.wait_exit() == 0
    finally:
        term.close()


def test_a_takeover_by_someone_else_is_not_taken_back(azure, tmp_path):
    first = start(azure, "-g", "prod-rg", "web1", cols=200)
    colleague = Terminal(["connect", "-g", "prod-rg", "web1"], env=other_user(azure, tmp_path, "colleague"),
                         cols=200, rows=30)
    try:
        colleague.connected()
        first.wait_text("another session took over the console", timeout=20)
        first.wait_text("Press Enter to reconnect")
        calls = connect_calls(azure)
        first.send(b"\x1dq")
        assert first.wait_exit() == 8  # quit while taken over: the status says why the session had ended
        assert connect_calls(azure) == calls
        log_in(colleague)  # the colleague keeps the console
        colleague.send(b"\x1dq")
        assert colleague.wait_exit() == 0
    finally:
        first.close()
        colleague.close()


def test_non_interactive_close_exits_7_with_code_and_reason(azure):
    gateway = azure.emulator.arm.gateway
    proc = piped_connect(azure.env, "-g", "prod-rg", "web1")
    try:
        answered(proc, gateway)
        close_console(azure, "web1", 1001, "Going away for maintenance")
        err = ended(proc)
        assert proc.returncode == 7, err
        assert b"1001 'Going away for maintenance'" in err
    finally:
        proc.kill()


def test_non_interactive_takeover_exits_8(azure, tmp_path):
    gateway = azure.emulator.arm.gateway
    proc = piped_connect(azure.env, "-g", "prod-rg", "web1")
    try:
        wait_for(lambda: gateway.sessions_opened >= 1, 20, "the session authenticated")
        result = subprocess.run([*SERCON, "send", "-g", "prod-rg", "web1", "", "--timeout", "3"],
                                env=other_user(azure, tmp_path, "colleague"), capture_output=True, timeout=60)
        assert result.returncode in (0, 3), result.stderr
        err = ended(proc)
        assert proc.returncode == 8, err
        assert b"another session took over" in err
    finally:
        proc.kill()


@pytest.mark.slow  # the real backoff: refusals 2, 4, 8 ... s apart
def test_persistent_refusals_back_off_then_stop(azure_with):
    azure = azure_with(gateway={"refuse_after_auth": "always"})
    started = time.monotonic()
    term = Terminal(["connect", "-g", "prod-rg", "web1"], env=azure.env, cols=200, rows=30)
    try:
        status = term.wait_exit(60)
        elapsed = time.monotonic() - started
        assert status == 7, term.text()
        assert "sessions in a row were refused" in term.text() and "sercon doctor" in term.text()
        calls = connect_calls(azure)
        assert 3 <= calls <= 12, calls
        assert calls <= max(2, elapsed / 2) + 1, (calls, elapsed)  # never more than one every ~2 s on average
    finally:
        term.close()


def test_a_network_cut_without_a_close_frame_reconnects_by_itself(azure):
    term = start(azure, "-g", "prod-rg", "web1", cols=200)
    try:
        log_in(term)
        before = connect_calls(azure)
        azure.hook("gateway/web1/cut")
        term.wait_text("reconnected to prod-rg/web1", timeout=30)
        assert connect_calls(azure) == before + 1
        run(term, "echo after-cut", r"after-cut\r\n")
    finally:
        term.close()


def test_a_second_own_connect_exits_9_and_the_first_goes_on(azure, tmp_path):
    env = other_user(azure, tmp_path, "me")
    first = Terminal(["connect", "-g", "prod-rg", "web1"], env=env, cols=200, rows=30)
    try:
        first.connected()
        log_in(first)
        calls = connect_calls(azure)
        second = subprocess.run([*SERCON, "connect", "-g", "prod-rg", "web1"], env=env, capture_output=True,
                                timeout=60)
        assert second.returncode == 9, second.stderr
        assert b"already connected in another sercon (pid" in second.stderr and b"--force" in second.stderr
        assert connect_calls(azure) == calls  # no gateway session behind the first one's back
        run(first, "echo untouched", r"untouched\r\n")
    finally:
        first.close()


def test_force_ends_your_own_other_session(azure, tmp_path):
    env = other_user(azure, tmp_path, "me")
    first = Terminal(["connect", "-g", "prod-rg", "web1"], env=env, cols=200, rows=30)
    second = None
    try:
        first.connected()
        second = Terminal(["connect", "-g", "prod-rg", "web1", "--force"], env=env, cols=200, rows=30)
        assert first.wait_exit(20) == 8
        assert "another sercon of yours took over" in first.text()
        second.connected()
        log_in(second)
        second.send(b"\x1dq")
        assert second.wait_exit() == 0
    finally:
        first.close()
        if second is not None:
            second.close()


def test_force_takes_the_console_back_from_someone_else(azure, tmp_path):
    first = start(azure, "-g", "prod-rg", "web1", "--force", cols=200)
    colleague = Terminal(["connect", "-g", "prod-rg", "web1"], env=other_user(azure, tmp_path, "colleague"),
                         cols=200, rows=30)
    try:
        colleague.connected()
        first.wait_text("reopening it (--force)", timeout=20)
        first.wait_text("reconnected to prod-rg/web1", timeout=20)
        colleague.wait_text("another session took over the console", timeout=20)
        colleague.send(b"\x1dq")
        assert colleague.wait_exit() == 8
        first.send(b"\x1dq")
        assert first.wait_exit() == 0
    finally:
        first.close()
        colleague.close()


def test_bytes_that_are_not_utf8_are_counted_not_sent(azure):
    gateway = azure.emulator.arm.gateway
    result = run_cli("send", "-g", "prod-rg", "web1", "--eol", "lf", input=b"echo a\xffb\xfe\n", env=azure.env)
    assert result.returncode == 2, result.stderr
    assert b"2 bytes of input not sent: not UTF-8 text" in result.stderr
    assert gateway.binary_frames == 0 and gateway.text_frames >= 1
