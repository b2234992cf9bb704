"""The README's two set-up commands stay true: CI runs the test command word for word."""

from __future__ import annotations

import re

from tests.conftest import ROOT


def readme_commands() -> list[str]:
    return re.findall(r"```sh\n(.+?)\n```", (ROOT / "README.md").read_text(), re.S)


def test_ci_runs_the_readme_test_command_word_for_word():
    test_command = next(c for c in readme_commands() if "pytest" in c)
    assert test_command in (ROOT / ".ci" / "run").read_text().splitlines()


def test_the_test_command_works_with_or_without_sudo_and_updates_the_package_lists():
    test_command = next(c for c in readme_commands() if "pytest" in c)
    assert "apt-get update" in test_command
    assert not test_command.startswith("sudo ") and "|| echo sudo" in test_command


def test_the_try_it_command_leaves_sercon_on_the_path():
    try_it = next(c for c in readme_commands() if "sercon demo" in c)
    assert ". .venv/bin/activate && sercon demo" in try_it


def test_ci_fails_when_any_step_of_the_chain_fails(tmp_path):
    import subprocess

    test_command = next(c for c in readme_commands() if "pytest" in c)
    script = (ROOT / ".ci" / "run").read_text().replace(test_command, "true && false && true")  # e.g. ruff fails
    (tmp_path / ".ci").mkdir()
    (tmp_path / ".ci" / "run").write_text(script)
    done = subprocess.run(["bash", str(tmp_path / ".ci" / "run")], capture_output=True, timeout=30)
    assert done.returncode != 0, done.stdout


def test_the_try_it_command_installs_the_emulator_extra():
    try_it = next(c for c in readme_commands() if "sercon demo" in c)
    assert "pip install '.[emulator]'" in try_it


def _ci_with(tmp_path, test_command: str, mypy_status: int):
    """.ci/run in *tmp_path* with the README's command replaced and a stand-in mypy exiting *mypy_status*."""
    import subprocess

    readme_test = next(c for c in readme_commands() if "pytest" in c)
    (tmp_path / ".ci").mkdir()
    (tmp_path / ".ci" / "run").write_text((ROOT / ".ci" / "run").read_text().replace(readme_test, test_command))
    mypy = tmp_path / ".venv" / "bin" / "mypy"
    mypy.parent.mkdir(parents=True)
    mypy.write_text(f"#!/bin/sh\necho checked > {tmp_path / 'mypy-ran'}\nexit {mypy_status}\n")
    mypy.chmod(0o755)
    return subprocess.run(["bash", str(tmp_path / ".ci" / "run")], capture_output=True, timeout=30)


def test_ci_runs_the_type_checker_and_fails_when_it_does(tmp_path):
    done = _ci_with(tmp_path, "true", mypy_status=1)
    assert (tmp_path / "mypy-ran").exists(), done.stdout
    assert done.returncode != 0, done.stdout


def test_ci_passes_when_the_tests_and_the_types_do(tmp_path):
    done = _ci_with(tmp_path, "true", mypy_status=0)
    assert (tmp_path / "mypy-ran").exists() and done.returncode == 0, (done.stdout, done.stderr)


def test_a_test_failure_still_fails_ci_when_the_types_pass(tmp_path):
    done = _ci_with(tmp_path, "false", mypy_status=0)
    assert done.returncode != 0, done.stdout
