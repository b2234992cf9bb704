"""Shell completion: TARGET completes profiles, serial devices, URL schemes, known VMs and files; options
their choices. Through click's real protocol (the environment the scripts set), and a real bash with
the checked-in script sourced."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pexpect
import pytest

from tests.conftest import ROOT, SERCON, cli_env

PROFILES = '[profiles.board]\ndevice = "/dev/ttyUSB0"\n[profiles.web]\nresource_group = "prod-rg"\nname = "web1"\n'


def complete(words: list[str], **env: str) -> list[tuple[str, str]]:
    """(type, value) of each completion bash's script would get for the last word of *words*."""
    environ = cli_env(_SERCON_COMPLETE="bash_complete", COMP_WORDS=" ".join(words), COMP_CWORD=str(len(words) - 1),
                      **env)
    result = subprocess.run(SERCON, capture_output=True, text=True, env=environ, timeout=30)
    assert result.returncode == 0 and result.stderr == "", result.stderr
    return [tuple(line.split(",", 1)) for line in result.stdout.splitlines() if line]


def values(words: list[str], **env: str) -> list[str]:
    return [value for kind, value in complete(words, **env) if kind == "plain"]


@pytest.fixture
def config(tmp_path) -> dict[str, str]:
    path = tmp_path / "config.toml"
    path.write_text(PROFILES)
    return {"SERCON_CONFIG": str(path), "XDG_CACHE_HOME": str(tmp_path / "cache")}


@pytest.mark.parametrize("command", ["connect", "doctor", "sysrq h", "nmi", "log", "rescue"])
def test_target_completes_profiles_and_url_schemes(config, command):
    offered = values(["sercon", *command.split(), ""], **config)
    assert {"board", "web", "telnet://", "socket://", "rfc2217://"} <= set(offered), offered
    assert values(["sercon", *command.split(), "bo"], **config) == ["board"]
    assert values(["sercon", *command.split(), "tel"], **config) == ["telnet://"]


def test_send_completes_a_target_first_then_nothing(config):
    assert "board" in values(["sercon", "send", ""], **config)
    assert "board" in values(["sercon", "send", "-t", ""], **config)
    assert values(["sercon", "send", "board", "bo"], **config) == []  # TEXT now: nothing to guess


@pytest.mark.parametrize("word", ["/tm", "./dev", "../x", "~/"])
def test_a_path_falls_back_to_the_shells_own_file_completion(config, word):
    assert complete(["sercon", "connect", word], **config) == [("file", word)]


def test_device_paths_complete_serial_devices_only(config):
    from serial.tools import list_ports

    ports = sorted(p.device for p in list_ports.comports() if p.device.startswith("/dev/tty"))
    by_id = sorted(str(p) for p in Path("/dev/serial/by-id").glob("*")) if Path("/dev/serial/by-id").is_dir() else []
    offered = complete(["sercon", "connect", "/dev/tty"], **config)
    if ports:
        assert sorted(v for _, v in offered) == ports and {k for k, _ in offered} == {"plain"}
    else:  # no serial device here: bash's own completion of the path
        assert offered == [("file", "/dev/tty")]
    assert ("plain", "/dev/tty1") not in offered  # a virtual console is no serial device
    if ports or by_id:
        assert set(values(["sercon", "connect", "/dev/"], **config)) == {*ports, *by_id}
        assert set(ports + by_id) <= set(values(["sercon", "connect", ""], **config))


def test_a_broken_config_completes_what_it_can_and_prints_no_error(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text("[profiles.board\n")
    assert "telnet://" in values(["sercon", "connect", ""], SERCON_CONFIG=str(path))


@pytest.mark.parametrize(("words", "wanted"), [
    (["sercon", "connect", "--parity", ""], {"none", "even", "odd", "mark", "space"}),
    (["sercon", "connect", "--resize", ""], {"auto", "off"}),
    (["sercon", "send", "--eol", ""], {"cr", "lf", "crlf"}),
    (["sercon", "rescue", "--mode", "rd"], {"rd.break"}),
    (["sercon", "demo", "--resize", ""], {"auto", "off"}),
    (["sercon", "completion", ""], {"bash", "zsh", "fish"}),
    (["sercon", "connect", "-b", "1152"], {"115200"}),
])
def test_options_with_fixed_choices_complete_them(config, words, wanted):
    assert set(values(words, **config)) == wanted


def test_qmp_completes_files(config):
    assert complete(["sercon", "nmi", "--qmp", "/tmp/v"], **config) == [("file", "/tmp/v")]


# -- a real bash --------------------------------------------------------------------------------------

@pytest.fixture
def bash(tmp_path, config):
    """An interactive bash with completions/sercon.bash sourced and `sercon` on its PATH."""
    if shutil.which("bash") is None:
        pytest.skip("no bash")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    wrapper = bin_dir / "sercon"
    wrapper.write_text(f"#!/bin/sh\nexec {' '.join(SERCON)} \"$@\"\n")
    wrapper.chmod(0o755)
    (tmp_path / "work").mkdir()
    (tmp_path / "work" / "my-serial-link").touch()
    env = cli_env(**config, PATH=f"{bin_dir}:{os.environ['PATH']}", PS1="$ ", INPUTRC="/dev/null")
    child = pexpect.spawn("bash", ["--norc", "--noprofile", "-i"], env=env, cwd=str(tmp_path / "work"),
                          timeout=20, encoding="utf-8", dimensions=(24, 200))
    child.expect_exact("$ ")
    child.sendline(f"source {ROOT / 'completions' / 'sercon.bash'}; echo sourced")
    child.expect_exact("sourced")
    child.expect_exact("$ ")
    yield child
    child.close(force=True)


def tab(child: pexpect.spawn, typed: str, shown: str) -> None:
    """Type *typed*, press Tab, and wait until bash shows *shown* on the line; then clear the line."""
    child.send(typed + "\t")
    child.expect(re.escape(shown))
    child.send("\x15")  # Ctrl-U: a clean line for the next one


def test_bash_completes_a_profile(bash):
    tab(bash, "sercon connect boa", "board ")


def test_bash_completes_files_for_a_path(bash):
    tab(bash, "sercon connect ./my", "./my-serial-link ")


def test_bash_completes_a_url_scheme(bash):
    tab(bash, "sercon connect rfc", "rfc2217://")


def test_bash_completes_an_options_choices(bash):
    tab(bash, "sercon connect --flow rt", "rtscts ")
