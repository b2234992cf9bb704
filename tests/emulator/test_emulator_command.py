"""`sercon emulator --config world.json` in the foreground, used by a second sercon."""

from __future__ import annotations

import json
import signal
import subprocess

from tests.conftest import SERCON, cli_env, run_cli


def test_emulator_command_prints_a_working_environment(tmp_path):
    world = tmp_path / "world.json"
    world.write_text(json.dumps({"subscriptions": [{"id": "sub-x", "resource_groups": {"rg": {"vms": [
        {"name": "box"}]}}}]}))
    proc = subprocess.Popen([*SERCON, "emulator", "--config", str(world), "--state-dir", str(tmp_path / "state")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=cli_env(), text=True)
    try:
        env = {}
        while len(env) < 8:
            line = proc.stdout.readline()
            assert line.startswith("export "), (line, proc.stderr.read() if proc.poll() is not None else "")
            key, _, value = line[len("export "):].strip().partition("=")
            env[key] = value
        assert (tmp_path / "state" / "tls" / "server.key").stat().st_mode & 0o777 == 0o600
        result = run_cli("doctor", "--json", "box", env=cli_env(**env, HOME=str(tmp_path)))
        assert result.returncode == 0, result.stderr
        assert all(row["status"] == "ok" for row in json.loads(result.stdout)["checks"])
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(10)
    assert proc.returncode == 0
