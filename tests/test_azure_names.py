"""One table of Azure name rules: the target parser (targets.py, at the command line and in a profile) and the
check before any ARM call (azure/resolve.py) accept the same names, and never refuse a name Azure accepts
(https://learn.microsoft.com/azure/azure-resource-manager/management/resource-name-rules)."""

from __future__ import annotations

import os

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from sercon.azure.resolve import check_names
from sercon.config import Config
from sercon.errors import UsageError
from sercon.targets import AzureTarget, resolve_target

DETERMINISTIC = settings(max_examples=400, deadline=None, derandomize=True, database=None)
NAME_CHARS = st.sampled_from("aZ09-_.()/ #?%\n\u00e9")
NAMES = st.one_of(st.text(max_size=90), st.text(NAME_CHARS, max_size=90),
                  st.integers(0, 100).flatmap(lambda n: st.just("a" * n)))


def parser_accepts(spec: str) -> bool:
    try:
        target, _ = resolve_target(None, {"name": spec, "resource_group": "rg"}, {}, Config())
    except UsageError:
        return False
    return isinstance(target, AzureTarget)  # `-n /dev/ttyS0` names the device


def arm_check_accepts(spec: str) -> bool:
    name, slash, instance = spec.partition("/")
    try:
        check_names(AzureTarget(name=name, resource_group="rg", instance_id=instance if slash else None), "sub")
    except UsageError:
        return False
    return True


@DETERMINISTIC
@given(NAMES)
@example("a" * 81)
@example("-vm")
@example("vm/-1")
@example(".")
def test_the_target_parser_and_the_arm_check_agree_on_every_name(spec):
    assert parser_accepts(spec) == arm_check_accepts(spec), spec


@DETERMINISTIC
@given(st.binary(max_size=90))
def test_they_agree_on_any_bytes_a_command_line_can_hold(data):
    spec = os.fsdecode(data)  # as Python gives argv on POSIX: undecodable bytes as surrogates
    assert parser_accepts(spec) == arm_check_accepts(spec), data


@pytest.mark.parametrize("spec", ["a" * 64, "web1", "web-1.prod", "my_vm", "vmss/0", "flex/flex_1a2b3c4d", "A9"])
def test_names_azure_accepts_are_accepted_by_both(spec):
    assert parser_accepts(spec) and arm_check_accepts(spec)


@pytest.mark.parametrize("spec", ["", "-vm", ".", "..", "vm name", "vm#1", "vm?x=1", "vm%2f", "a" * 81, "vm\n",
                                  "set/", "/id", "set/id/x"])
def test_names_no_azure_vm_can_have_are_refused_by_both(spec):
    assert not parser_accepts(spec) and not arm_check_accepts(spec)


@pytest.mark.parametrize("group", ["rg", "a" * 90, "rg-(test)_1.x", "gruppe-\u00fc"])
def test_resource_groups_azure_accepts_pass_the_check(group):
    check_names(AzureTarget(name="vm", resource_group=group), "sub")
