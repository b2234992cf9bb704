import json

import pytest

from sercon.terminal.logfile import LineStamper, LogError, SessionLog, iso_time


def clock():
    return 1_700_000_000.25


def test_stamper_marks_each_line_once_across_chunks():
    stamper = LineStamper(clock)
    stamp = f"[{iso_time(clock())}] ".encode()
    out = stamper.stamp(b"ab") + stamper.stamp(b"c\nde\n") + stamper.stamp(b"f")
    assert out == stamp + b"abc\n" + stamp + b"de\n" + stamp + b"f"


def test_text_log_appends_console_output(tmp_path):
    path = tmp_path / "s.log"
    path.write_bytes(b"old\n")
    log = SessionLog(path)
    log.open()
    log.rx(b"hello\r\n")
    log.tx(b"typed")  # text logs hold what the console printed
    log.close()
    assert path.read_bytes() == b"old\nhello\r\n"


def test_jsonl_records_both_directions_exactly(tmp_path):
    path = tmp_path / "s.jsonl"
    log = SessionLog(path, "jsonl", clock=clock)
    log.open()
    log.rx("héllo".encode())
    log.tx(b"\xff\x00")
    log.close()
    records = [json.loads(line) for line in path.read_text().splitlines()]
    assert records[0] == {"t": iso_time(clock()), "dir": "rx", "data": "héllo"}
    assert records[1]["dir"] == "tx" and records[1]["b64"] == "/wA="


def test_unwritable_log_is_reported(tmp_path):
    log = SessionLog(tmp_path / "missing" / "x.log")
    with pytest.raises(LogError):
        log.open()


def test_typed_secrets_keep_only_their_length_and_the_log_is_private(tmp_path):
    path = tmp_path / "s.jsonl"
    log = SessionLog(path, "jsonl", clock=clock)
    log.open()
    log.tx(b"hunter2\r", secret=True)
    log.close()
    assert json.loads(path.read_text()) == {"t": iso_time(clock()), "dir": "tx", "hidden": 8}
    assert path.stat().st_mode & 0o777 == 0o600


def test_a_bare_carriage_return_gets_the_stamp_again_on_screen():
    from sercon.terminal.logfile import LineStamper

    stamper = LineStamper(clock=lambda: 0.0, restamp=True)
    out = b"".join(stamper.stamp(chunk) for chunk in (b"10%\r", b"20%\r", b"\n", b"next\r", b"\nx"))
    stamp = out[: out.index(b"] ") + 2]
    assert out == (stamp + b"10%\r" + stamp + b"20%\r" + b"\n" + stamp + b"next\r" + b"\n" + stamp + b"x")
    plain = LineStamper(clock=lambda: 0.0)  # the text log keeps the bytes as they came
    assert plain.stamp(b"10%\r20%\r\n") == stamp + b"10%\r20%\r\n"


def test_an_unwritable_log_path_is_a_usage_error_before_connecting(device, tmp_path):
    from tests.conftest import run_cli

    result = run_cli("connect", device.path, "--log", str(tmp_path / "no-such-folder" / "x.log"))
    assert result.returncode == 2, result.stderr
    assert b"cannot open log file" in result.stderr and b"fix:" in result.stderr
    assert not result.stdout  # it never connected
