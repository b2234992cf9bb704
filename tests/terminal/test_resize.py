"""--resize auto types `stty rows R cols C` only where a shell waits for a command the user asked for."""

from __future__ import annotations

import pytest

from sercon.terminal.resize import ResizePolicy

PROMPT = b"\r\nazureuser@web1:~$ "


def ready(policy: ResizePolicy, tail: bytes = PROMPT) -> bytes | None:
    policy.typed(b"\r")
    policy.output()
    return policy.command(tail, 30, 120)


def test_types_at_a_shell_prompt_after_the_users_enter():
    policy = ResizePolicy(True)
    assert ready(policy) == b" stty rows 30 cols 120\r"
    policy.output()
    assert policy.command(PROMPT, 30, 120) is None  # once per pending size
    policy.window_changed()
    assert policy.command(PROMPT, 40, 150) is None  # sercon's own stty is not the user's Enter
    assert ready(policy) == b" stty rows 30 cols 120\r"


@pytest.mark.parametrize("tail", [b">>> ", b"SAC>", b"... ", b"  File \"x.py\", line 3, in <module>\r\n    f()>",
                                  b"Total: 5$", b"web1 login: ", b"Password: ", b"\x1b[?1049h~\r\n~ vim $x"])
def test_never_types_into_something_that_is_not_a_shell_prompt(tail):
    assert ready(ResizePolicy(True), tail) is None


def test_never_on_a_half_typed_line_nor_before_the_prompt_answers():
    policy = ResizePolicy(True)
    policy.typed(b"\r")
    assert policy.command(PROMPT, 30, 120) is None  # the Enter's output has not come yet
    policy.output()
    policy.typed(b"ls -")
    policy.output()
    assert policy.command(PROMPT, 30, 120) is None  # the user is typing a command


def test_never_a_zero_size_never_windows_never_when_off():
    assert ready(ResizePolicy(True), PROMPT) is not None
    policy = ResizePolicy(True)
    policy.typed(b"\r")
    policy.output()
    assert policy.command(PROMPT, 0, 0) is None
    assert ready(ResizePolicy(True, windows_guest=True)) is None
    assert ready(ResizePolicy(False)) is None
