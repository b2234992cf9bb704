"""What was typed is judged secret by the prompt it was typed at, not by what the console printed
after it went out: a login name typed at `login:` is kept by --journal-input even when the console's
`Password:` arrives before the writer gets to record it (seen once under load)."""

from __future__ import annotations

import threading

from sercon.terminal.sender import PASTE, TYPED, Sender


class Journal:
    record_input = True

    def __init__(self) -> None:
        self.typed: list[bytes] = []

    def input(self, data: bytes) -> None:
        self.typed.append(data)


class PromptAfterWrite:
    """A console that answers each write at once with a password prompt."""

    label = "fake"
    max_write = None

    def __init__(self, prompt: list[str]) -> None:
        self.prompt = prompt
        self.written = b""

    def write(self, data: bytes) -> None:
        self.written += data
        self.prompt[0] = "Password: "

    def try_write(self, data: bytes) -> int:
        self.write(data)
        return len(data)

    def drain(self) -> None:
        pass


class Screen:
    def status(self, text: str) -> None:
        pass


def sender(prompt: list[str]) -> tuple[Sender, PromptAfterWrite, Journal]:
    transport = PromptAfterWrite(prompt)
    tx = Sender(transport, Screen(), 64, threading.Event(), lambda: None, lambda: False,  # type: ignore[arg-type]
                lambda: prompt[0].startswith("Password"))
    journal = Journal()
    tx.journal = journal  # type: ignore[assignment]
    return tx, transport, journal


def test_a_key_from_the_key_loop_is_judged_at_the_prompt_it_was_typed_at():
    tx, transport, journal = sender(["web1 login: "])
    tx.typed(b"ops\r")
    assert transport.written == b"ops\r" and journal.typed == [b"ops\r"]
    tx.typed(b"hunter2\r")  # now at the password prompt: never kept
    assert journal.typed == [b"ops\r"]


def test_a_queued_key_and_a_paste_are_judged_before_they_go_out_too():
    for how in (TYPED, PASTE):
        tx, transport, journal = sender(["web1 login: "])
        tx.send_now(b"ops\r", how)
        assert transport.written == b"ops\r" and journal.typed == [b"ops\r"], how
