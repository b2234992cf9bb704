"""The emulator's ARM writes: VM update (boot diagnostics), VM start, VM extensions (VMAccessForLinux
creates console users), storage account network rules; with ARM's refusals (docs/emulator.md, "ARM
writes"): a ReadOnly lock (409 ScopeLocked), a body that does not deserialize or a value out of range
(those two checked in arm_bodies.py).

A mixin of the Arm class (arm.py), whose table routes to these handlers; the long-running ones answer
through operations.py. No error message ever quotes a value from the request body: it may hold a password.
"""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web

from sercon_emulator.arm_bodies import (
    ACCESS_PASSWORD_LIMIT,
    boot_diagnostics_change,
    extension_properties,
    object_body,
    storage_changes,
    text_password,
    within,
)
from sercon_emulator.arm_shapes import arm_error, extension_json, storage_etag, storage_json, storage_missing, vm_json
from sercon_emulator.operations import Operations
from sercon_emulator.world import World

VMACCESS = ("Microsoft.OSTCExtensions", "VMAccessForLinux")
LINUX_USER = re.compile(r"[a-z_][a-z0-9_.-]{0,31}")
MAX_ACCESS_USERS = 16  # per VM, a CHOICE: they all reach the login program on one pipe

class ArmUpdates:
    """The write handlers; mixed into Arm, whose world, gateway and lookups they use."""

    world: World
    operations: Operations
    gateway: Any

    def _locked(self, params: dict[str, str], path: str) -> web.Response | None:
        """ARM's answer to a write under a ReadOnly lock (before the provider sees the request)."""
        for lock in self._sub(params)["locks"]:
            if lock.get("level") == "ReadOnly" and within(path, lock["scope"]):
                return arm_error(409, "ScopeLocked", f"The scope '{path}' cannot perform write operation because "
                                 f"following scope(s) are locked: '{lock['scope']}'. Please remove the lock and try "
                                 "again.")
        return None

    @staticmethod
    def _group(sub: dict[str, Any], item: dict[str, Any]) -> str:
        return f"/subscriptions/{sub['id']}/resourceGroups/{item['resource_group']}"

    async def patch_vm(self, request, params, who):
        vm, error = self._vm(params)
        error = error or self._locked(params, request.path)
        body, error = (None, error) if error else await object_body(request)
        boot, error = (None, error) if error else boot_diagnostics_change(body)
        if error:
            return error
        if boot is not None:
            enabled = boot.get("enabled", vm["boot_diagnostics"] != "off")
            # A merge: a storageUri kept from before boot diagnostics were disabled comes back unless
            # the PATCH names one, or sends null (managed storage).
            account = vm["storage_account"] if vm["boot_diagnostics"] in ("custom", "off") else None
            if "storageUri" in boot:
                account = re.match(r"https://([a-z0-9]+)\.", boot["storageUri"])[1] if boot["storageUri"] else None
            vm["boot_diagnostics"] = ("custom" if account else "managed") if enabled else "off"
            vm["storage_account"] = account
        vm["provisioning_state"] = "Updating"
        sub = self._sub(params)

        def finish() -> None:
            vm["provisioning_state"] = "Succeeded"

        headers = self.operations.begin(request, sub["id"], vm["location"], self._group(sub, vm), finish,
                                        lambda: vm_json(sub, vm))
        return web.json_response(vm_json(sub, vm), headers=headers)

    async def start_vm(self, request, params, who):
        if "iid" in params:
            scale_set, target, error = self._instance(params)
            location = scale_set["location"] if scale_set else ""
        else:
            target, error = self._vm(params)
            location = target["location"] if target else ""
        error = error or self._locked(params, request.path)
        if error:
            return error
        sub = self._sub(params)
        if target.get("power", "running") != "running":
            target["power"] = "starting"

        def finish() -> None:
            target["power"] = "running"

        headers = self.operations.begin(request, sub["id"], location, f"/subscriptions/{sub['id']}/resourceGroups/"
                                        f"{params['rg']}", finish)
        return web.Response(status=202, headers=headers)

    async def list_extensions(self, request, params, who):
        vm, error = self._vm(params)
        return error or web.json_response({"value": [extension_json(self._sub(params), vm, name)
                                                     for name in vm["extensions"]]})

    async def get_extension(self, request, params, who):
        vm, error = self._vm(params)
        if error:
            return error
        name = next((n for n in vm["extensions"] if n.lower() == params["ext"].lower()), None)
        if name is None:
            return arm_error(404, "ResourceNotFound", f"The Resource 'Microsoft.Compute/virtualMachines/{vm['name']}/"
                             f"extensions/{params['ext']}' under resource group '{params['rg']}' was not found.")
        return web.json_response(extension_json(self._sub(params), vm, name))

    async def put_extension(self, request, params, who):
        vm, error = self._vm(params)
        error = error or self._locked(params, request.path)
        body, error = (None, error) if error else await object_body(request)
        props, error = (None, error) if error else extension_properties(body)
        if error:
            return error
        if vm["power"] != "running":
            return arm_error(409, "OperationNotAllowed", "Cannot modify extensions in the VM when the VM is not "
                             "running.")
        name = next((n for n in vm["extensions"] if n.lower() == params["ext"].lower()), params["ext"])
        handler = (props["publisher"].lower(), props["type"].lower())
        if any((e["publisher"].lower(), e["type"].lower()) == handler for n, e in vm["extensions"].items()
               if n != name):
            return arm_error(400, "BadRequest", f"Multiple VMExtensions per handler not supported for OS type "
                             f"'{vm['os']}'. VMExtension '{name}' with handler '{props['publisher']}.{props['type']}' "
                             "already added or specified in input.")
        existed = name in vm["extensions"]
        record = {key: props[key] for key in ("publisher", "type", "typeHandlerVersion", "autoUpgradeMinorVersion",
                                              "settings") if key in props}
        record["provisioning_state"] = "Updating" if existed else "Creating"
        vm["extensions"][name] = record
        protected = dict(props.get("protectedSettings") or {})  # kept for the guest only, in this closure
        sub = self._sub(params)

        def finish() -> tuple[str, str] | None:
            failure = self._run_in_guest(sub, vm, handler, protected)
            record["provisioning_state"] = "Failed" if failure else "Succeeded"
            record["message"] = failure or "Enable succeeded."
            if failure is None:
                return None
            return "VMExtensionProvisioningError", (f"VM has reported a failure when processing extension '{name}' "
                                                    f"(publisher '{record['publisher']}' and type '{record['type']}'). "
                                                    f"Error message: '{failure}'.")

        headers = self.operations.begin(request, sub["id"], vm["location"], self._group(sub, vm), finish,
                                        lambda: extension_json(sub, vm, name))
        return web.json_response(extension_json(sub, vm, name), status=200 if existed else 201, headers=headers)

    def _run_in_guest(self, sub: dict[str, Any], vm: dict[str, Any], handler: tuple[str, str],
                      protected: dict[str, Any]) -> str | None:
        """What the extension does in the VM: VMAccessForLinux sets a user's password; others do nothing."""
        if handler != tuple(part.lower() for part in VMACCESS):
            return None
        if vm["os"] != "Linux":
            return "VMAccessForLinux runs on Linux VMs only."
        user, password = protected.get("username"), protected.get("password")
        if not isinstance(password, str) or not password:
            return "No password or ssh_key is specified."
        if not isinstance(user, str) or not LINUX_USER.fullmatch(user):
            return "The user name is missing or is not a valid Linux user name."
        if not text_password(password):
            return (f"The password is not UTF-8 text, is longer than {ACCESS_PASSWORD_LIMIT} bytes or holds control "
                    "characters.")
        if user not in vm["access_users"] and len(vm["access_users"]) >= MAX_ACCESS_USERS:
            return f"The emulated VM has {MAX_ACCESS_USERS} users already."
        vm["access_users"][user] = password
        console = self.gateway.consoles.get(f"{sub['id']}/{vm['resource_group']}/{vm['name']}".lower())
        if console is not None and hasattr(console, "set_account"):
            console.set_account(user, password)  # a login prompt already waiting learns it at once
        return None

    async def patch_storage(self, request, params, who):
        sub = self._sub(params)
        acct = World.find(sub["storage_accounts"], params["rg"], params["acct"])
        if acct is None:
            return storage_missing(params)
        error = self._locked(params, request.path) or _stale(request, acct)
        body, error = (None, error) if error else await object_body(request)
        if error:
            return error
        changes, error = storage_changes(body)
        if error:
            return error
        acct.update(changes)
        return web.json_response(storage_json(sub, acct), headers={"ETag": storage_etag(acct)})


def _stale(request: web.Request, acct: dict[str, Any]) -> web.Response | None:
    """ARM's optimistic concurrency: an If-Match that is not the resource's ETag (nor `*`) is refused 412."""
    wanted = request.headers.get("If-Match")
    if wanted is None or wanted.strip() == "*" or storage_etag(acct) in (part.strip() for part in wanted.split(",")):
        return None
    return arm_error(412, "PreconditionFailed", "The condition specified using HTTP conditional header(s) is not met.")
