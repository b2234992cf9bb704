"""ARM's retries as the user sees them: one line per retry, on a line of its own beside the spinner,
the right words when nothing answered, and a documented exit status when throttling never ends."""

from __future__ import annotations

import re
import socket

from tests.conftest import Terminal

THROTTLED_ONCE = [{"match": "/subscriptions/", "status": 429, "retry_after": 1, "code": "TooManyRequests",
                   "count": 2}]


def test_calls_throttled_together_say_so_once(azure_with):
    """connect reads the console's state and the VM at the same time: both are throttled (ARM throttles
    a subscription, not a call), and both retry, but the user reads one line."""
    azure = azure_with(faults=THROTTLED_ONCE)
    result = azure.cli("send", "-g", "prod-rg", "web1", "", "--expect", "login: $", "--timeout", "15")
    assert result.returncode == 0, result.stderr
    assert sum(r["url"].startswith("/subscriptions/") for r in azure.requests[:2]) == 2  # two in flight, both 429
    assert result.stderr.count(b"Azure answered HTTP 429; retrying in 1 s") == 1, result.stderr


def test_a_retry_line_never_shares_a_line_with_the_spinner(azure_with):
    azure = azure_with(faults=[{"match": "serialPorts/0/connect", "status": 429, "retry_after": 1,
                                "code": "TooManyRequests", "count": 1}])
    term = Terminal(["connect", "-g", "prod-rg", "web1"], env=azure.env, cols=120, rows=30)
    try:
        term.connected()
        lines = term.text().splitlines()
        assert "sercon: Azure answered HTTP 429; retrying in 1 s" in lines, term.text()
        assert not any("connecting to" in line and "sercon:" in line for line in lines), term.text()
        raw = bytes(term.raw)
        notice = raw.index(b"sercon: Azure answered")
        assert raw[:notice].endswith(b"\r\x1b[K"), raw[notice - 80:notice]  # the spinner's line cleared first
        assert b"connecting to" in raw[notice:], "the spinner goes on after the notice"
    finally:
        term.close()


def test_when_nothing_answers_the_host_is_named_not_azure(azure):
    with socket.socket() as closed:  # a port nobody listens on
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    endpoint = f"https://127.0.0.1:{port}"
    result = azure.cli("doctor", "--json", "-g", "prod-rg", "web1", SERCON_ARM_ENDPOINT=endpoint)
    text = result.stderr.decode()
    assert "Azure answered" not in text, text
    assert re.search(rf"the connection to 127\.0\.0\.1:{port} failed \(ConnectionError\); retrying in", text), text
    assert result.returncode == 7, text


def test_a_connect_that_stays_throttled_exits_9_and_says_when_to_try_again(azure_with):
    azure = azure_with(faults=[{"match": "serialPorts/0/connect", "status": 429, "retry_after": 1,
                                "code": "TooManyRequests", "count": -1}])
    for command in (["send", "-g", "prod-rg", "web1", "", "--timeout", "5"], ["nmi", "--yes", "-g", "prod-rg", "web1"]):
        result = azure.cli(*command)
        text = result.stderr.decode()
        assert result.returncode == 9, text
        assert "sercon: error: Azure Resource Manager is throttling" in text and "HTTP 429" in text, text
        assert "\n  fix: try again in 1 s (Azure's Retry-After)" in text, text
