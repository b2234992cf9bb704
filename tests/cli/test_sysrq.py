"""`sercon sysrq` on a device: BREAK then the key, seen in pyserial's spy:// log."""

from __future__ import annotations

import re

from tests.conftest import cli_env, run_cli


def test_sysrq_sends_break_then_key(device, tmp_path):
    log = tmp_path / "spy.txt"
    result = run_cli("sysrq", "help", f"spy://{device.path}?file={log}")
    assert result.returncode == 0, result.stderr
    device.expect(b"h")
    text = log.read_text()
    assert re.search(r"BRK\s+send_break", text) and text.index("BRK") < text.index("TX")


def test_reisub_is_paced_key_by_key(device, tmp_path):
    log = tmp_path / "spy.txt"
    result = run_cli("sysrq", "reisub", f"spy://{device.path}?file={log}", "--interval", "0.05")
    assert result.returncode == 0, result.stderr
    assert device.wait_for_size(6, 5) == b"reisub"
    assert log.read_text().count("BRK") == 6


def test_default_target_from_the_environment(device):
    result = run_cli("sysrq", "s", env=cli_env(SERCON_TARGET=device.path))
    assert result.returncode == 0, result.stderr
    device.expect(b"s")


def test_default_target_from_the_config(device, tmp_path):
    config = tmp_path / "config.toml"
    config.write_text(f'default = "board"\n[profiles.board]\ndevice = "{device.path}"\n')
    result = run_cli("sysrq", "b", env=cli_env(SERCON_CONFIG=str(config)))
    assert result.returncode == 0, result.stderr
    device.expect(b"b")


def test_no_target_is_a_usage_error():
    result = run_cli("sysrq", "b")
    assert result.returncode == 2
    assert b"no target given" in result.stderr


def test_mistyped_name_sends_nothing(device):
    result = run_cli("sysrq", "reboto", device.path)
    assert result.returncode == 2
    assert b"did you mean 'reboot'" in result.stderr
    assert device.buffer == b""
