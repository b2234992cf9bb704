"""`sercon watch` on an emulated Azure VM: the boot log without a session, never a connect call."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import Terminal
from tests.support.azure_session import connect_calls, start
from tests.support.waiting import wait_for


def test_watch_without_a_session_follows_the_boot_log_and_makes_no_connect_call(azure):
    watcher = Terminal(["watch", "-g", "prod-rg", "web1", "--interval", "0.2"], env=azure.env, cols=200)
    try:
        watcher.wait_text("following its boot diagnostics log instead", timeout=20)
        watcher.wait_text("boot line 2")
        azure.hook("bootlog/web1", data="later line\r\n")
        watcher.wait_text("later line")
        assert watcher.text().count("boot line 1") == 1  # only what is new, each poll
        watcher.send(b"typed\r")
        watcher.send(b"\x03")
        assert watcher.wait_exit() == 0
    finally:
        watcher.close()
    assert connect_calls(azure) == 0


def test_watch_joins_a_running_session_without_a_connect_call_of_its_own(azure):
    writer = start(azure, "-g", "prod-rg", "web1")
    try:
        calls = connect_calls(azure)
        runtime = Path(azure.env["XDG_RUNTIME_DIR"]) / "sercon"
        wait_for(lambda: runtime.is_dir() and any(runtime.iterdir()), what="the session's control socket")
        watcher = Terminal(["watch", "-g", "prod-rg", "web1"], env=azure.env, cols=200)
        try:
            watcher.wait_text("read-only, your keys do not reach the console", timeout=20)
            assert "the session of pid" in watcher.text() and "boot diagnostics" not in watcher.text()
            writer.send(b"azureuser\r")
            watcher.wait_text("Password:")
            watcher.send(b"\x03")
            assert watcher.wait_exit() == 0
        finally:
            watcher.close()
        assert connect_calls(azure) == calls
        assert writer.child.isalive()
    finally:
        writer.send(b"\x1dq")
        writer.wait_exit()


def test_taking_the_keyboard_of_an_azure_session_makes_no_connect_call(azure):
    first = start(azure, "-g", "prod-rg", "web1", cols=200)
    second = None
    try:
        runtime = Path(azure.env["XDG_RUNTIME_DIR"]) / "sercon"
        wait_for(lambda: runtime.is_dir() and any(runtime.iterdir()), what="the session's control socket")
        calls = connect_calls(azure)
        second = Terminal(["connect", "-g", "prod-rg", "web1"], env=azure.env, cols=200)
        second.wait_text("w to watch it, k to take the keyboard, q to quit", timeout=20)
        second.send(b"k\r")
        second.wait_text("the keyboard is now with")
        first.wait_text("the keyboard is now with")
        second.send(b"azureuser\r")
        first.wait_text("Password:")
        second.wait_text("Password:")
        assert connect_calls(azure) == calls  # one console session, the first one's
        second.send(b"\x1dq")
        assert second.wait_exit() == 0
        first.wait_text("the keyboard is back with you")
    finally:
        if second is not None:
            second.close()
        first.send(b"\x1dq")
        first.wait_exit()
