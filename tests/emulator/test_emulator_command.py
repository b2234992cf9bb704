"""`sercon emulator --config world.json` in the foreground, used by a second sercon."""

from __future__ import annotations

import json
import os
import select
import shlex
import signal
import subprocess
import time
from pathlib import Path

import pytest
import requests

from tests.conftest import SERCON, cli_env, run_cli

CLIENT_KEYS = {"AZURE_AUTHORITY_HOST", "SERCON_ARM_ENDPOINT", "AZURE_TENANT_ID", "AZURE_CLIENT_ID",
               "AZURE_CLIENT_SECRET", "AZURE_SUBSCRIPTION_ID", "REQUESTS_CA_BUNDLE", "SSL_CERT_FILE"}


def parse_exports(lines: list[str]) -> dict[str, str]:
    env = {}
    for line in lines:
        assert line.startswith("export "), line
        key, _, value = line[len("export "):].strip().partition("=")
        env[key] = shlex.split(value)[0]
    return env


def start(tmp_path: Path, *extra: str) -> tuple[subprocess.Popen, dict[str, str]]:
    world = tmp_path / "world.json"
    world.write_text(json.dumps({"subscriptions": [{"id": "sub-x", "resource_groups": {"rg": {"vms": [
        {"name": "box"}]}}}]}))
    proc = subprocess.Popen([*SERCON, "emulator", "--config", str(world), *extra], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=cli_env())
    out = b""
    deadline = time.monotonic() + 30
    while out.count(b"\n") < len(CLIENT_KEYS) + 1:
        ready, _, _ = select.select([proc.stdout], [], [], max(0.0, deadline - time.monotonic()))
        chunk = os.read(proc.stdout.fileno(), 65536) if ready else b""
        if not chunk:
            proc.kill()
            pytest.fail(f"printed only {out!r}; stderr: {proc.communicate()[1]}")
        out += chunk
    lines = out.decode().splitlines()
    return proc, parse_exports(lines)


def stop(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGTERM)
    proc.wait(10)
    assert proc.returncode == 0


def test_emulator_command_prints_a_working_environment(tmp_path):
    proc, env = start(tmp_path, "--state-dir", str(tmp_path / "state"))
    try:
        assert set(env) == CLIENT_KEYS | {"SERCON_EMULATOR_SECRET"}
        assert (tmp_path / "state" / "tls" / "server.key").stat().st_mode & 0o777 == 0o600
        result = run_cli("doctor", "--json", "box", env=cli_env(**env, HOME=str(tmp_path)))
        assert result.returncode == 0, result.stderr
        assert all(row["status"] == "ok" for row in json.loads(result.stdout)["checks"])
        hook = f"{env['SERCON_ARM_ENDPOINT']}/_emulator/bootlog/box"
        assert requests.post(hook, data="x", verify=env["REQUESTS_CA_BUNDLE"], timeout=10).status_code == 401
        assert requests.post(hook, data="x", verify=env["REQUESTS_CA_BUNDLE"], timeout=10,
                             headers={"X-Sercon-Emulator-Secret": env["SERCON_EMULATOR_SECRET"]}).status_code == 200
    finally:
        stop(proc)


def test_each_run_has_its_own_secrets(tmp_path):
    secrets = []
    for run in ("one", "two"):
        (tmp_path / run).mkdir()
        proc, env = start(tmp_path / run)
        stop(proc)
        secrets.append((env["AZURE_CLIENT_SECRET"], env["SERCON_EMULATOR_SECRET"]))
    assert secrets[0][0] != secrets[1][0] and secrets[0][1] != secrets[1][1]
    assert "emulator-client-secret" not in {s for pair in secrets for s in pair}


def test_env_file_is_private_and_sourceable(tmp_path):
    env_file = tmp_path / "emu.env"
    env_file.write_text("stale content that must go\n")
    env_file.chmod(0o644)
    proc, printed = start(tmp_path, "--env-file", str(env_file))
    try:
        assert env_file.stat().st_mode & 0o777 == 0o600
        sourced = subprocess.run(["sh", "-c", f". {shlex.quote(str(env_file))} && env"], capture_output=True,
                                 text=True, check=True, env={"PATH": "/usr/bin:/bin"}).stdout
        values = dict(line.partition("=")[::2] for line in sourced.splitlines())
        assert {key: values.get(key) for key in printed} == printed
        assert "stale" not in env_file.read_text()
    finally:
        stop(proc)


@pytest.mark.parametrize("content, what", [
    ('{"subscriptions": [', "is not JSON"),
    ("[1, 2]", "must hold a JSON object"),
    ('{"gateway": {"binary_input": "maybe"}}', "binary_input must be one of"),
    ('{"principals": [{"client_id": "a", "colour": "red"}]}', "a principal has an unknown key 'colour'"),
    ('{"principals": [{"secret": "s"}]}', "a required key 'client_id' is missing"),
    ('{"role_assignments": [{"principal": "*"}]}', "a role assignment lacks 'scope' and 'actions'"),
    ('{"subscriptions": [{"resource_groups": {}}]}', "a required key 'id' is missing"),
    ('{"subscriptions": [{"id": "s", "resource_groups": {"rg": {"vms": [{"password": "x"}]}}}]}',
     "a required key 'name' is missing"),
    ('{"token_lifetime": "an hour"}', "token_lifetime"),
    ('{"subscriptions": {"id": "s"}}', "subscriptions"),
    ('{"users": [{"name": "x"}]}', "a required key 'username' is missing"),
    (b'\xff\xfe{}', "not UTF-8"),
])
def test_a_world_file_it_refuses_is_a_usage_error_that_says_what_is_wrong(tmp_path, content, what):
    world = tmp_path / "world.json"
    world.write_bytes(content if isinstance(content, bytes) else content.encode())
    result = run_cli("emulator", "--config", str(world), timeout=60)
    stderr = result.stderr.decode()
    assert result.returncode == 2, stderr
    assert f"world file {world}" in stderr and what in stderr and "\n  fix: " in stderr, stderr
    assert "unexpected error" not in stderr and "Traceback" not in stderr
