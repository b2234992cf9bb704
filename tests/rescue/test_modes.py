"""Rescue parameters, and the command's refusals before anything is sent."""

from __future__ import annotations

import pytest

from sercon.errors import UsageError
from sercon.rescue.modes import MODES, rescue_parameter
from tests.conftest import run_cli


def test_modes_name_their_parameters():
    assert rescue_parameter(None, None) == "systemd.unit=emergency.target"
    assert rescue_parameter("init", None) == "init=/bin/bash"
    assert rescue_parameter(None, " rd.break enforcing=0 ") == "rd.break enforcing=0"
    assert rescue_parameter(None, "console=ttyS0,115200 root=/dev/sda1 x.y=a:b+c@d%e") == \
        "console=ttyS0,115200 root=/dev/sda1 x.y=a:b+c@d%e"
    assert set(MODES) == {"emergency", "single", "init", "rd.break"}


@pytest.mark.parametrize("text", ["", "   ", "rd.break\x18", "init=/bin/bash\r", "café", "a;halt", "x=$root",
                                  "init='/bin/sh'", "a{b}", "a#b", "a\\b"])
def test_append_must_be_printable_ascii(text):
    with pytest.raises(UsageError):
        rescue_parameter(None, text)


def test_mode_and_append_together_are_refused():
    with pytest.raises(UsageError):
        rescue_parameter("init", "single")


def test_a_target_sercon_cannot_reset_needs_no_reset(device):
    result = run_cli("rescue", device.path, "--yes")
    assert result.returncode == 2
    err = result.stderr.decode()
    assert "sercon cannot reset" in err and "--no-reset" in err and "Traceback" not in err
    assert bytes(device.buffer) == b""  # nothing was sent


def test_bad_append_is_a_usage_error_with_a_fix(device):
    result = run_cli("rescue", device.path, "--no-reset", "--append", "rd.break\x1b[A")
    assert result.returncode == 2
    assert b"fix:" in result.stderr and b"Traceback" not in result.stderr
