"""Fuzz the parsers of user and server input: they answer with sercon's own errors, never a traceback.

Deterministic in CI (derandomize, no example database). Known defects in modules this file only
reads were kept as strict xfails naming a minimal input until each was fixed; they now pass.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sercon.azure.resolve import azure_cli_default_subscription, check_names, resource_group_of
from sercon.azure_names import RULES
from sercon.config import PROFILE_KEYS, Config, load_config, toml_module
from sercon.errors import SerconError, UsageError
from sercon.targets import AZURE_KEYS, AzureTarget, SerialTarget, resolve_target, split_send_args

DETERMINISTIC = settings(max_examples=300, deadline=None, derandomize=True, database=None)
TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=12)  # TOML cannot hold a lone surrogate
SPECS = st.one_of(TEXT, st.sampled_from(["", "-", "/dev/ttyS0", "./tty", "COM3", "loop://", "telnet://h:1", "vm",
                                         "set/0", "vm\n", "board", "boardd", "/subscriptions/", "a/b/c"]))


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


def only_sercon_errors(func, *args):
    """Call *func*; a SerconError is an answer, anything else escapes and fails the test."""
    try:
        return func(*args)
    except SerconError as exc:
        assert exc.message
        return exc


# -- the config file --------------------------------------------------------------------------------

def toml_string(text: str) -> str:
    """A TOML basic string: quotes, backslashes and control characters escaped."""
    escaped = "".join(f"\\u{ord(c):04x}" if ord(c) < 0x20 or ord(c) == 0x7F else "\\" + c if c in '"\\' else c
                      for c in text)
    return f'"{escaped}"'


def toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf") if math.isinf(value) else repr(value)
    if isinstance(value, str):
        return toml_string(value)
    if isinstance(value, list):
        return "[" + ", ".join(map(toml_value, value)) + "]"
    assert isinstance(value, dict)
    return "{" + ", ".join(f"{toml_string(k)} = {toml_value(v)}" for k, v in value.items()) + "}"


SCALARS = st.one_of(TEXT, st.integers(-(2**63), 2**63 - 1), st.floats(), st.booleans())
VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
                      max_leaves=6)
TYPED = {  # values of the right type, many of them wrong all the same
    str: st.one_of(TEXT, SPECS, st.sampled_from(["even", "O", "rtscts", "none", "ctrl-t", "AzureUSGovernment"])),
    int: st.one_of(st.integers(-(2**63), 2**63 - 1), st.sampled_from([0, 5, 7, 8, 9, 9600, 115200]),
                   st.sampled_from([8, 115200])),
    (int, float): st.one_of(st.sampled_from([1, 1.5, 2, 3, 0]), st.floats(), st.just(1)),
    bool: st.booleans(),
    (str, int): st.one_of(st.sampled_from(["16MiB", "64KiB", "1k", "0", "-1MiB", "nan", "1e3G"]), TEXT,
                          st.integers(-(2**63), 2**63 - 1)),  # journal_size: a size or a number of bytes
}
WELL_TYPED = st.lists(st.sampled_from(sorted(PROFILE_KEYS)).flatmap(
    lambda key: st.tuples(st.just(key), TYPED[PROFILE_KEYS[key]])), max_size=6).map(dict)
ANY_ITEMS = st.lists(st.one_of(
    st.tuples(st.sampled_from(sorted(PROFILE_KEYS)), VALUES),  # the wrong type
    st.tuples(TEXT, VALUES),  # an unknown key
), max_size=3).map(dict)
NAMES = st.one_of(TEXT, st.sampled_from(["board", "vm", "/dev/ttyS0"]))
LOADABLE = st.fixed_dictionaries(  # its profiles then go through resolve_target
    {"profiles": st.dictionaries(NAMES, st.one_of(*[WELL_TYPED] * 6, ANY_ITEMS), min_size=1, max_size=4)},
    optional={"default": st.one_of(SPECS, NAMES)})
HOSTILE = st.fixed_dictionaries(
    {}, optional={"default": SPECS | VALUES, "profiles": st.dictionaries(NAMES, VALUES) | VALUES, "colour": VALUES})
DOCUMENTS = st.integers(0, 3).flatmap(lambda n: HOSTILE if n == 3 else LOADABLE)  # mostly loadable


def check_loaded(path: Path) -> None:
    """A config loads or says why; every name in a loaded one resolves or says why."""
    config = only_sercon_errors(load_config, path)
    if isinstance(config, SerconError):
        assert isinstance(config, UsageError) and str(path) in config.message
        return
    for spec in [None, *config.profiles, config.default]:
        result = only_sercon_errors(resolve_target, spec, {}, {}, config)
        if not isinstance(result, SerconError):
            target, prefs = result
            assert isinstance(target, SerialTarget | AzureTarget) and isinstance(prefs, dict)


@DETERMINISTIC
@given(st.binary(max_size=400))
def test_config_from_any_bytes(folder, raw):
    path = folder / "bytes.toml"
    path.write_bytes(raw)
    check_loaded(path)  # not UTF-8: a UsageError too
    path.write_text(raw.decode("utf-8", errors="replace"), encoding="utf-8")
    check_loaded(path)


@DETERMINISTIC
@given(st.lists(st.sampled_from([b"default = ", b"[profiles.b]\n", b"[profiles]\n", b"device = ", b"baud = ",
                                 b"stopbits = ", b'"/dev/ttyS0"', b"9600", b"1.5", b"nan", b"true", b"[1]",
                                 b"{a = 1}", b"\n", b"'", b'"', b"\xff", b"#"]) | st.binary(max_size=5), max_size=30))
def test_config_from_toml_like_fragments(folder, fragments):
    path = folder / "fragments.toml"
    path.write_text(b"".join(fragments).decode("utf-8", errors="replace"), encoding="utf-8")
    check_loaded(path)


@DETERMINISTIC
@given(DOCUMENTS)
def test_config_from_structured_documents(folder, document):
    text = "\n".join(f"{toml_string(key)} = {toml_value(value)}" for key, value in document.items())
    toml_module().loads(text)  # the generator writes valid TOML: what follows tests sercon, not the emitter
    path = folder / "structured.toml"
    path.write_text(text, encoding="utf-8")
    check_loaded(path)


def test_a_bool_is_no_number_of_stop_bits(folder):
    path = folder / "stopbits.toml"
    path.write_text('[profiles.b]\ndevice = "/dev/ttyS0"\nstopbits = true\n', encoding="utf-8")
    with pytest.raises(UsageError, match="wrong type"):
        load_config(path)


# -- targets ------------------------------------------------------------------------------------------

CONFIGS = st.sampled_from([
    Config(),
    Config(Path("/c.toml"), "board", {"board": {"device": "/dev/ttyS0", "baud": 9600},
                                       "vm": {"name": "web1", "resource_group": "rg"},
                                       "empty": {}, "self": {"device": "self"}}),
])
LINE_OPTIONS = {"baud": st.integers(), "databits": st.integers(), "stopbits": st.floats(), "parity": TEXT,
                "flow": TEXT, "instance_id": st.integers() | TEXT}
OPTIONS = st.dictionaries(st.sampled_from([*AZURE_KEYS, "target"]), st.none() | SPECS, max_size=3) | (
    st.fixed_dictionaries({}, optional=LINE_OPTIONS))


@DETERMINISTIC
@given(st.none() | SPECS, OPTIONS, st.dictionaries(st.just("SERCON_TARGET"), SPECS, max_size=1), CONFIGS)
def test_resolve_target_answers_any_string(spec, options, environ, config):
    result = only_sercon_errors(resolve_target, spec, options, environ, config)
    if not isinstance(result, SerconError):
        target, _ = result
        assert isinstance(target, SerialTarget | AzureTarget)
        if isinstance(target, AzureTarget):
            assert target.name and "/" not in target.name


@DETERMINISTIC
@given(st.lists(SPECS, max_size=4).map(tuple), OPTIONS, st.dictionaries(st.just("SERCON_TARGET"), SPECS, max_size=1),
       CONFIGS)
def test_split_send_args_answers_any_words(args, options, environ, config):
    result = only_sercon_errors(split_send_args, args, options, environ, config)
    if not isinstance(result, SerconError):
        spec, text = result
        assert (spec is None or isinstance(spec, str)) and isinstance(text, tuple)


@pytest.mark.parametrize("spec", ["vm\n", "set/id\n",
                                  "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm\n"])
def test_a_trailing_newline_is_no_vm_name(spec):
    with pytest.raises(UsageError):
        resolve_target(spec, {}, {}, Config())


# -- Azure resource IDs -------------------------------------------------------------------------------

def valid(kind: str) -> st.SearchStrategy[str]:
    return st.from_regex(RULES[kind][0], fullmatch=True)


@DETERMINISTIC
@given(valid("subscription"), valid("resource group"), valid("VM or scale-set name"), st.none() | valid("instance id"),
       st.sampled_from([str, str.lower, str.upper]))
def test_resource_ids_round_trip(subscription, group, name, instance, case):
    kind = (f"virtualMachineScaleSets/{name}/virtualMachines/{instance}" if instance is not None
            else f"virtualMachines/{name}")
    resource_id = case(f"/subscriptions/{subscription}/resourceGroups/{group}/providers/Microsoft.Compute/{kind}")
    target, _ = resolve_target(resource_id, {}, {}, Config())
    assert (target.subscription, target.resource_group, target.name, target.instance_id) == tuple(
        None if v is None else case(v) for v in (subscription, group, name, instance))
    assert resource_group_of(resource_id) == case(group)
    check_names(target, target.subscription)


SEGMENTS = st.one_of(TEXT, st.sampled_from(["subscriptions", "resourceGroups", "RESOURCEGROUPS", "providers",
                                            "Microsoft.Compute", "virtualMachines", "virtualMachineScaleSets",
                                            "", "s", "rg", "vm", "0", "a b", "x?y", "%2F"]))
RESOURCE_IDS = st.lists(SEGMENTS, max_size=10).map("/".join) | st.lists(SEGMENTS, max_size=10).map(
    lambda parts: "/" + "/".join(parts))


@DETERMINISTIC
@given(RESOURCE_IDS)
def test_resource_id_like_targets_answer(resource_id):
    result = only_sercon_errors(resolve_target, resource_id, {}, {}, Config())
    if isinstance(result, tuple) and isinstance(result[0], AzureTarget):
        target = result[0]
        only_sercon_errors(check_names, target, target.subscription or "s")


@DETERMINISTIC
@given(st.text(max_size=20), valid("subscription"), st.none() | st.text(max_size=20))
def test_check_names_refuses_with_a_usage_error(name, subscription, group):
    target = AzureTarget(name=name, resource_group=group)
    result = only_sercon_errors(check_names, target, subscription)
    if result is None:  # accepted: nothing in it can change the ARM path it becomes part of
        assert not re.search(r"[/?#%\s]", name + (group or ""))


@pytest.mark.parametrize("resource_id", [
    "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/..",
    "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachineScaleSets/ss/virtualMachines/.",
])
def test_a_dot_segment_is_no_azure_name(resource_id):
    with pytest.raises(UsageError):
        target, _ = resolve_target(resource_id, {}, {}, Config())
        check_names(target, target.subscription)


@DETERMINISTIC
@given(RESOURCE_IDS)
def test_resource_group_of_any_id(resource_id):
    assert isinstance(resource_group_of(resource_id), str)


@DETERMINISTIC
@given(VALUES | st.fixed_dictionaries({"subscriptions": st.lists(VALUES | st.fixed_dictionaries(
    {}, optional={"id": VALUES, "isDefault": st.booleans()}), max_size=3)}))
def test_azure_cli_profile_of_any_shape(folder, profile):
    (folder / "azureProfile.json").write_text(json.dumps(profile), encoding="utf-8")
    result = azure_cli_default_subscription({"AZURE_CONFIG_DIR": str(folder)})
    assert result is None or isinstance(result, str)


@DETERMINISTIC
@given(st.binary(max_size=200))
def test_azure_cli_profile_that_is_not_json(folder, raw):
    (folder / "azureProfile.json").write_bytes(b"\x00" + raw)  # never JSON: read as no default
    assert azure_cli_default_subscription({"AZURE_CONFIG_DIR": str(folder)}) is None
