"""The emulated Azure: identities, subscriptions, VMs, scale sets, storage, locks, roles and faults.

Loaded from a JSON world file (see docs/emulator.md); everything has a default so that a small
file describes a useful world. Pure data and lookups; the HTTP side is in authority.py and arm.py.
"""

from __future__ import annotations

import json
import re
import threading
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DEFAULT_TENANT = "11111111-2222-4333-8444-555555555555"
DEFAULT_CLIENT_ID = "00000000-0000-4000-8000-00000000c11e"
DEFAULT_SECRET = "emulator-client-secret"  # a test credential for the local emulator, not a real secret
DEFAULT_SUBSCRIPTION = "00000000-0000-4000-8000-0000000005b1"
CONNECT_ACTION = "Microsoft.SerialConsole/serialPorts/connect/action"


@dataclass
class Principal:
    client_id: str
    secret: str | None = None
    object_id: str = ""
    name: str = "service principal"
    federated_token: str | None = None
    certificate: str | None = None  # PEM of the public certificate whose key signs client assertions


@dataclass
class RoleAssignment:
    principal: str  # an object id, or "*" for everyone
    scope: str
    actions: list[str]
    not_actions: list[str] = field(default_factory=list)


@dataclass
class Fault:
    """Answer matching requests with an error (or a delay), `count` times (-1: always)."""

    match: str
    method: str | None = None
    status: int | None = None
    code: str = "ServerError"
    retry_after: float | None = None
    delay: float = 0.0
    count: int = 1


def _vm_defaults(vm: dict[str, Any], rg: str) -> dict[str, Any]:
    return {"resource_group": rg, "location": "westeurope", "power": "running", "os": "Linux",
            "boot_diagnostics": "managed", "storage_account": None, "admin_username": "azureuser",
            "disable_password_authentication": False, "offer": "0001-com-ubuntu-server-jammy",
            "boot_log": None, "vm_id": str(uuid.uuid5(uuid.NAMESPACE_URL, rg + "/" + vm["name"])), **vm}


class World:
    def __init__(self, data: dict[str, Any]) -> None:
        self.lock = threading.RLock()
        self.tenant: str = data.get("tenant", DEFAULT_TENANT)
        self.token_lifetime: int = int(data.get("token_lifetime", 3600))
        self.page_size: int = int(data.get("page_size", 50))
        self.principals = {p["client_id"]: Principal(**p) for p in data.get("principals", [])} or {
            DEFAULT_CLIENT_ID: Principal(DEFAULT_CLIENT_ID, DEFAULT_SECRET, str(uuid.uuid4()), "emulator-sp")}
        for principal in self.principals.values():
            principal.object_id = principal.object_id or str(uuid.uuid5(uuid.NAMESPACE_OID, principal.client_id))
        self.users: list[dict[str, str]] = data.get("users", [{"username": "operator@example.com"}])
        for user in self.users:
            user.setdefault("object_id", str(uuid.uuid5(uuid.NAMESPACE_OID, user["username"])))
        self.managed_identity: dict[str, str] = data.get("managed_identity", {})
        self.role_assignments = [RoleAssignment(**r) for r in data.get("role_assignments", [])] or [
            RoleAssignment("*", "/", ["*"])]
        self.faults = [Fault(**f) for f in data.get("faults", [])]
        self.subscriptions: dict[str, dict[str, Any]] = {}
        for sub in data.get("subscriptions", [{"id": DEFAULT_SUBSCRIPTION}]):
            self._add_subscription(sub)

    @classmethod
    def load(cls, path: str | Path) -> World:
        return cls(json.loads(Path(path).read_text(encoding="utf-8")))

    def _add_subscription(self, sub: dict[str, Any]) -> None:
        vms, sets, accounts, locks = [], [], [], []
        for rg, content in sub.get("resource_groups", {}).items():
            vms += [_vm_defaults(vm, rg) for vm in content.get("vms", [])]
            for scale_set in content.get("scale_sets", []):
                scale_set = {"resource_group": rg, "location": "westeurope", "orchestration": "Uniform",
                             "boot_diagnostics": "managed", "os": "Linux", **scale_set}
                sets.append(scale_set)
                if scale_set["orchestration"] == "Flexible":  # its instances are plain VMs
                    for inst in scale_set.get("instances", []):
                        vms.append(_vm_defaults({**inst, "name": f"{scale_set['name']}_{inst['id']}",
                                                 "scale_set": scale_set["name"],
                                                 "boot_diagnostics": scale_set["boot_diagnostics"]}, rg))
            accounts += [{"resource_group": rg, "location": "westeurope", "ip_rules": [], "default_action": "Allow",
                          "allow_shared_key_access": True, **acct} for acct in content.get("storage_accounts", [])]
            locks += [{"scope": f"/subscriptions/{sub['id']}/resourceGroups/{rg}", **lock}
                      for lock in content.get("locks", [])]
        self.subscriptions[sub["id"]] = {
            "id": sub["id"], "name": sub.get("name", "Emulated subscription"),
            "console_disabled": bool(sub.get("console_disabled", False)),
            "vms": vms, "scale_sets": sets, "storage_accounts": accounts, "locks": locks,
        }

    # -- lookups (case-insensitive, as ARM is) ----------------------------------------------------
    def subscription(self, sub_id: str) -> dict[str, Any] | None:
        return next((s for k, s in self.subscriptions.items() if k.lower() == sub_id.lower()), None)

    @staticmethod
    def find(items: list[dict[str, Any]], rg: str | None, name: str) -> dict[str, Any] | None:
        return next((i for i in items if i["name"].lower() == name.lower()
                     and (rg is None or i["resource_group"].lower() == rg.lower())), None)

    def allowed(self, object_id: str, action: str, scope: str) -> bool:
        permitted = self.permissions(object_id, scope)
        return any(_action_matches(p["actions"], action) and not _action_matches(p["notActions"], action)
                   for p in permitted)

    def permissions(self, object_id: str, scope: str) -> list[dict[str, list[str]]]:
        return [{"actions": r.actions, "notActions": r.not_actions, "dataActions": [], "notDataActions": []}
                for r in self.role_assignments
                if r.principal in ("*", object_id) and scope.lower().startswith(r.scope.lower().rstrip("/"))]

    def take_fault(self, method: str, path: str) -> Fault | None:
        with self.lock:
            for fault in self.faults:
                if fault.count and (fault.method in (None, method)) and re.search(fault.match, path, re.I):
                    fault.count -= 1 if fault.count > 0 else 0
                    return fault
        return None


def _action_matches(patterns: list[str], action: str) -> bool:
    return any(re.fullmatch(re.escape(p).replace(r"\*", ".*"), action, re.I) for p in patterns)
