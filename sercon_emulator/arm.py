"""The emulator's Azure Resource Manager: the calls of docs/azure-protocol.md, with ARM's error bodies;
the writes `sercon doctor --fix` makes are in arm_updates.py, their long-running operations in operations.py.

One catch-all handler matches paths case-insensitively (ARM ignores case; the CLI's SDK writes
`resourcegroups`); the connect call takes a scale-set parent encoded only (SET%2FvirtualMachines%2FID),
as the official client sends it. Every call needs a live token, a published
api-version of the provider (api_versions.py) and the caller's permission for the route's action,
as ARM does.
"""

from __future__ import annotations

import asyncio
import re
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import unquote

from aiohttp import web

from sercon_emulator import api_versions
from sercon_emulator.arm_bodies import within
from sercon_emulator.arm_shapes import (
    arm_error,
    boot_log_text,
    lock_json,
    storage_etag,
    storage_json,
    storage_missing,
    vm_instance_view,
    vm_json,
    vmss_instance_json,
    vmss_json,
)
from sercon_emulator.arm_updates import ArmUpdates
from sercon_emulator.authority import Identity, TokenStore
from sercon_emulator.gateway import Gateway
from sercon_emulator.operations import Operations
from sercon_emulator.sandbox import SandboxError
from sercon_emulator.world import CONNECT_ACTION, Fault, World, nested_gateway

SUB = r"/subscriptions/(?P<sub>[^/]+)"
RG = SUB + r"/resourcegroups/(?P<rg>[^/]+)"
COMPUTE = RG + r"/providers/microsoft\.compute"
VM = COMPUTE + r"/virtualmachines/(?P<vm>[^/]+)"
VMSS = COMPUTE + r"/virtualmachinescalesets/(?P<set>[^/]+)"
VMSS_VM = VMSS + r"/virtualmachines/(?P<iid>[^/]+)"
SCOPE = r"(?P<scope>/subscriptions/.*?)"
SERIAL_CONNECT = r"/providers/microsoft\.serialconsole/serialports/0/connect"
EXTENSION = r"/extensions/(?P<ext>[^/]+)"
# The official client quotes a scale-set instance's parent as one path segment (docs/emulator.md).
ENCODED_PARENT = re.compile(r"/virtualmachinescalesets/[^/]+%2fvirtualmachines%2f[^/]+/providers/", re.I)

Handler = Callable[[web.Request, dict[str, str], Identity], Awaitable[web.StreamResponse]]


class Arm(ArmUpdates):
    def __init__(self, world: World, tokens: TokenStore, base_url: str) -> None:
        self.world, self.tokens, self.base_url = world, tokens, base_url
        self.requests: list[dict[str, Any]] = []  # what the emulator received, for the tests
        self.gateway = Gateway(world, tokens, base_url, self.requests)
        self.operations = Operations(world, base_url)
        self.blob_secret = secrets.token_urlsafe(16)
        self.appended_logs: dict[str, str] = {}
        self.table: list[tuple[str, re.Pattern[str], str | None, Handler]] = [
            ("GET", SUB + r"/providers/microsoft\.serialconsole/consoleservices/default",
             "Microsoft.SerialConsole/consoleServices/read", self.console_state),
            ("POST", SUB + r"/providers/microsoft\.serialconsole/consoleservices/default/(?P<op>enable|disable)console",
             "Microsoft.SerialConsole/consoleServices/{op}Console/action", self.console_switch),
            ("GET", SUB + r"/providers/microsoft\.compute/virtualmachines", "Microsoft.Compute/virtualMachines/read",
             self.list_vms),
            ("GET", RG + r"/providers/microsoft\.compute/virtualmachines", "Microsoft.Compute/virtualMachines/read",
             self.list_vms),
            ("GET", SUB + r"/providers/microsoft\.compute/virtualmachinescalesets",
             "Microsoft.Compute/virtualMachineScaleSets/read", self.list_sets),
            ("GET", VM, "Microsoft.Compute/virtualMachines/read", self.get_vm),
            ("GET", VM + "/instanceview", "Microsoft.Compute/virtualMachines/read", self.get_vm_view),
            ("POST", VM + "/retrievebootdiagnosticsdata",
             "Microsoft.Compute/virtualMachines/retrieveBootDiagnosticsData/action", self.boot_data),
            ("GET", VMSS, "Microsoft.Compute/virtualMachineScaleSets/read", self.get_set),
            ("GET", VMSS + "/virtualmachines", "Microsoft.Compute/virtualMachineScaleSets/virtualMachines/read",
             self.list_instances),
            ("GET", VMSS_VM, "Microsoft.Compute/virtualMachineScaleSets/virtualMachines/read", self.get_instance),
            ("GET", VMSS_VM + "/instanceview", "Microsoft.Compute/virtualMachineScaleSets/virtualMachines/read",
             self.get_instance_view),
            ("POST", VMSS_VM + "/retrievebootdiagnosticsdata",
             "Microsoft.Compute/virtualMachineScaleSets/virtualMachines/retrieveBootDiagnosticsData/action",
             self.boot_data),
            ("GET", SUB + r"/providers/microsoft\.storage/storageaccounts", "Microsoft.Storage/storageAccounts/read",
             self.list_storage),
            ("GET", RG + r"/providers/microsoft\.storage/storageaccounts/(?P<acct>[^/]+)",
             "Microsoft.Storage/storageAccounts/read", self.get_storage),
            ("POST", VM + SERIAL_CONNECT, CONNECT_ACTION, self.connect),
            ("POST", VMSS_VM + SERIAL_CONNECT, CONNECT_ACTION, self.connect),
            ("GET", SCOPE + r"/providers/microsoft\.authorization/permissions", None, self.permissions),
            # writes (arm_updates.py) and their long-running operations (operations.py)
            ("PATCH", VM, "Microsoft.Compute/virtualMachines/write", self.patch_vm),
            ("POST", VM + "/start", "Microsoft.Compute/virtualMachines/start/action", self.start_vm),
            ("POST", VMSS_VM + "/start", "Microsoft.Compute/virtualMachineScaleSets/virtualMachines/start/action",
             self.start_vm),
            ("GET", VM + "/extensions", "Microsoft.Compute/virtualMachines/extensions/read", self.list_extensions),
            ("GET", VM + EXTENSION, "Microsoft.Compute/virtualMachines/extensions/read", self.get_extension),
            ("PUT", VM + EXTENSION, "Microsoft.Compute/virtualMachines/extensions/write", self.put_extension),
            ("PATCH", RG + r"/providers/microsoft\.storage/storageaccounts/(?P<acct>[^/]+)",
             "Microsoft.Storage/storageAccounts/write", self.patch_storage),
            ("GET", SUB + r"/providers/microsoft\.compute/locations/(?P<loc>[^/]+)/operations/(?P<op>[^/]+)", None,
             self.operations.status),
            ("GET", SCOPE + r"/providers/microsoft\.authorization/locks", "Microsoft.Authorization/locks/read",
             self.locks),
        ]
        self.table = [(m, re.compile(p + "$", re.I), a, h) for m, p, a, h in self.table]

    def routes(self) -> list[web.RouteDef]:
        return [*self.gateway.routes(), web.get("/blob/{secret}/{name}", self.blob),
                web.post("/_emulator/bootlog/{vm}", self.append_boot_log),
                web.route("*", "/subscriptions{tail:.*}", self.dispatch)]

    # -- plumbing ---------------------------------------------------------------------------------
    async def dispatch(self, request: web.Request) -> web.StreamResponse:
        path = unquote(request.path)  # a scale-set parent may come as set%2FvirtualMachines%2F2
        self.requests.append({"method": request.method, "url": str(request.rel_url),
                              "authorization": "authorization" in request.headers, "time": time.time()})
        fault = self.world.take_fault(request.method, path)
        if fault is not None:
            await asyncio.sleep(fault.delay)
            if fault.status:
                return _fault_answer(fault)
        who, problem = self._caller(request)
        if who is None:
            return problem
        if (bad_version := self._api_version_problem(request, path)) is not None:
            return bad_version
        for method, pattern, action, handler in self.table:
            match = pattern.match(path)
            if match and method == request.method:
                params = {k: v for k, v in match.groupdict().items() if v is not None}
                needed = action.format(op=params.get("op", "").title()) if action else None
                if needed and not self.world.allowed(who.object_id, needed, path):
                    return arm_error(403, "AuthorizationFailed",
                                     f"The client '{who.app_id or who.name}' with object id '{who.object_id}' does "
                                     f"not have authorization to perform action '{needed}' over scope '{path}' or "
                                     "the scope is invalid. If access was recently granted, please refresh your "
                                     "credentials.")
                if "sub" in params and self.world.subscription(params["sub"]) is None:
                    return arm_error(404, "SubscriptionNotFound",
                                     f"The subscription '{params['sub']}' could not be found.", flat="serialconsole"
                                     in path.lower())
                return await handler(request, params, who)
        return arm_error(404, "InvalidResourceType" if request.method == "GET" else "NoRegisteredProviderFound",
                         f"The emulator has no {request.method} {path}.")

    def _caller(self, request: web.Request) -> tuple[Identity | None, web.Response]:
        header = request.headers.get("Authorization", "")
        if not header.lower().startswith("bearer "):
            return None, arm_error(401, "AuthenticationFailed", "Authentication failed. The 'Authorization' "
                                   "header is missing.")
        who, code = self.tokens.check(header[7:].strip())
        if who is None:
            return None, arm_error(401, code, self.tokens.refusal(code, header[7:].strip()))
        return who, web.Response()

    def _api_version_problem(self, request: web.Request, path: str) -> web.Response | None:
        """ARM's 400 for a missing or unpublished api-version (the name matched in any case)."""
        if not self.world.api_version_check:
            return None
        version = next((v for k, v in request.query.items() if k.lower() == "api-version"), None)
        found = api_versions.problem(path, version, self.world.api_versions)
        return arm_error(400, *found) if found else None

    def _page(self, request: web.Request, items: list[dict[str, Any]]) -> web.Response:
        start = int(request.query.get("$skiptoken", "0"))
        size = self.world.page_size
        body: dict[str, Any] = {"value": items[start : start + size]}
        if start + size < len(items):
            query = {**request.query, "$skiptoken": str(start + size)}
            body["nextLink"] = str(request.url.with_query(query)).replace("http://", "https://", 1)
        return web.json_response(body)

    def _sub(self, params: dict[str, str]) -> dict[str, Any]:
        sub = self.world.subscription(params["sub"])
        assert sub is not None  # dispatch checked it
        return sub

    def _vm(self, params: dict[str, str]) -> tuple[dict[str, Any] | None, web.Response | None]:
        vm = World.find(self._sub(params)["vms"], params["rg"], params["vm"])
        if vm is None:
            return None, arm_error(404, "ResourceNotFound", f"The Resource 'Microsoft.Compute/virtualMachines/"
                                   f"{params['vm']}' under resource group '{params['rg']}' was not found. For more "
                                   "details please go to https://aka.ms/ARMResourceNotFoundFix")
        return vm, None

    def _set(self, params: dict[str, str]) -> tuple[dict[str, Any] | None, web.Response | None]:
        scale_set = World.find(self._sub(params)["scale_sets"], params["rg"], params["set"])
        if scale_set is None:
            code = "ParentResourceNotFound" if "iid" in params else "ResourceNotFound"
            return None, arm_error(404, code, f"Can not perform requested operation on nested resource. Parent "
                                   f"resource '{params['set']}' not found." if "iid" in params else
                                   f"The Resource 'Microsoft.Compute/virtualMachineScaleSets/{params['set']}' under "
                                   f"resource group '{params['rg']}' was not found.")
        return scale_set, None

    def _instance(self, params: dict[str, str]) -> tuple[Any, Any, web.Response | None]:
        scale_set, error = self._set(params)
        if error:
            return None, None, error
        if scale_set["orchestration"] == "Flexible":
            return None, None, arm_error(409, "OperationNotAllowed", "Operation 'VMScaleSetVMs.instanceView.GET' "
                                         f"is not allowed on Virtual Machine Scale Set '{scale_set['name']}'.")
        inst = next((i for i in scale_set.get("instances", []) if str(i["id"]) == params["iid"]), None)
        if inst is None:
            return None, None, arm_error(404, "NotFound", "The entity was not found in this Azure location.")
        return scale_set, inst, None

    # -- handlers ---------------------------------------------------------------------------------
    async def console_state(self, request, params, who):
        return web.json_response({"properties": {"disabled": self._sub(params)["console_disabled"]}})

    async def console_switch(self, request, params, who):
        sub = self._sub(params)
        sub["console_disabled"] = params["op"].lower() == "disable"
        return web.json_response({"properties": {"disabled": sub["console_disabled"]}})

    async def list_vms(self, request, params, who):
        sub = self._sub(params)
        vms = [vm_json(sub, vm) for vm in sub["vms"] if "rg" not in params or vm["resource_group"].lower()
               == params["rg"].lower()]
        return self._page(request, vms)

    async def list_sets(self, request, params, who):
        sub = self._sub(params)
        return self._page(request, [vmss_json(sub, s) for s in sub["scale_sets"]])

    async def get_vm(self, request, params, who):
        vm, error = self._vm(params)
        return error or web.json_response(vm_json(self._sub(params), vm, expand="instanceview" in
                                                  request.query.get("$expand", "").lower()))

    async def get_vm_view(self, request, params, who):
        vm, error = self._vm(params)
        return error or web.json_response(vm_instance_view(self._sub(params), vm))

    async def get_set(self, request, params, who):
        scale_set, error = self._set(params)
        return error or web.json_response(vmss_json(self._sub(params), scale_set))

    async def list_instances(self, request, params, who):
        scale_set, error = self._set(params)
        if error:
            return error
        sub = self._sub(params)
        return self._page(request, [vmss_instance_json(sub, scale_set, i) for i in scale_set.get("instances", [])])

    async def get_instance(self, request, params, who):
        scale_set, inst, error = self._instance(params)
        return error or web.json_response(vmss_instance_json(self._sub(params), scale_set, inst))

    async def get_instance_view(self, request, params, who):
        scale_set, inst, error = self._instance(params)
        return error or web.json_response(vmss_instance_json(self._sub(params), scale_set, inst)["properties"]
                                          ["instanceView"])

    async def boot_data(self, request, params, who):
        if "iid" in params:
            scale_set, inst, error = self._instance(params)
            target, name = ({**scale_set, **inst}, f"{scale_set['name']}_{inst['id']}") if not error else (None, "")
        else:
            target, error = self._vm(params)
            name = target["name"] if target else ""
        if error:
            return error
        if target["boot_diagnostics"] == "off":
            return arm_error(409, "OperationNotAllowed", "Boot diagnostics are not enabled for this virtual machine.")
        expiry = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 3600))
        sas = f"sv=2021-08-06&se={expiry}&sr=b&sp=r&sig={self.blob_secret}"
        return web.json_response({
            "consoleScreenshotBlobUri": f"{self.base_url}/blob/{self.blob_secret}/{name}.screenshot.bmp?{sas}",
            "serialConsoleLogBlobUri": f"{self.base_url}/blob/{self.blob_secret}/{name}.serialconsole.log?{sas}",
        })

    async def connect(self, request, params, who):
        sub = self._sub(params)
        if sub["console_disabled"]:
            return arm_error(403, "SubscriptionNotEnabled", f"Subscription name {sub['name']}, id {sub['id']} is in "
                             "non-Enabled state for the serial console.")
        if "iid" in params and not ENCODED_PARENT.search(request.raw_path):
            return arm_error(400, "InvalidParentResource", "The emulator takes a scale-set instance's parent as one "
                             f"encoded path segment, '{params['set']}%2FvirtualMachines%2F{params['iid']}', as the "
                             "official client sends it.")
        if "iid" in params:
            scale_set, inst, error = self._instance(params)
            vm = {**scale_set, **inst, "name": f"{scale_set['name']}_{inst['id']}",
                  "gateway": nested_gateway(scale_set, inst)} if not error else None
        else:
            vm, error = self._vm(params)
        if error:
            return error
        if vm.get("power") in ("deallocated", "deallocating"):
            return arm_error(409, "Conflict", "The virtual machine is deallocated; start it first.")
        key = f"{sub['id']}/{vm['resource_group']}/{vm['name']}".lower()
        try:
            connection_string = await self.gateway.open_session(key, vm)
        except SandboxError as exc:  # the VM's program cannot run safely here: say why
            return arm_error(500, "EmulatedVmFailed", f"{exc.message} (fix: {exc.hint})" if exc.hint else exc.message)
        return web.json_response({"connectionString": connection_string})

    async def list_storage(self, request, params, who):
        sub = self._sub(params)
        return self._page(request, [storage_json(sub, a) for a in sub["storage_accounts"]])

    async def get_storage(self, request, params, who):
        sub = self._sub(params)
        acct = World.find(sub["storage_accounts"], params["rg"], params["acct"])
        return storage_missing(params) if acct is None else web.json_response(
            storage_json(sub, acct), headers={"ETag": storage_etag(acct)})

    async def permissions(self, request, params, who):
        return web.json_response({"value": self.world.permissions(who.object_id, params["scope"])})

    async def locks(self, request, params, who):
        found = [lock_json(lock) for sub in self.world.subscriptions.values() for lock in sub["locks"]
                 if within(params["scope"], lock["scope"])]
        return web.json_response({"value": found})

    async def blob(self, request: web.Request) -> web.StreamResponse:
        self.requests.append({"method": request.method, "url": request.path, "range": request.headers.get("Range"),
                              "authorization": "authorization" in request.headers, "time": time.time()})
        if request.match_info["secret"] != self.blob_secret or request.query.get("sig") != self.blob_secret:
            return web.Response(status=403, text="AuthenticationFailed: signature did not match")
        name = request.match_info["name"]
        if not name.endswith(".serialconsole.log"):
            return web.Response(status=404, text="BlobNotFound")
        vm_name = name[: -len(".serialconsole.log")]
        vm = next((v for sub in self.world.subscriptions.values() for v in sub["vms"] if v["name"] == vm_name), {})
        data = (boot_log_text(vm_name, vm.get("boot_log")) + self.appended_logs.get(vm_name, "")).encode()
        start, status = 0, 200
        if match := re.fullmatch(r"bytes=(\d+)-", request.headers.get("Range", "")):
            start = int(match[1])
            if start >= len(data) and data:
                return web.Response(status=416, headers={"Content-Range": f"bytes */{len(data)}"})
            status = 206
        body = data[start:]
        headers = {"Content-Length": str(len(body)), "Accept-Ranges": "bytes", "Content-Type": "text/plain"}
        if status == 206:
            headers["Content-Range"] = f"bytes {start}-{max(start, len(data) - 1)}/{len(data)}"
        return web.Response(status=status, body=b"" if request.method == "HEAD" else body, headers=headers)

    async def append_boot_log(self, request: web.Request) -> web.Response:
        vm = request.match_info["vm"]
        self.appended_logs[vm] = self.appended_logs.get(vm, "") + (await request.text())
        return web.Response(text="ok")


def _fault_answer(fault: Fault) -> web.Response:
    """An injected answer: ARM's error, or the fault's own body (a str as written, else JSON)."""
    retry = fault.retry_after
    headers = {} if retry is None else {"Retry-After": retry if isinstance(retry, str) else f"{retry:g}"}
    if isinstance(fault.body, str):
        return web.Response(text=fault.body, status=fault.status, headers=headers, content_type="text/plain")
    body = fault.body if fault.body is not None else {"error": {"code": fault.code, "message": fault.message}}
    return web.json_response(body, status=fault.status, headers=headers)
