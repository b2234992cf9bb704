"""VM names complete from the ones sercon resolved before: a small private cache, no Azure call at a Tab."""

from __future__ import annotations

import json
import stat
import subprocess

from tests.conftest import SERCON


def values(azure, words: list[str], **env: str | None) -> list[str]:
    environ = {**azure.env, "_SERCON_COMPLETE": "bash_complete", "COMP_WORDS": " ".join(words),
               "COMP_CWORD": str(len(words) - 1), **env}
    environ = {key: value for key, value in environ.items() if value is not None}
    result = subprocess.run(SERCON, capture_output=True, text=True, env=environ, timeout=30)
    assert result.returncode == 0 and result.stderr == "", result.stderr
    return [line.split(",", 1)[1] for line in result.stdout.splitlines() if line.startswith("plain,")]


def test_a_vm_sercon_resolved_completes_without_asking_azure(azure):
    assert "web1" not in values(azure, ["sercon", "connect", ""])  # nothing resolved yet
    assert azure.cli("nmi", "--yes", "-g", "prod-rg", "web1").returncode == 0
    assert azure.cli("sysrq", "h", "set1/0").returncode == 0  # a scale-set instance, found by its name
    calls = len(azure.requests)
    assert values(azure, ["sercon", "connect", "we"]) == ["web1"]
    assert values(azure, ["sercon", "nmi", "se"]) == ["set1/0"]
    assert values(azure, ["sercon", "doctor", "-g", ""]) == ["prod-rg"]
    assert values(azure, ["sercon", "doctor", "-g", "other-rg", "-n", ""]) == []  # none known in that group
    assert set(values(azure, ["sercon", "doctor", "-n", ""])) == {"web1", "set1"}
    assert len(azure.requests) == calls  # completing called nothing
    assert values(azure, ["sercon", "connect", "we"], SERCON_ARM_ENDPOINT=None) == []  # an emulator's VMs stay its own
    assert azure.cli("doctor", "-g", "other-rg", "dup").returncode == 0  # doctor resolves too
    assert values(azure, ["sercon", "doctor", "-g", "other-rg", "-n", ""]) == ["dup"]

    folder = azure.home / "cache" / "sercon"
    cache = next(folder.glob("vm-names.json"))
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700 and stat.S_IMODE(cache.stat().st_mode) == 0o600
    assert [p.name for p in folder.iterdir() if p.name.startswith(".")] == []  # no temporary file left behind


def test_a_cache_that_is_not_sercons_own_offers_nothing(azure):
    assert azure.cli("nmi", "--yes", "-g", "prod-rg", "web1").returncode == 0
    cache = next((azure.home / "cache" / "sercon").glob("vm-names.json"))
    entries = json.loads(cache.read_text())
    cache.write_text(json.dumps(entries + [{"subscription": "s", "resource_group": "rg", "name": "evil\nplain,x"}]))
    cache.chmod(0o600)
    offered = values(azure, ["sercon", "connect", ""])
    assert "web1" in offered and not any("evil" in v or v == "x" for v in offered)  # one line, one name
    cache.chmod(0o666)  # anyone could have written it: not read
    assert "web1" not in values(azure, ["sercon", "connect", ""])
    cache.chmod(0o600)
    cache.write_text("{not json")
    assert "telnet://" in values(azure, ["sercon", "connect", ""])
    assert azure.cli("nmi", "--yes", "-g", "prod-rg", "web1").returncode == 0  # a broken cache is written anew
    assert "web1" in values(azure, ["sercon", "connect", ""])
