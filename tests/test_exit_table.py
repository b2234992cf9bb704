"""docs/exit-codes.md is what every command returns: its codes are ExitStatus's, and each one is
produced by at least one of the causes the table names (in process through ``sercon.cli.main``
where nothing outside the call is touched; in a child process for signals, a closed output and
the Azure gateway)."""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import signal
import socket
import subprocess
import tempfile
import threading

import pytest

from sercon.cli import main
from sercon.cli.env import Env
from sercon.errors import ExitStatus
from sercon.terminal.signals import EXIT_SIGNALS
from tests.azure.conftest import azure  # noqa: F401 - the emulator fixture, for exit 8
from tests.conftest import ROOT, SERCON, cli_env
from tests.support.azure_session import answered, close_console, ended, piped_connect

TABLE = ROOT / "docs" / "exit-codes.md"


def table() -> dict[str, str]:
    """code -> the row's causes, from the Markdown table."""
    rows = {}
    for line in TABLE.read_text().splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) >= 3 and re.fullmatch(r"\d+|128\+N", cells[0]):
            rows[cells[0]] = " ".join(cells[1:])
    return rows


def test_the_table_holds_exactly_the_exit_statuses():
    codes = table()
    assert {int(code) for code in codes if code.isdigit()} == {int(status) for status in ExitStatus}
    assert "128+N" in codes  # the signals' family: Interrupted.exit_code


def test_every_cause_named_here_is_in_the_table():
    """The causes this file runs are the table's own words (a cause dropped from the docs fails here)."""
    rows = table()
    for code, words in CAUSES_NAMED.items():
        for word in words:
            assert word in rows[code], (code, word)


CAUSES_NAMED = {
    "1": ["a bug"],
    "2": ["not a serial device", "`telnet://HOST` without a port", "`nan`", "`1e308`", "`paste_chunk = 0`",
          "without `--yes`"],
    "3": ["`send --expect` did not match"],
    "4": ["the device path does not exist", "`did you mean '/dev/ttyUSB0'?`"],
    "5": ["not signed in to Azure"],
    "6": ["`nmi`/`reset` on a device without `--qmp`", "`sysrq` or BREAK on a line that cannot carry a BREAK"],
    "7": ["a console server closed the connection"],
    "8": ["the gateway's close reason says another session took over"],
    "9": ["another process holds the device's lock"],
    "130": ["Ctrl-C"],
    "128+N": ["143 SIGTERM"],
    "141": ["the program reading sercon's output went away"],
}


# -- in process -----------------------------------------------------------------------------------
def run_main(*argv: str, environ: dict[str, str] | None = None) -> tuple[int, str]:
    """sercon.cli.main with real files for its streams; the signal handlers main sets are put back."""
    saved = {signum: signal.getsignal(signum) for signum in EXIT_SIGNALS}
    with open(os.devnull) as stdin, tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        try:
            code = main(list(argv), Env(stdin, out, err, environ if environ is not None else cli_env()))
        finally:
            for signum, handler in saved.items():
                signal.signal(signum, handler)
        err.seek(0)
        return code, err.read()


def test_0_success():
    assert run_main("send", "loop://", "hi", "--expect", "hi") == (0, "")


def test_1_a_bug_says_so_with_the_way_to_see_more(monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr("sercon.targets.resolve_target", broken)
    code, err = run_main("send", "loop://", "hi")
    assert code == 1 and "unexpected error: RuntimeError: a bug" in err and "--debug" in err


@pytest.mark.parametrize("argv, words", [
    (["connect", "/etc/passwd"], "is not a serial device"),
    (["send", "/dev/null", "hi"], "is not a serial device"),
    (["connect", "telnet://127.0.0.1"], "telnet://HOST:PORT"),
    (["send", "loop://", "hi", "--timeout", "nan"], "--timeout"),
    (["sysrq", "reisub", "telnet://127.0.0.1:9"], "--yes"),  # never dialled: the question comes first
    (["connect", "board"], "paste_chunk"),
])
def test_2_usage(argv, words, tmp_path):
    config = tmp_path / "config.toml"
    if argv[-1] == "board":
        config.write_text('[profiles.board]\nurl = "loop://"\npaste_chunk = 0\n')
    code, err = run_main(*argv, environ=cli_env(SERCON_CONFIG=str(config)))
    assert code == 2 and words in err and "fix:" in err, err


def test_3_timeout():
    code, err = run_main("send", "loop://", "hi", "--expect", "never", "--timeout", "0.3")
    assert code == 3, err


@pytest.mark.parametrize("target", ["/dev/ttyNOPE", "ttyUSB9"])
def test_4_not_found(target):
    code, err = run_main("connect", target)
    assert code == 4 and "fix:" in err, err


def test_5_not_signed_in(tmp_path):
    environ = {k: v for k, v in cli_env(HOME=str(tmp_path), XDG_CACHE_HOME=str(tmp_path / "cache"),
                                        AZURE_CONFIG_DIR=str(tmp_path / "azure")).items()
               if not k.startswith(("AZURE_CLIENT", "AZURE_TENANT", "IDENTITY_", "MSI_"))}
    code, err = run_main("account", environ=environ)
    assert code == 5 and "not signed in" in err, err


@pytest.mark.parametrize("argv", [["nmi", "loop://", "--yes"], ["sysrq", "h", "loop://"]])
def test_6_the_target_cannot_do_it(argv):
    code, err = run_main(*argv)
    assert code == 6 and "fix:" in err, err


def test_7_a_console_server_that_closes_the_connection():
    server = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        conn, _ = server.accept()
        with conn:
            conn.recv(4096)  # sercon's telnet hello: then the server goes away

    threading.Thread(target=serve, daemon=True).start()
    try:
        code, err = run_main("send", f"telnet://127.0.0.1:{server.getsockname()[1]}", "hi", "--expect", "never",
                             "--timeout", "20")
    finally:
        server.close()
    assert code == 7 and "closed by the remote end" in err, err


def test_9_device_busy(device):
    with open(device.path, "rb") as holder:
        fcntl.flock(holder, fcntl.LOCK_EX | fcntl.LOCK_NB)  # as another program holding the port
        code, err = run_main("send", device.path, "hi")
    assert code == 9 and "is locked by process" in err, err


# -- in a child process ---------------------------------------------------------------------------
def test_8_taken_over(azure):  # noqa: F811
    gateway = azure.emulator.arm.gateway
    proc = piped_connect(azure.env, "-g", "prod-rg", "web1")
    try:
        answered(proc, gateway)
        close_console(azure, "web1", 1000, "another session took over the console")
        err = ended(proc)
        assert proc.returncode == 8, err
    finally:
        proc.kill()


@pytest.mark.parametrize("signum, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143), (signal.SIGHUP, 129)])
def test_130_and_128_plus_n_a_signal(device, signum, code):
    proc = subprocess.Popen([*SERCON, "send", device.path, "ping", "--expect", "never", "--timeout", "60"],
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=cli_env())
    try:
        device.expect(b"ping\r")  # sercon is waiting for the console now
        proc.send_signal(signum)
        _, err = proc.communicate(timeout=20)
        assert proc.returncode == code, err
        assert b"Traceback" not in err
    finally:
        proc.kill()


def test_141_the_output_was_closed():
    read_end, write_end = os.pipe()
    os.close(read_end)  # nobody will ever read: the first write finds the pipe closed
    with contextlib.closing(os.fdopen(write_end, "wb")) as stdout:
        result = subprocess.run([*SERCON, "send", "loop://", "hi", "--expect", "hi"], stdin=subprocess.DEVNULL,
                                stdout=stdout, stderr=subprocess.PIPE, env=cli_env(), timeout=60)
    assert result.returncode == 141 and result.stderr == b"", result.stderr

