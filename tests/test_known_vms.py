"""The VM-name cache a Tab reads: whatever bytes the file holds, a list of valid names, never an error."""

from __future__ import annotations

import json
import os
import tempfile
from types import SimpleNamespace

from hypothesis import given, settings
from hypothesis import strategies as st

from sercon.azure.known_vms import FILE, KINDS, known, remember
from sercon.azure_names import valid

DETERMINISTIC = settings(max_examples=200, deadline=None, derandomize=True, database=None)
TEXT = st.one_of(st.text(max_size=12), st.sampled_from(["web1", "rg", "s", "a\nplain,x", "set1"]), st.none(),
                 st.integers())
ENTRIES = st.lists(st.dictionaries(st.sampled_from(["subscription", "resource_group", "name", "instance_id", "arm"]),
                                   TEXT), max_size=4)


@DETERMINISTIC
@given(st.one_of(st.binary(max_size=2048), ENTRIES.map(lambda entries: json.dumps(entries).encode())))
def test_any_bytes_in_the_cache_read_as_valid_names_or_none(data):
    with tempfile.TemporaryDirectory() as home:
        folder = os.path.join(home, "sercon")
        os.mkdir(folder, 0o700)
        path = os.path.join(folder, FILE)
        with open(path, "wb") as file:
            file.write(data)
        os.chmod(path, 0o600)
        for entry in known({"XDG_CACHE_HOME": home}):
            assert all(valid(KINDS[key], entry[key]) for key in ("subscription", "resource_group", "name"))
            assert entry.get("instance_id") is None or valid(KINDS["instance_id"], entry["instance_id"])


def test_remember_keeps_the_newest_first_and_each_vm_once(tmp_path):
    environ = {"XDG_CACHE_HOME": str(tmp_path)}
    vms = [SimpleNamespace(subscription="s", resource_group="rg", name=f"vm{i}", instance_id=None) for i in range(3)]
    for vm in [*vms, vms[0]]:
        remember(environ, vm)
    assert [entry["name"] for entry in known(environ)] == ["vm0", "vm2", "vm1"]
    assert json.loads((tmp_path / "sercon" / FILE).read_text())[0]["arm"] == ""
    remember({**environ, "SERCON_ARM_ENDPOINT": "https://127.0.0.1:1"}, vms[1])  # seen through an emulator now
    assert [entry["name"] for entry in known(environ)] == ["vm0", "vm2"]
