"""rescue's hand-over as a library call (rescue/handover.py), with no click: a scripted console that
answers the reset with what a machine would print, and progress recorded as plain calls."""

from __future__ import annotations

import pytest

from sercon.errors import ExitStatus
from sercon.rescue.console import RescueFailed
from sercon.rescue.driver import RescuePlan
from sercon.rescue.handover import HANDOVER, rescue
from tests.support.rescue import ScriptedConsole


class Recorded:
    def __init__(self) -> None:
        self.steps: list[str] = []
        self.shown = b""
        self.fresh_lines = 0

    def step(self, message: str) -> None:
        self.steps.append(message)

    def output(self, data: bytes) -> None:
        self.shown += data

    def fresh_line(self) -> None:
        self.fresh_lines += 1


GRUB_PROMPT = b"\x1b[2J\x1b[H                             GNU GRUB  version 2.06\r\n\r\ngrub> "


def test_a_console_waiting_at_grubs_prompt_is_handed_to_the_person_there():
    console, progress = ScriptedConsole(GRUB_PROMPT), Recorded()
    result = rescue(console, RescuePlan("init=/bin/bash", step_timeout=5), progress, interactive=True)
    assert result.attach and result.outcome is None and not result.shared
    assert result.failure is not None and result.failure.where == "prompt"
    assert result.handover == HANDOVER["prompt"]
    assert result.exit_status == ExitStatus.PRECONDITION
    assert console.resets == 1 and progress.steps[0].startswith("reset sent to scripted")
    assert not console.closed  # the caller's session takes it from here


def test_with_nobody_to_take_it_the_failure_is_raised():
    console, progress = ScriptedConsole(GRUB_PROMPT), Recorded()
    with pytest.raises(RescueFailed) as raised:
        rescue(console, RescuePlan("init=/bin/bash", step_timeout=5), progress, interactive=False)
    assert raised.value.where == "prompt" and "command line" in raised.value.message
    assert progress.fresh_lines >= 1 and not console.closed


def test_a_silent_console_is_never_handed_over_and_esc_was_pressed():
    console, progress = ScriptedConsole(b""), Recorded()
    with pytest.raises(RescueFailed) as raised:
        rescue(console, RescuePlan("init=/bin/bash", step_timeout=1, esc_interval=0.1), progress, interactive=True)
    assert raised.value.where is None and raised.value.exit_status == ExitStatus.TIMEOUT
    assert "GRUB's menu never showed" in raised.value.message
    assert b"\x1b" in console.written
