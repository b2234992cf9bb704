"""Long-running ARM operations: the Azure-AsyncOperation and Location URLs of a start, an update or an
extension, and their status answers (ARM's "Track asynchronous Azure operations" page).

An operation answers InProgress to its first `polls` status reads (through either URL), then runs its
`finish` (the VM runs, the extension's user exists) and answers Succeeded, or Failed with the error
`finish` returns. One nobody polls ends by itself after `seconds`, as Azure's would.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from sercon_emulator.arm_shapes import arm_error
from sercon_emulator.world import World

# What `finish` returns: None for success, else (code, message) of the failure.
Finish = Callable[[], "tuple[str, str] | None"]
READ_ACTION = "Microsoft.Compute/locations/operations/read"
IN_PROGRESS, SUCCEEDED, FAILED = "InProgress", "Succeeded", "Failed"


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S.0000000+00:00", time.gmtime())


@dataclass
class Operation:
    id: str
    subscription: str
    location: str
    scope: str  # the resource's group: tracking needs rights there (ARM's page, "Permission for tracking")
    finish: Finish
    result: Callable[[], dict[str, Any] | None]  # what the Location URL gives at the end (None: no body)
    polls_left: int
    urls: dict[str, str] = field(default_factory=dict)
    status: str = IN_PROGRESS
    error: dict[str, str] | None = None
    start_time: str = field(default_factory=_now)
    end_time: str | None = None

    def end(self) -> None:
        """Run `finish` once; the operation is over."""
        if self.status != IN_PROGRESS:
            return
        failure = self.finish()
        self.status = SUCCEEDED if failure is None else FAILED
        self.error = None if failure is None else {"code": failure[0], "message": failure[1]}
        self.end_time = _now()


class Operations:
    def __init__(self, world: World, base_url: str) -> None:
        self.world, self.base_url = world, base_url
        self.running: dict[str, Operation] = {}

    def begin(self, request: web.Request, sub: str, location: str, scope: str, finish: Finish,
              result: Callable[[], dict[str, Any] | None] = lambda: None) -> dict[str, str]:
        """A new operation; the headers of the first answer (its URLs, Retry-After)."""
        options = self.world.operations
        op = Operation(str(uuid.uuid4()), sub, location, scope, finish, result, options.polls)
        self.running[op.id] = op
        asyncio.get_running_loop().call_later(options.seconds, op.end)
        version = next((v for k, v in request.query.items() if k.lower() == "api-version"), "")
        path = (f"{self.base_url}/subscriptions/{sub}/providers/Microsoft.Compute/locations/{location}/"
                f"operations/{op.id}")
        op.urls = {"Azure-AsyncOperation": f"{path}?{urlencode({'api-version': version})}",
                   "Location": f"{path}?{urlencode({'monitor': 'true', 'api-version': version})}"}
        headers = {name: op.urls[name] for name in options.headers}
        return {**headers, "Retry-After": str(options.retry_after)}

    async def status(self, request: web.Request, params: dict[str, str], who: Any) -> web.Response:
        op = self.running.get(params["op"].lower())
        if op is None or op.subscription.lower() != params["sub"].lower():
            return arm_error(404, "NotFound", f"The operation '{params['op']}' was not found.")
        if not self.world.allowed(who.object_id, READ_ACTION, op.scope):
            return arm_error(403, "AuthorizationFailed", f"The client with object id '{who.object_id}' does not "
                             f"have authorization to perform action '{READ_ACTION}' over scope '{op.scope}'.")
        if op.status == IN_PROGRESS:
            if op.polls_left > 0:
                op.polls_left -= 1
            else:
                op.end()
        retry = {"Retry-After": str(self.world.operations.retry_after)}
        if request.query.get("monitor") == "true":
            return self._location_answer(op, retry)
        body: dict[str, Any] = {"startTime": op.start_time, "status": op.status, "name": op.id}
        if op.end_time:
            body["endTime"] = op.end_time
        if op.error:
            body["error"] = op.error
        return web.json_response(body, headers=retry if op.status == IN_PROGRESS else {})

    @staticmethod
    def _location_answer(op: Operation, retry: dict[str, str]) -> web.Response:
        """202 with the same Location until the end; then 200 (with the resource for a PUT or PATCH), or the
        failure as an ARM error."""
        if op.status == IN_PROGRESS:
            return web.Response(status=202, headers={"Location": op.urls["Location"], **retry})
        if op.status == FAILED:
            return web.json_response({"error": op.error}, status=400)
        body = op.result()
        return web.json_response(body) if body is not None else web.Response(status=200)
