"""The emulated Azure: identities, subscriptions, VMs, scale sets, storage, locks, roles, faults, gateway options.

Loaded from a JSON world file (see docs/emulator.md); everything has a default so that a small
file describes a useful world. Pure data and lookups; the HTTP side is in authority.py and arm.py.
"""

from __future__ import annotations

import json
import re
import secrets
import threading
import uuid
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from sercon.errors import UsageError

DEFAULT_TENANT = "11111111-2222-4333-8444-555555555555"
DEFAULT_CLIENT_ID = "00000000-0000-4000-8000-00000000c11e"
DEFAULT_SUBSCRIPTION = "00000000-0000-4000-8000-0000000005b1"
CONNECT_ACTION = "Microsoft.SerialConsole/serialPorts/connect/action"
TAKEOVER_REASON = "Another user connected to the serial console of this virtual machine"
BINARY_INPUT = ("reject", "ignore", "accept")
REFUSE_AFTER_AUTH = ("never", "always", "alternate")
PASSWORD_LIMIT = 4096  # a VM's password reaches its login program on a pipe, written whole at once
SERVER_CLOSE_CODES = (1000, 1001, 1002, 1003, 1007, 1008, 1009, 1011, 1012, 1013, 1014)  # RFC 6455 §7.4


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
    message: str = "injected by the emulator"
    retry_after: float | str | None = None  # a str goes as written (an unreadable Retry-After)
    delay: float = 0.0
    count: int = 1
    body: Any = None  # instead of ARM's error: a str goes as written (not JSON), anything else as JSON


@dataclass(frozen=True)
class GatewayOptions:
    """How strict the gateway is; the defaults are the strict choices (docs/emulator.md, "gateway")."""

    binary_input: str = "reject"
    takeover_code: int = 1000
    takeover_reason: str = TAKEOVER_REASON
    refuse_after_auth: str = "never"
    refuse_reason: str = "InternalServerError"  # the close reason of a refused session
    ping_interval: float | None = None
    connection_string_ttl: float = 60.0

    def merged(self, changes: dict[str, Any] | None) -> GatewayOptions:
        """These options with a world file's "gateway" dict applied; a typo fails loudly."""
        changes = dict(changes or {})
        unknown = set(changes) - set(self.__dataclass_fields__)
        if unknown:
            raise ValueError(f"unknown gateway option(s): {', '.join(sorted(unknown))}")
        options = replace(self, **changes)
        options._check()
        return options

    def _check(self) -> None:
        if self.binary_input not in BINARY_INPUT:
            raise ValueError(f"gateway binary_input must be one of {BINARY_INPUT}, not {self.binary_input!r}")
        if self.refuse_after_auth not in REFUSE_AFTER_AUTH:
            raise ValueError(f"gateway refuse_after_auth must be one of {REFUSE_AFTER_AUTH}, "
                             f"not {self.refuse_after_auth!r}")
        if self.takeover_code not in SERVER_CLOSE_CODES and not 3000 <= self.takeover_code <= 4999:
            raise ValueError(f"gateway takeover_code {self.takeover_code} is not a close code a server may send")
        if self.ping_interval is not None and self.ping_interval <= 0:
            raise ValueError("gateway ping_interval must be a positive number of seconds, or null")
        if self.connection_string_ttl < 0:
            raise ValueError("gateway connection_string_ttl must not be negative")


OPERATION_HEADERS = ("Azure-AsyncOperation", "Location")


@dataclass(frozen=True)
class OperationOptions:
    """How the emulator's long-running operations answer (docs/emulator.md, "Long-running operations")."""

    polls: int = 2  # status reads that answer InProgress before the operation ends
    retry_after: int = 1  # the Retry-After header, in whole seconds as HTTP has it
    headers: tuple[str, ...] = OPERATION_HEADERS  # which URLs the first answer gives
    seconds: float = 30.0  # an operation nobody polls ends after this long, as Azure's would

    @classmethod
    def load(cls, data: dict[str, Any] | None) -> OperationOptions:
        data = dict(data or {})
        unknown = set(data) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(f"unknown operations option(s): {', '.join(sorted(unknown))}")
        options = cls(**{**data, **({"headers": tuple(data["headers"])} if "headers" in data else {})})
        if not isinstance(options.polls, int) or isinstance(options.polls, bool) or options.polls < 0:
            raise ValueError("operations polls must be a whole number >= 0")
        if not isinstance(options.retry_after, int) or isinstance(options.retry_after, bool) or options.retry_after < 0:
            raise ValueError("operations retry_after must be a whole number of seconds >= 0 (HTTP's Retry-After)")
        if not options.headers or not set(options.headers) <= set(OPERATION_HEADERS):
            raise ValueError(f"operations headers must be some of {OPERATION_HEADERS}")
        if not options.seconds > 0:
            raise ValueError("operations seconds must be > 0")
        return options


def nested_gateway(scale_set: dict[str, Any], instance: dict[str, Any]) -> dict[str, Any]:
    """A scale-set instance's gateway options: its own over its scale set's."""
    return {**(scale_set.get("gateway") or {}), **(instance.get("gateway") or {})}


def _vm_defaults(vm: dict[str, Any], rg: str) -> dict[str, Any]:
    return {"resource_group": rg, "location": "westeurope", "power": "running", "os": "Linux",
            "boot_diagnostics": "managed", "storage_account": None, "admin_username": "azureuser",
            "disable_password_authentication": False, "offer": "0001-com-ubuntu-server-jammy",
            "boot_log": None, "vm_id": str(uuid.uuid5(uuid.NAMESPACE_URL, rg + "/" + vm["name"])),
            "provisioning_state": "Succeeded", "extensions": {}, "access_users": {}, **vm}


class World:
    def __init__(self, data: dict[str, Any]) -> None:
        _check_shapes(data)
        self.lock = threading.RLock()
        self.tenant: str = data.get("tenant", DEFAULT_TENANT)
        self.token_lifetime: int = _whole(data, "token_lifetime", 3600)
        self.page_size: int = _whole(data, "page_size", 50)
        # Without principals in the file, one with a secret of this run only: any local user can reach
        # the emulator, so a constant secret would give anyone its VMs' consoles.
        self.principals = {p["client_id"]: Principal(**p) for p in data.get("principals", [])} or {
            DEFAULT_CLIENT_ID: Principal(DEFAULT_CLIENT_ID, secrets.token_urlsafe(32), str(uuid.uuid4()),
                                         "emulator-sp")}
        for principal in self.principals.values():
            principal.object_id = principal.object_id or str(uuid.uuid5(uuid.NAMESPACE_OID, principal.client_id))
        self.users: list[dict[str, str]] = data.get("users", [{"username": "operator@example.com"}])
        for user in self.users:
            user.setdefault("object_id", str(uuid.uuid5(uuid.NAMESPACE_OID, user["username"])))
        self.managed_identity: dict[str, str] = data.get("managed_identity", {})
        self.role_assignments = [RoleAssignment(**r) for r in data.get("role_assignments", [])] or [
            RoleAssignment("*", "/", ["*"])]
        self.faults = [Fault(**f) for f in data.get("faults", [])]
        self.gateway = GatewayOptions().merged(data.get("gateway"))
        self.operations = OperationOptions.load(data.get("operations"))
        self.api_version_check: bool = bool(data.get("api_version_check", True))
        self.api_versions: dict[str, list[str]] = {k: list(v) for k, v in data.get("api_versions", {}).items()}
        self.subscriptions: dict[str, dict[str, Any]] = {}
        for sub in data.get("subscriptions", [{"id": DEFAULT_SUBSCRIPTION}]):
            self._add_subscription(sub)

    @classmethod
    def load(cls, path: str | Path) -> World:
        """The world of the file *path*. A file it cannot use is a usage error (exit 2) that names the
        file and what is wrong in it, never a traceback: it is the user's own input."""
        fix = ('correct it (the keys are in docs/emulator.md, "The world file"), or leave out --config for '
               "the default world")
        try:
            data = json.loads(Path(path).read_bytes().decode("utf-8"))
        except OSError as exc:
            raise UsageError(f"cannot read the world file {path}: {exc.strerror}", fix) from None
        except UnicodeDecodeError:
            raise UsageError(f"the world file {path} is not UTF-8 text", fix) from None
        except ValueError as exc:
            raise UsageError(f"the world file {path} is not JSON: {exc}", fix) from None
        if not isinstance(data, dict):
            raise UsageError(f"the world file {path} must hold a JSON object ({{...}}), not a "
                             f"{type(data).__name__}", fix)
        try:
            return cls(data)
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise UsageError(f"the world file {path} is refused: {_what_is_wrong(exc)}", fix) from None

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
                                                 "gateway": nested_gateway(scale_set, inst),
                                                 "boot_diagnostics": scale_set["boot_diagnostics"]}, rg))
            accounts += [{"resource_group": rg, "location": "westeurope", "ip_rules": [], "default_action": "Allow",
                          "allow_shared_key_access": True, "bypass": "AzureServices", "virtual_network_rules": [],
                          **acct} for acct in content.get("storage_accounts", [])]
            locks += [{"scope": f"/subscriptions/{sub['id']}/resourceGroups/{rg}", **lock}
                      for lock in content.get("locks", [])]
        for item in [*vms, *sets, *(i for s in sets for i in s.get("instances", []))]:
            self.gateway_options(item)  # a bad per-VM "gateway" dict fails at load, not at connect
            _check_login_keys(item)
        self.subscriptions[sub["id"]] = {
            "id": sub["id"], "name": sub.get("name", "Emulated subscription"),
            "console_disabled": bool(sub.get("console_disabled", False)),
            "vms": vms, "scale_sets": sets, "storage_accounts": accounts, "locks": locks,
        }

    def gateway_options(self, vm: dict[str, Any]) -> GatewayOptions:
        """The world's gateway options with the VM's own "gateway" dict on top."""
        return self.gateway.merged(vm.get("gateway"))

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
                if r.principal in ("*", object_id) and _within(scope, r.scope)]

    def take_fault(self, method: str, path: str) -> Fault | None:
        with self.lock:
            for fault in self.faults:
                if fault.count and (fault.method in (None, method)) and re.search(fault.match, path, re.I):
                    fault.count -= 1 if fault.count > 0 else 0
                    return fault
        return None


def _within(scope: str, assigned: str) -> bool:
    """A role assigned at *assigned* covers *scope* when it is that scope or below it (on a '/'
    boundary: an assignment on resource group `prod` does not cover `prod-rg`)."""
    scope, assigned = scope.lower().rstrip("/"), assigned.lower().rstrip("/")
    return scope == assigned or scope.startswith(assigned + "/") or assigned == ""


_LISTS = ("principals", "users", "role_assignments", "faults", "subscriptions")
_TABLES = ("managed_identity", "gateway", "operations", "api_versions")
_ENTRIES = {"Principal": "a principal", "RoleAssignment": "a role assignment", "Fault": "a fault",
            "OperationOptions": "operations", "GatewayOptions": "gateway"}


def _check_shapes(data: dict[str, Any]) -> None:
    """The top level's lists are lists of objects, its tables objects: else the error names the key."""
    for key in _LISTS:
        value = data.get(key, [])
        if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
            raise ValueError(f"{key} must be a list of objects ([{{...}}, ...])")
    for key in _TABLES:
        if not isinstance(data.get(key) or {}, dict):
            raise ValueError(f"{key} must be an object ({{...}})")


def _whole(data: dict[str, Any], key: str, default: int) -> int:
    value = data.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise ValueError(f"{key} must be a whole number > 0, not {value!r}")
    return value


def _what_is_wrong(exc: Exception) -> str:
    """A world's error in the file's terms: a key that is missing or unknown, or the check's own words."""
    if isinstance(exc, KeyError):
        return f"a required key {exc.args[0]!r} is missing"
    text = str(exc)
    found = re.match(r"(\w+)\.__init__\(\) (got an unexpected keyword argument|missing \d+ required "
                     r"(?:positional|keyword-only) arguments?:) (.*)", text)
    if found:
        entry = _ENTRIES.get(found[1], found[1])
        return (f"{entry} has an unknown key {found[3]}" if found[2].startswith("got")
                else f"{entry} lacks {found[3]}")
    return text if isinstance(exc, ValueError) else f"a value of the wrong kind ({text})"


def _check_login_keys(item: dict[str, Any]) -> None:
    """The keys that decide who logs in must say what they mean: "false" in quotes would be true."""
    if not isinstance(item.get("allow_empty_password", False), bool):
        raise ValueError(f"{item.get('name', item.get('id'))}: allow_empty_password must be true or false")
    password = item.get("password") or ""
    if not isinstance(password, str) or len(password.encode()) > PASSWORD_LIMIT:
        raise ValueError(f"{item.get('name', item.get('id'))}: password must be a string of at most "
                         f"{PASSWORD_LIMIT} bytes")


def _action_matches(patterns: list[str], action: str) -> bool:
    return any(re.fullmatch(re.escape(p).replace(r"\*", ".*"), action, re.I) for p in patterns)
