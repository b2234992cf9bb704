import pytest

from sercon.choices import parse_escape_key
from sercon.errors import UsageError
from sercon.terminal.escape import MENU, EscapeMachine, Forward, Prompt, Run
from sercon.transport.base import BREAK, SYSRQ

ESC = 0x1D


def feed(machine, data: bytes):
    return machine.feed(data)


def forwarded(actions) -> bytes:
    return b"".join(a.data for a in actions if isinstance(a, Forward))


def test_plain_bytes_pass_through_unchanged():
    machine = EscapeMachine(ESC)
    data = bytes(b for b in range(256) if b not in (ESC, ord("~")))
    assert forwarded(feed(machine, data)) == data


def test_menu_quit():
    machine = EscapeMachine(ESC)
    actions = feed(machine, b"ab\x1dq")
    assert actions[0] == Forward(b"ab")
    assert isinstance(actions[1], Prompt) and "q quit" in actions[1].text
    assert actions[-1] == Run("quit")


def test_escape_twice_sends_it():
    machine = EscapeMachine(ESC)
    assert forwarded(feed(machine, b"\x1d\x1d")) == b"\x1d"
    assert machine.feed(b"x") == [Forward(b"x")]


def test_break_and_sysrq_need_the_capability():
    assert Run("break") not in feed(EscapeMachine(ESC), b"\x1db")
    machine = EscapeMachine(ESC, {BREAK, SYSRQ})
    assert feed(machine, b"\x1db")[-1] == Run("break")
    actions = feed(machine, b"\x1dsh")
    assert actions[-1] == Run("sysrq", "h")
    assert feed(machine, b"\x1ds\x1b") == [Prompt(machine.menu_line()), Prompt(MENU[2].arg_prompt), Prompt(None)]


def test_enter_tilde_dot_quits_only_at_line_start():
    machine = EscapeMachine(ESC)
    assert feed(machine, b"~.")[-1] == Run("quit")  # the session starts at a line start
    machine = EscapeMachine(ESC)
    assert forwarded(feed(machine, b"a~.")) == b"a~."
    assert feed(machine, b"\r~.") == [Forward(b"\r"), Run("quit")]


def test_tilde_tilde_sends_one_tilde():
    machine = EscapeMachine(ESC)
    assert forwarded(feed(machine, b"\r~~x~y")) == b"\r~x~y"
    assert forwarded(feed(machine, b"\n~x")) == b"\n~x"


def test_unknown_key_keeps_menu_open_and_help_lists_every_command():
    machine = EscapeMachine(ESC, {BREAK, SYSRQ})
    actions = feed(machine, b"\x1dZ")
    assert "no command" in actions[-1].text
    pages = len(machine.help_pages())
    help_text = " ".join(feed(machine, b"?")[-1].text for _ in range(pages))  # ? again: the next page
    for key in "qbslt?":
        assert f"{key} " in help_text
    assert feed(machine, b"\x1b") == [Prompt(None)]


def test_every_command_is_described():
    for command in MENU:
        assert command.description and not command.description.endswith(".")
        assert len(command.key) == 1


@pytest.mark.parametrize("width", [120, 80, 60, 40, 30])
def test_menu_and_help_fit_any_width_and_cut_nothing(width):
    machine = EscapeMachine(ESC, {BREAK, SYSRQ, "nmi", "reset"}, width=width)
    line = machine.menu_line()
    assert len(line) < width
    assert all(key in line for key in machine.commands)
    pages = machine.help_pages()
    assert all(len(page) < width for page in pages)
    words = " ".join(page.split(" ", 1)[1].removesuffix("  (?)") for page in pages).replace(" · ", " ").split()
    expected = " ".join(f"{c.key} {c.description}" for c in machine.commands.values()).split()
    assert words[: len(expected)] == expected  # every description, whole and in order


def test_help_pages_cycle():
    machine = EscapeMachine(ESC, width=40)
    pages = machine.help_pages()
    shown = [feed(machine, b"\x1d?")[-1].text] + [feed(machine, b"?")[-1].text for _ in range(len(pages))]
    assert shown == [*pages, pages[0]]


def test_confirmation_defaults_to_no():
    machine = EscapeMachine(ESC, {"nmi"})
    assert Run("nmi") not in feed(machine, b"\x1dn\r")
    assert feed(machine, b"\x1dny")[-1] == Run("nmi")


@pytest.mark.parametrize("spec, byte", [("ctrl-]", 0x1D), ("^]", 0x1D), ("^T", 0x14), ("ctrl-a", 1), ("none", None)])
def test_escape_key_spellings(spec, byte):
    assert parse_escape_key(spec) == byte


def test_bad_escape_key():
    with pytest.raises(UsageError):
        parse_escape_key("F1")


@pytest.mark.parametrize("key", "bcoei")
def test_a_sysrq_key_that_ends_the_machines_work_is_asked_about_first(key):
    """As the menu's NMI and reset ask, and as `sercon sysrq b` asks (issue 17)."""
    machine = EscapeMachine(ESC, {BREAK, SYSRQ})
    asked = feed(machine, b"\x1ds" + key.encode())
    assert not any(isinstance(a, Run) for a in asked)
    assert isinstance(asked[-1], Prompt) and "[y/N]" in asked[-1].text and f"SysRq {key}" in asked[-1].text
    assert feed(machine, b"n") == [Prompt(None)]  # anything but y: nothing sent
    feed(machine, b"\x1ds" + key.encode())
    assert feed(machine, b"y") == [Prompt(None), Run("sysrq", key)]


def test_a_harmless_sysrq_key_is_not_asked_about():
    machine = EscapeMachine(ESC, {BREAK, SYSRQ})
    for key in "hstwum":
        assert feed(machine, b"\x1ds" + key.encode())[-1] == Run("sysrq", key)
