"""Every private file sercon keeps (sign-in caches, the cache-name key, the VM names a Tab completes) is read
only when it is a plain file of the user's own that no one else may read or change, never through a symbolic
link, and written whole through a fresh private file renamed over it: nothing is ever written through a link."""

from __future__ import annotations

import json
import os
import stat
import threading
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sercon.azure.known_vms import FILE, known
from sercon.azure.login import LoginStore
from sercon.azure.msal_calls import cache_name_key
from sercon.errors import SerconError
from sercon.private_files import Refused, read, write

ACCOUNT = {"home_account_id": "a.b", "tenant": "t", "authority_host": "https://login.example", "username": "u"}


def cache_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "sercon"
    folder.mkdir(mode=0o700)
    return folder


def someone_elses(tmp_path: Path, text: str = "keep me") -> Path:
    """A file the link points at: /etc/passwd, say, for root's sercon under sudo."""
    target = tmp_path / "elsewhere"
    target.write_text(text)
    target.chmod(0o644)
    return target


def test_a_link_planted_as_the_cache_name_key_is_replaced_not_written_through(tmp_path):
    folder = cache_folder(tmp_path)
    target = someone_elses(tmp_path)
    (folder / "token-names.key").symlink_to(target)
    key = cache_name_key(folder)
    assert target.read_text() == "keep me" and len(key) == 64
    assert not (folder / "token-names.key").is_symlink()
    assert stat.S_IMODE((folder / "token-names.key").stat().st_mode) == 0o600
    assert cache_name_key(folder) == key  # the key read back is the one made


def test_a_link_planted_where_the_writer_puts_its_partial_file_is_not_written_through(tmp_path):
    folder = cache_folder(tmp_path)
    target = someone_elses(tmp_path)
    (folder / f".account.json.{os.getpid()}").symlink_to(target)
    LoginStore({"XDG_CACHE_HOME": str(tmp_path)}).save_account(ACCOUNT)
    assert target.read_text() == "keep me"
    assert json.loads((folder / "account.json").read_text()) == ACCOUNT


def test_an_account_record_behind_a_link_is_refused_with_a_fix(tmp_path):
    folder = cache_folder(tmp_path)
    target = tmp_path / "planted.json"
    target.write_text(json.dumps(ACCOUNT))
    target.chmod(0o600)
    (folder / "account.json").symlink_to(target)
    with pytest.raises(SerconError) as raised:
        LoginStore({"XDG_CACHE_HOME": str(tmp_path)}).account()
    assert "symbolic link" in raised.value.message and "sercon logout" in raised.value.hint


def test_a_fifo_as_the_vm_names_file_is_no_completion_and_no_hang(tmp_path):
    folder = cache_folder(tmp_path)
    os.mkfifo(folder / FILE, 0o600)
    answers: list[object] = []
    reader = threading.Thread(target=lambda: answers.append(known({"XDG_CACHE_HOME": str(tmp_path)})), daemon=True)
    reader.start()
    reader.join(timeout=10)
    if reader.is_alive():  # let the blocked open go before failing
        with open(folder / FILE, "wb"):
            pass
        reader.join()
        pytest.fail("known() waited for a writer on a FIFO")
    assert answers == [[]]


@settings(max_examples=60, deadline=None, derandomize=True, database=None)
@given(st.lists(st.binary(max_size=300), min_size=1, max_size=3))
def test_what_is_written_is_read_back_whole_private_and_with_nothing_beside_it(tmp_path_factory, contents):
    folder = tmp_path_factory.mktemp("home") / "sercon"
    for data in contents:
        write(folder / "cache.json", data)
        assert read(folder / "cache.json") == data
    assert os.listdir(folder) == ["cache.json"]
    assert stat.S_IMODE((folder / "cache.json").stat().st_mode) == 0o600
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700


@pytest.mark.parametrize("mode, problem", [(0o640, "can be read by other users"),
                                           (0o620, "can be changed by other users")])
def test_a_file_others_may_read_or_change_is_refused(tmp_path, mode, problem):
    path = cache_folder(tmp_path) / "cache.json"
    path.write_bytes(b"{}")
    path.chmod(mode)
    with pytest.raises(Refused) as raised:
        read(path)
    assert problem in raised.value.problem and raised.value.fix == f"chmod 600 {path}"
