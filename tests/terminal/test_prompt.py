import pytest

from sercon.terminal.prompt import at_login_prompt, at_shell_prompt, last_line, stty_command


@pytest.mark.parametrize("tail", [b"azureuser@web1:~$ ", b"\r\nroot@box:/# ", b"\x1b[01;32muser@h\x1b[00m:~$ ",
                                  b"ls\r\nfile\r\n% "])
def test_shell_prompts(tail):
    assert at_shell_prompt(tail)


@pytest.mark.parametrize("tail", [b"web1 login: ", b"Password: ", b"compiling...\r\n", b"$ ls -l"])
def test_not_shell_prompts(tail):
    assert not at_shell_prompt(tail)


def test_login_prompt():
    assert at_login_prompt(b"\r\nUbuntu 22.04 web1 ttyS0\r\n\r\nweb1 login: ")
    assert not at_login_prompt(b"$ ")


def test_last_line_strips_escapes_and_carriage_returns():
    assert last_line(b"one\r\ntwo\rthree\x1b[K") == b"three"


def test_stty_command():
    assert stty_command(40, 120) == b" stty rows 40 cols 120\r"


@pytest.mark.parametrize("tail, secret", [(b"Password: ", True), (b"\r\n[sudo] password for ops: ", True),
                                          (b"Enter passphrase for key '/root/.ssh/id': ", True),
                                          (b"web1 login: ", False), (b"$ echo password", False)])
def test_secret_prompts(tail, secret):
    from sercon.terminal.prompt import at_secret_prompt

    assert at_secret_prompt(tail) is secret
