"""The serial console gateway: the WebSocket from `connectionString`, and the admin commands.

Follows docs/azure-protocol.md sections 4 and 5 in the strict "new auth flow": a status frame
first, then the raw ARM token as the client's first text frame (or, tolerated, `?authorization=`),
else close 1011 "Connection not trusted". Output goes out as binary frames cut at arbitrary byte
boundaries; input frames over 2048 bytes are dropped; a newer connect for a VM takes the console
from the older session.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import WSMsgType, web

from sercon.emulator.authority import TokenStore
from sercon.emulator.vmconsole import VmConsole, default_command
from sercon.emulator.world import World

FRAME_LIMIT = 2048
TAKEOVER_REASON = "Another user connected to the serial console of this virtual machine"
AUTH_TIMEOUT = 10.0


@dataclass
class GatewaySession:
    sid: str
    vm_key: str
    vm: dict[str, Any]
    ws: web.WebSocketResponse | None = None
    request: web.Request | None = None
    outbox: asyncio.Queue = field(default_factory=asyncio.Queue)


class Gateway:
    def __init__(self, world: World, tokens: TokenStore, base_url: str, requests: list[dict[str, Any]]) -> None:
        self.world, self.tokens, self.requests = world, tokens, requests
        self.ws_base = base_url.replace("https://", "wss://", 1)
        self.sessions: dict[str, GatewaySession] = {}
        self.current: dict[str, str] = {}  # vm key -> the session id that owns the console
        self.consoles: dict[str, VmConsole] = {}
        self.oversize_frames = 0
        self.rng = random.Random(1)

    def routes(self) -> list[web.RouteDef]:
        return [web.get("/n/connector/{c}/sessions/{sid}/client", self.client),
                web.post("/n/connector/{c}/sessions/{sid}/adminCommand/{command}", self.admin),
                web.post("/_emulator/gateway/{vm}/cut", self.cut)]

    # -- called by ARM's connect ------------------------------------------------------------------
    async def open_session(self, vm_key: str, vm: dict[str, Any]) -> str:
        console = self.consoles.get(vm_key)
        if console is None:
            console = _make_console(vm)
            console.start()
            self.consoles[vm_key] = console
        previous = self.sessions.get(self.current.get(vm_key, ""))
        if previous is not None and previous.ws is not None and not previous.ws.closed:
            await previous.ws.close(code=1000, message=TAKEOVER_REASON.encode())
        sid = str(uuid.uuid4())
        self.sessions[sid] = GatewaySession(sid, vm_key, vm)
        self.current[vm_key] = sid
        return f"{self.ws_base}/n/connector/consoleconn-emu/sessions/{sid}/client"

    # -- the WebSocket ----------------------------------------------------------------------------
    async def client(self, request: web.Request) -> web.StreamResponse:
        self.requests.append({"method": "GET", "url": str(request.rel_url), "time": time.time(),
                              "authorization": "authorization" in request.headers})
        ws = web.WebSocketResponse(heartbeat=None, max_msg_size=1 << 22)
        await ws.prepare(request)
        session = self.sessions.get(request.match_info["sid"])
        if session is None or self.current.get(session.vm_key) != session.sid or session.ws is not None:
            await ws.close(code=1008, message=b"Session not found or expired")
            return ws
        await ws.send_str("Connecting to the serial console of the virtual machine...")
        token = request.query.get("authorization") or await self._first_text(ws)
        if token is None or self.tokens.check(token)[0] is None:
            await ws.close(code=1011, message=b"Connection not trusted")
            return ws
        session.ws, session.request = ws, request
        console = self.consoles[session.vm_key]
        console.listener = session.outbox.put_nowait
        sender = asyncio.create_task(self._send_output(session))
        try:
            async for message in ws:
                if message.type not in (WSMsgType.TEXT, WSMsgType.BINARY):
                    break
                data = message.data.encode() if message.type == WSMsgType.TEXT else message.data
                if message.type == WSMsgType.TEXT and message.data == token:
                    continue  # flow B sends the token twice
                if len(data) > FRAME_LIMIT:
                    self.oversize_frames += 1
                    continue
                console.write(data)
        finally:
            sender.cancel()
            if self.current.get(session.vm_key) == session.sid and console.listener == session.outbox.put_nowait:
                console.listener = None
        return ws

    async def _first_text(self, ws: web.WebSocketResponse) -> str | None:
        try:
            message = await ws.receive(timeout=AUTH_TIMEOUT)
        except asyncio.TimeoutError:
            return None
        return message.data if message.type == WSMsgType.TEXT else None

    async def _send_output(self, session: GatewaySession) -> None:
        """Binary frames cut at arbitrary byte boundaries (a UTF-8 character may be split)."""
        while True:
            data = await session.outbox.get()
            while not session.outbox.empty() and len(data) < 8192:
                data += session.outbox.get_nowait()
            while data:
                cut = session.vm.get("frame_bytes") or self.rng.randint(1, max(1, len(data)))
                await session.ws.send_bytes(data[:cut])
                data = data[cut:]

    # -- admin commands ---------------------------------------------------------------------------
    async def admin(self, request: web.Request) -> web.Response:
        self.requests.append({"method": "POST", "url": str(request.rel_url), "time": time.time(),
                              "authorization": "authorization" in request.headers})
        header = request.headers.get("Authorization", "")
        if not header.lower().startswith("bearer ") or self.tokens.check(header[7:].strip())[0] is None:
            return web.json_response({"error": "Unauthorized"}, status=401)
        session = self.sessions.get(request.match_info["sid"])
        if session is None or session.ws is None or session.ws.closed:
            return web.json_response({"error": "No active session"}, status=404)
        body = json.loads(await request.text() or "{}")
        command = request.match_info["command"]
        console = self.consoles[session.vm_key]
        if command == "sysrq":
            keys = str(body.get("commandParameters", {}).get("SysRqCommand", ""))
            if session.vm.get("os") == "Windows" or not keys.isalnum():
                return web.json_response({"error": "Bad SysRq command"}, status=400)
            console.sysrq(keys)
        elif command == "nmi":
            console.nmi()
        elif command == "reset":
            console.reset()
        else:
            return web.json_response({"error": f"unknown command {command}"}, status=400)
        return web.json_response({"requestId": body.get("requestId"), "status": "Succeeded"})

    async def cut(self, request: web.Request) -> web.Response:
        """Test hook: drop the VM's WebSocket without a close frame, as a network failure does."""
        for sid in [s for k, s in self.current.items() if k.endswith("/" + request.match_info["vm"].lower())]:
            session = self.sessions[sid]
            if session.request is not None and session.request.transport is not None:
                session.request.transport.abort()
        return web.Response(text="cut")

    def stop(self) -> None:
        for console in self.consoles.values():
            console.stop()


def _make_console(vm: dict[str, Any]) -> Any:
    """A VM is a command in a pty (a login prompt and a shell by default), or a real QEMU guest."""
    if vm.get("qemu"):
        from sercon.emulator.qemu import GuestImage
        from sercon.emulator.qemu_console import QemuConsole

        image = vm["qemu"]
        return QemuConsole(GuestImage(Path(image["kernel"]), Path(image["initrd"]), vm.get("password", "")))
    command = vm.get("command") or default_command(vm["name"], vm.get("admin_username", "azureuser"))
    return VmConsole(command, env=_vm_env(vm))


def _vm_env(vm: dict[str, Any]) -> dict[str, str]:
    """The VM's login program runs with sercon importable and its password in the environment."""
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": os.environ.get("HOME", "/tmp"),
            "SERCON_VM_PASSWORD": vm.get("password", ""), "PYTHONPATH": os.pathsep.join(sys.path)}
