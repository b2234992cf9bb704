"""Checks that warn instead of blocking, and admin commands that survive refusals and token expiry."""

from __future__ import annotations

import time

from tests.support.azure_session import connect_calls, log_in, start

CHECK_CALLS = ("consoleservices", "storageaccounts", "microsoft.authorization/locks",
               "microsoft.authorization/permissions")


def check_calls(requests: list[dict]) -> list[str]:
    return [r["url"] for r in requests if any(part in r["url"].lower() for part in CHECK_CALLS)]


def admin_posts(azure) -> list[str]:
    return [r["url"].rsplit("/", 1)[1] for r in azure.requests if "/adminCommand/" in r["url"]]


def test_a_firewalled_storage_account_warns_and_connect_goes_on(azure):
    term = start(azure, "-g", "prod-rg", "fw-closed", cols=200)
    try:
        term.send(b"\r")
        term.wait_raw(rb"login: ", timeout=15)
        text = term.text()
        assert "warning: storage firewall: diagclosed blocks" in text
        assert "az storage account network-rule add" in text  # the fix, on the same line
    finally:
        term.close()


def test_a_firewalled_storage_account_warns_and_send_goes_on(azure):
    result = azure.cli("send", "-g", "prod-rg", "fw-closed", "", "--expect", "login: $", "--timeout", "15")
    assert result.returncode == 0, result.stderr
    assert b"warning: storage firewall" in result.stderr


def test_shared_key_and_locks_warn_but_do_not_block(azure):
    for vm, rg, what in (("nokey", "prod-rg", b"warning: shared key access"),
                         ("lockedvm", "locked-rg", b"warning: locks")):
        result = azure.cli("send", "-g", rg, vm, "", "--expect", "login: $", "--timeout", "15")
        assert result.returncode == 0, (vm, result.stderr)
        assert what in result.stderr


def test_definite_blockers_still_stop_before_the_connect_call(azure):
    for args, status in ((("-g", "prod-rg", "nodiag"), 6), (("-g", "prod-rg", "dealloc1"), 6),
                         (("--subscription", "00000000-0000-4000-8000-0000000000b2", "-g", "rg", "vm2"), 6)):
        result = azure.cli("send", *args, "", "--timeout", "5")
        assert result.returncode == status, (args, result.stderr)
    assert connect_calls(azure) == 0


def test_no_checks_goes_straight_to_the_connect_call(azure):
    before = len(azure.requests)
    result = azure.cli("send", "--no-checks", "-g", "prod-rg", "fw-closed", "", "--expect", "login: $",
                       "--timeout", "15")
    assert result.returncode == 0, result.stderr
    assert b"warning" not in result.stderr
    assert check_calls(azure.requests[before:]) == []
    assert connect_calls(azure) == 1


def test_one_shot_nmi_gets_through_when_every_other_session_is_refused(azure_with):
    azure = azure_with(gateway={"refuse_after_auth": "alternate"})
    result = azure.cli("nmi", "--yes", "-g", "prod-rg", "web1")
    assert result.returncode == 0, result.stderr
    # The POST goes at once (as the official client's): on the refused session it is refused too,
    # unless the gateway's close came first; then it goes through on the fresh one.
    assert admin_posts(azure) in (["nmi"], ["nmi", "nmi"])
    assert connect_calls(azure) == 2  # the first session was refused: one fresh connect, then the POST


def test_one_shot_reset_gives_up_after_three_refused_sessions(azure_with):
    azure = azure_with(gateway={"refuse_after_auth": "always"})
    result = azure.cli("reset", "--yes", "-g", "prod-rg", "web1")
    assert result.returncode == 7, result.stderr
    assert b"refused 3 sessions in a row" in result.stderr and b"InternalServerError" in result.stderr
    assert len(admin_posts(azure)) <= 3 and connect_calls(azure) == 3


def test_menu_sysrq_works_after_the_first_token_expired(azure_with):
    azure = azure_with(token_lifetime=2)
    term = start(azure, "-g", "prod-rg", "web1", cols=200)
    try:
        log_in(term, password="web1-password")
        tokens = azure.emulator.tokens
        issued = list(tokens.live)
        deadline = time.monotonic() + 10
        while any(tokens.check(token)[0] is not None for token in issued):  # every token so far has expired
            assert time.monotonic() < deadline
            term.pump(0.2)
        term.send(b"\x1ds")
        term.send(b"h")
        term.wait_text("sysrq: HELP", timeout=15)
        assert admin_posts(azure) == ["sysrq"]
    finally:
        term.close()


def test_a_connect_reads_nothing_twice_and_calls_connect_once(azure):
    from collections import Counter

    before = len(azure.requests)
    result = azure.cli("send", "-g", "prod-rg", "web1", "", "--expect", "login: $", "--timeout", "15")
    assert result.returncode == 0, result.stderr
    made = Counter((r["method"], r["url"].split("?")[0].lower()) for r in azure.requests[before:])
    assert made and max(made.values()) == 1, made  # the console's state, the VM, ... each once


BUSY_TEXT = "Another connection is currently in progress to this VM. Please try again later."


def test_a_busy_refusal_is_not_called_a_takeover(azure_with):
    azure = azure_with(gateway={"refuse_after_auth": "always", "refuse_reason": BUSY_TEXT})
    result = azure.cli("send", "-g", "prod-rg", "web1", "", "--wait-idle", "1")
    err = result.stderr.decode()
    assert result.returncode == 9, err
    assert "another connection to the console is in progress" in err and "took over" not in err
    assert "fix: someone (or another tool) is connecting" in err
