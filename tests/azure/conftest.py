"""An emulated Azure for the tests: the project's own emulator on loopback over real TLS."""

from __future__ import annotations

import copy
import json
from importlib import resources

import pytest

from sercon_emulator.server import Emulator
from sercon_emulator.world import World
from tests.conftest import call_cli, cli_env, run_cli

SUB = "00000000-0000-4000-8000-0000000000a1"
SUB_DISABLED = "00000000-0000-4000-8000-0000000000b2"
ADMIN = "aaaaaaaa-0000-4000-8000-000000000001"
READER = "aaaaaaaa-0000-4000-8000-000000000002"
EUROPE_IPS = json.loads(resources.files("sercon.azure").joinpath(
    "data/serialconsole_ips.json").read_text())["geographies"]["Europe"]["ips"]

WORLD = {
    "page_size": 2,
    "operations": {"polls": 2, "retry_after": 0},  # long-running operations: two "InProgress", no waiting
    "principals": [
        {"client_id": ADMIN, "secret": "admin-secret-value", "name": "ci-bot", "object_id": "oid-admin"},
        {"client_id": READER, "secret": "reader-secret-value", "name": "reader", "object_id": "oid-reader"},
    ],
    "users": [{"username": "operator@example.com", "object_id": "oid-operator"}],
    "role_assignments": [
        {"principal": "oid-admin", "scope": "/", "actions": ["*"]},
        {"principal": "oid-operator", "scope": "/", "actions": ["*"]},
        {"principal": "oid-reader", "scope": "/", "actions": ["*/read"]},
    ],
    "subscriptions": [
        {"id": SUB, "name": "Production", "resource_groups": {
            "prod-rg": {
                "vms": [
                    {"name": "web1", "password": "web1-password",
                     "boot_log": "boot line 1\r\nboot line 2\r\nweb1 login: "},
                    {"name": "bytewise", "password": "pw", "frame_bytes": 1},
                    {"name": "dup"}, {"name": "win1", "os": "Windows"}, {"name": "stopped1", "power": "stopped"},
                    {"name": "dealloc1", "power": "deallocated"}, {"name": "nodiag", "boot_diagnostics": "off"},
                    {"name": "keysonly", "disable_password_authentication": True},
                    {"name": "fw-open", "boot_diagnostics": "custom", "storage_account": "diagopen"},
                    {"name": "fw-closed", "boot_diagnostics": "custom", "storage_account": "diagclosed"},
                    {"name": "fw-ok", "boot_diagnostics": "custom", "storage_account": "diagallowed",
                     "location": "northeurope"},
                    {"name": "fw-nogeo", "boot_diagnostics": "custom", "storage_account": "diagclosed",
                     "location": "italynorth"},
                    {"name": "nokey", "boot_diagnostics": "custom", "storage_account": "diagnokey"},
                ],
                "scale_sets": [
                    {"name": "set1", "instances": [{"id": "0"}, {"id": "1", "power": "deallocated"}]},
                    {"name": "flex1", "orchestration": "Flexible", "instances": [{"id": "a1b2"}]},
                    {"name": "setnodiag", "boot_diagnostics": "off", "instances": [{"id": "0"}]},
                ],
            },
            "other-rg": {
                "vms": [{"name": "dup"}],
                "storage_accounts": [
                    {"name": "diagopen"},
                    {"name": "diagclosed", "default_action": "Deny", "ip_rules": ["203.0.113.5"]},
                    {"name": "diagallowed", "default_action": "Deny", "ip_rules": EUROPE_IPS},
                    {"name": "diagnokey", "allow_shared_key_access": False},
                ],
            },
            "locked-rg": {"vms": [{"name": "lockedvm"}], "locks": [{"name": "freeze", "level": "ReadOnly"}]},
        }},
        {"id": SUB_DISABLED, "console_disabled": True, "resource_groups": {"rg": {"vms": [{"name": "vm2"}]}}},
    ],
}


class AzureWorld:
    """A running emulator and the environment the CLI needs to use it."""

    def __init__(self, emulator: Emulator, tmp_path) -> None:
        self.emulator = emulator
        self.home = tmp_path
        env = emulator.environment()
        env.update(AZURE_CLIENT_ID=ADMIN, AZURE_CLIENT_SECRET="admin-secret-value", AZURE_SUBSCRIPTION_ID=SUB)
        runtime = tmp_path / "run"  # this test's own control sockets
        runtime.mkdir(mode=0o700, exist_ok=True)
        self.env = cli_env(**env, HOME=str(tmp_path), XDG_CACHE_HOME=str(tmp_path / "cache"),
                           XDG_RUNTIME_DIR=str(runtime))

    def cli(self, *args: str, input: bytes | None = None, process: bool = False, **overrides: str):
        """sercon against this world, in this process (call_cli); *process*: as a process of its own
        (run_cli), for a test that needs one. An override of None removes that variable."""
        env = {**self.env, **overrides}
        for key in [k for k, v in overrides.items() if v is None]:
            env.pop(key, None)
        # A PATH of its own needs a process: `az` is looked up on the process's PATH (shutil.which).
        runner = run_cli if process or "PATH" in overrides else call_cli
        return runner(*args, input=input, env={k: v for k, v in env.items() if v is not None})

    def vm(self, name: str, subscription: str = SUB) -> dict:
        """The emulated VM as the emulator holds it (what a fix must change, and nothing else)."""
        return next(vm for vm in self.emulator.world.subscription(subscription)["vms"] if vm["name"] == name)

    def account(self, name: str) -> dict:
        sub = self.emulator.world.subscription(SUB)
        return next(acct for acct in sub["storage_accounts"] if acct["name"] == name)

    def writes(self) -> list[dict]:
        """Every ARM call that could change something (the connect call and the boot-log POST excluded)."""
        return [r for r in self.requests if r["method"] in ("PUT", "PATCH", "POST", "DELETE")
                and not any(part in r["url"].lower() for part in ("/serialports/0/connect", "retrievebootdiag"))]

    @property
    def requests(self) -> list[dict]:
        return self.emulator.arm.requests

    def hook(self, path: str, **kwargs):
        """POST to one of the emulator's test hooks (/_emulator/PATH), with its admin secret."""
        import requests

        response = requests.post(f"{self.emulator.base_url}/_emulator/{path}", verify=self.env["REQUESTS_CA_BUNDLE"],
                                 headers={"X-Sercon-Emulator-Secret": self.emulator.admin_secret}, timeout=5, **kwargs)
        assert response.status_code == 200, response.text
        return response


@pytest.fixture
def azure(tmp_path):
    """The standard world; tests that change it get their own copy."""
    with Emulator(World(copy.deepcopy(WORLD))) as emulator:
        yield AzureWorld(emulator, tmp_path)


@pytest.fixture
def azure_with(tmp_path):
    """A world with changes: azure_with(faults=[...], token_lifetime=2)."""
    started = []

    def start(**changes) -> AzureWorld:
        emulator = Emulator(World({**copy.deepcopy(WORLD), **changes})).start()
        started.append(emulator)
        return AzureWorld(emulator, tmp_path)

    yield start
    for emulator in started:
        emulator.stop()
