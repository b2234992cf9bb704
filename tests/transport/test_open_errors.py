"""pyserial's open failures become the contract's exit codes, each with a fix line (no DNS asked here:
the failures are built from the text pyserial gives, so the test sends nothing off the machine)."""

from __future__ import annotations

import pytest
import serial

from sercon.errors import ExitStatus
from sercon.transport.serial import open_error
from tests.conftest import call_cli


def test_an_unknown_host_is_not_found_with_a_fix():
    exc = serial.SerialException("Could not open port socket://nosuchhost:23: [Errno -2] Name or service not known")
    error = open_error("socket://nosuchhost:23", exc)
    assert error.exit_status == ExitStatus.NOT_FOUND and error.hint


def test_a_bad_port_is_a_usage_error():
    result = call_cli("send", "socket://127.0.0.1:99999", "x")
    assert result.returncode == 2, result.stderr
    assert b"fix:" in result.stderr


def test_a_refused_connection_is_not_found():
    result = call_cli("send", "socket://127.0.0.1:1", "x")
    assert result.returncode == 4 and b"fix:" in result.stderr


# -- a path that is no serial device, a URL that is no URL: usage errors (2), never "check that the host is up" --
def not_serial(result) -> str:
    err = result.stderr.decode()
    assert result.returncode == 2, (result.returncode, err)
    assert "is not a serial device" in err and "sercon list" in err, err  # the fix: how to find serial devices
    assert "host is up" not in err and "Traceback" not in err, err
    return err


@pytest.mark.parametrize("command", [["connect"], ["send"], ["sysrq", "h"], ["doctor"]])
@pytest.mark.parametrize("path", ["/etc/passwd", "/dev/null"])
def test_a_file_or_a_device_that_is_no_terminal_is_not_a_serial_device(command, path):
    extra = ["hi"] if command == ["send"] else []
    err = not_serial(call_cli(*command, path, *extra))
    assert path in err


def test_a_regular_file_and_a_folder_are_named_for_what_they_are(tmp_path):
    log = tmp_path / "console.log"
    log.write_text("not a tty")
    assert "a regular file" in not_serial(call_cli("send", str(log), "hi"))
    assert "a folder" in not_serial(call_cli("send", str(tmp_path), "hi"))
    assert "a regular file" in not_serial(call_cli("send", f"spy://{log}", "hi"))


@pytest.mark.parametrize("url, form", [
    ("telnet://127.0.0.1", "telnet://HOST:PORT"),
    ("telnet://localhost", "telnet://HOST:PORT"),
    ("telnet://", "telnet://HOST:PORT"),
    ("telnet://127.0.0.1:0", "telnet://HOST:PORT"),
    ("telnet://127.0.0.1:23?x=1", "telnet://HOST:PORT"),
    ("socket://127.0.0.1", "socket://HOST:PORT"),
    ("socket://[::1", "socket://HOST:PORT"),
    ("socket://127.0.0.1:1?logging=foo", "logging="),
    ("rfc2217://127.0.0.1", "rfc2217://HOST:PORT"),
    ("rfc2217://127.0.0.1:1?foo=1", "rfc2217://"),
    ("spy:///dev/ttyNOPE?foo=1", "spy://"),
    ("loop://?logging=x", "logging="),
])
def test_a_malformed_url_is_a_usage_error_with_its_form(url, form):
    result = call_cli("send", url, "hi")
    err = result.stderr.decode()
    assert result.returncode == 2, (result.returncode, err)
    fix = err.partition("fix:")[2]
    assert form in fix and "host is up" not in err and "unexpected" not in err, err


def test_no_port_matching_a_hwgrep_pattern_is_not_found():
    result = call_cli("send", "hwgrep://no-such-adapter-anywhere", "hi")
    assert result.returncode == 4 and b"fix:" in result.stderr, result.stderr


def test_the_telnet_handler_itself_refuses_a_url_without_a_port_as_a_usage_error():
    """pyserial's telnet:// handler used on its own (the check before it skipped): still exit 2."""
    port = serial.serial_for_url("telnet://127.0.0.1", do_not_open=True)
    with pytest.raises(serial.SerialException) as info:
        port.open()
    error = open_error("telnet://127.0.0.1", info.value)
    assert error.exit_status == ExitStatus.USAGE and "telnet://HOST:PORT" in error.hint
