"""sercon's private folders: made 0700, the user's own, and never through a planted symbolic link."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from sercon.errors import SerconError
from sercon.paths import runtime_dir
from sercon.private_files import write


def test_the_runtime_folder_is_made_private(tmp_path):
    folder = runtime_dir({"XDG_RUNTIME_DIR": str(tmp_path)})
    assert folder == tmp_path / "sercon" and stat.S_IMODE(folder.stat().st_mode) == 0o700


def test_a_symlink_planted_as_the_runtime_folder_is_refused_and_its_target_left_alone(tmp_path):
    target = tmp_path / "someone-elses"  # /etc, say, for root's sercon under sudo
    target.mkdir(mode=0o755)
    os.chmod(target, 0o755)
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "sercon").symlink_to(target)
    with pytest.raises(SerconError) as raised:
        runtime_dir({"XDG_RUNTIME_DIR": str(tmp_path / "run")})
    assert "symbolic link" in raised.value.message and raised.value.hint
    assert stat.S_IMODE(target.stat().st_mode) == 0o755


def test_a_symlink_planted_as_the_token_cache_folder_is_refused(tmp_path):
    target = tmp_path / "target"
    target.mkdir(mode=0o755)
    os.chmod(target, 0o755)
    (tmp_path / "cache").symlink_to(target)
    with pytest.raises(SerconError):
        write(Path(tmp_path / "cache" / "msal_token_cache.json"), "{}")
    assert stat.S_IMODE(target.stat().st_mode) == 0o755 and not (target / "msal_token_cache.json").exists()


def test_a_broken_symlink_or_a_file_as_the_runtime_folder_is_a_clear_error(tmp_path):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "sercon").symlink_to(tmp_path / "nowhere")
    with pytest.raises(SerconError) as raised:
        runtime_dir({"XDG_RUNTIME_DIR": str(tmp_path / "run")})
    assert raised.value.hint
    (tmp_path / "run2").mkdir()
    (tmp_path / "run2" / "sercon").write_text("")
    with pytest.raises(SerconError):
        runtime_dir({"XDG_RUNTIME_DIR": str(tmp_path / "run2")})


def test_a_runtime_folder_that_cannot_be_made_is_the_user_s_error_not_a_bug():
    """XDG_RUNTIME_DIR naming a file: exit 2 with its fix (docs/exit-codes.md keeps 1 for bugs)."""
    from tests.conftest import cli_env, run_cli

    result = run_cli("send", "loop://", "hi", env=cli_env(XDG_RUNTIME_DIR="/etc/passwd"))
    assert result.returncode == 2, result.stderr
    assert b"XDG_RUNTIME_DIR" in result.stderr.partition(b"fix:")[2]
