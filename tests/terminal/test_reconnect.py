"""The reconnect backoff: growing waits across refusals, a limit, and a reset once a session proves itself."""

from __future__ import annotations

from sercon.terminal.reconnect import PROOF, Backoff


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_refusals_double_the_wait_and_stop_after_the_limit():
    backoff = Backoff(2.0, 30.0, 5, clock=Clock())
    assert [backoff.refused() for _ in range(5)] == [2.0, 4.0, 8.0, 16.0, None]


def test_waits_are_capped_and_a_dead_network_is_waited_for_without_limit():
    backoff = Backoff(2.0, 30.0, 5, clock=Clock())
    assert [backoff.lost() for _ in range(7)] == [2.0, 4.0, 8.0, 16.0, 30.0, 30.0, 30.0]


def test_a_session_that_answers_resets_the_run():
    clock = Clock()
    backoff = Backoff(2.0, 30.0, 5, clock=clock)
    for _ in range(4):
        backoff.refused()
    backoff.opened()
    assert backoff.on_probation()
    backoff.answered()
    assert not backoff.on_probation()
    assert backoff.refused() == 2.0 and backoff.refusals == 1


def test_a_quiet_session_proves_itself_after_a_while():
    clock = Clock()
    backoff = Backoff(2.0, 30.0, 5, clock=clock)
    backoff.refused()
    backoff.opened()
    clock.now += PROOF - 0.1
    assert backoff.on_probation()
    clock.now += 0.2
    assert not backoff.on_probation() and backoff.refusals == 0
