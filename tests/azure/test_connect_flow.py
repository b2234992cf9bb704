"""The Azure connect policy as a library call (azure/connect_flow.py), with no click: against the
emulator on loopback, its lines and wait recorded as plain calls."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pytest

from sercon.azure.client import arm_client
from sercon.azure.connect_flow import ConnectHooks, connect_vm
from sercon.errors import PreconditionFailed
from sercon.targets import AzureTarget
from sercon.transport.options import OpenOptions
from tests.azure.conftest import SUB


def test_a_deallocated_vm_is_a_definite_blocker_before_any_connect_call(azure):
    notes: list[str] = []
    waits: list[str] = []

    @contextlib.contextmanager
    def connecting(label: str) -> Iterator[None]:
        waits.append(label)
        yield

    with pytest.raises(PreconditionFailed) as raised:
        connect_vm(arm_client(azure.env), SUB, AzureTarget("dealloc1", "prod-rg"), azure.env, OpenOptions(),
                   ConnectHooks(notify=notes.append, connecting=connecting))
    assert "deallocated" in raised.value.message and "--fix" in (raised.value.hint or "")
    assert waits == [] and notes == []
    assert not [r for r in azure.requests if "/serialports/0/connect" in r["url"].lower()]


def test_the_connect_policy_opens_the_console_and_hands_back_the_warnings(azure):
    warned = []
    connected = connect_vm(arm_client(azure.env), SUB, AzureTarget("fw-closed", "prod-rg"), azure.env,
                           OpenOptions(), ConnectHooks(warning=warned.append))
    try:
        assert not connected.shared
        assert [row.name for row in warned] == [row.name for row in connected.warnings] == ["storage firewall"]
        assert connected.transport.suspects == [f"storage firewall: {warned[0].found}"]
        assert [r for r in azure.requests if "/serialports/0/connect" in r["url"].lower()]
    finally:
        connected.transport.close()
