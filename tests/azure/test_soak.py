"""A bounded soak: output streams through the emulated gateway while the network is cut and restored
and sends arrive through the control socket. The log must have every line once, in order, with every
gap at a logged lost/reconnected event (a serial line drops what nobody is attached to hear)."""

from __future__ import annotations

import json
import re
import subprocess
import time

import pytest

from tests.conftest import SERCON, Terminal

SOAK_SECONDS = 50
CUT_EVERY = 9.0
SEND_EVERY = 2.5
# The VM prints numbered lines forever and echoes what it is sent (cat), so both directions show.
PRINTER = ["sh", "-c", "stty -echo; (i=0; while :; do echo line-$i; i=$((i+1)); sleep 0.01; done) & exec cat"]


@pytest.mark.slow
def test_soak_cuts_and_sends_lose_nothing_unannounced(azure_with, tmp_path):
    world = {"subscriptions": [{"id": "00000000-0000-4000-8000-0000000000a1", "resource_groups": {
        "rg": {"vms": [{"name": "soak", "password": "pw", "command": PRINTER}]}}}]}
    azure = azure_with(**world)
    log = tmp_path / "soak.jsonl"
    term = Terminal(["connect", "-g", "rg", "soak", "--log", str(log), "--log-format", "jsonl"], env=azure.env,
                    cols=120, rows=30)
    sent: list[str] = []
    cuts = 0
    try:
        term.connected()
        started = next_cut = next_send = time.monotonic()
        next_cut += CUT_EVERY
        while (now := time.monotonic()) - started < SOAK_SECONDS:
            if now >= next_cut:
                azure.hook("gateway/soak/cut")
                cuts += 1
                next_cut = now + CUT_EVERY
            if now >= next_send:
                word = f"sent-{len(sent)}"
                result = subprocess.run([*SERCON, "send", "-g", "rg", "soak", word], env=azure.env,
                                        capture_output=True, timeout=60)
                if result.returncode == 0:  # during a cut the session is away: send says so, exit 7
                    sent.append(word)
                else:
                    assert result.returncode == 7, result.stderr
                next_send = time.monotonic() + SEND_EVERY
            term.pump(0.05)
        term.send(b"\x1dq")
        assert term.wait_exit(20) == 0
    finally:
        term.close()
    segments = read_segments(log)
    assert cuts >= 4 and len(segments) >= cuts  # one more segment after each reconnect
    previous = -1
    for index, text in enumerate(segments):
        numbers = [int(n) for n in re.findall(r"(?m)^line-(\d+)\r?$", text)]
        assert numbers, f"segment {index} has no complete line"
        assert numbers[0] > previous, "a line came twice, or out of order, across a reconnect"
        gaps = [(a, b) for a, b in zip(numbers, numbers[1:], strict=False) if b != a + 1]
        assert not gaps, f"lines lost without a lost/reconnected event in segment {index}: {gaps[:3]}"
        previous = numbers[-1]
    echoed = "".join(segments)
    missing = [word for word in sent if not re.search(rf"(?m)^{word}\r?$", echoed)]
    assert sent and not missing, f"sends that did not arrive: {missing} of {len(sent)}"


def read_segments(log) -> list[str]:
    """The console's output, cut at each lost/reconnected event (the only places a gap is allowed)."""
    segments, current = [], []
    for line in log.read_text().splitlines():
        record = json.loads(line)
        if record.get("event") in ("lost", "reconnected"):
            segments.append("".join(current))
            current = []
        elif record.get("dir") == "rx":
            current.append(record.get("data", ""))
    segments.append("".join(current))
    return [s for s in segments if s]
