"""The serial console gateway: the WebSocket from `connectionString`, and the admin commands.

As strict as the real gateway is likely to be (docs/emulator.md, "gateway"), never stricter than the
official client needs: a connection string is single-use and expires; the token comes only as the
client's first TEXT frame after the status frame (a token in the URL is "Connection not trusted");
input is TEXT frames (BINARY input closes 1003 by default); a new session takes the console over
when it authenticates. Output goes out as BINARY frames cut at arbitrary byte boundaries.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import random
import re
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import WSMsgType, web

from sercon_emulator.authority import TokenStore
from sercon_emulator.vmconsole import Login, VmConsole
from sercon_emulator.world import TAKEOVER_REASON, GatewayOptions, World

__all__ = ["FRAME_LIMIT", "TAKEOVER_REASON", "Gateway"]

FRAME_LIMIT = 2048
AUTH_TIMEOUT = 10.0
CLOSE_HOOK_WAIT = 2.0  # the close hook waits this long at most for the clients to answer its close
ADMIN_AUTH_WAIT = 5.0  # an admin POST may race the token frame of its own session (the one-shot `send`)
STATUS_FRAME = "Connecting to the serial console of the virtual machine..."
NOT_TRUSTED = (1011, "Connection not trusted")
NOT_FOUND = (1008, "Session not found or expired")
UNSUPPORTED = (1003, "Unsupported data")
REFUSED = (1011, "InternalServerError")  # code, default reason (gateway option refuse_reason)
JWT = re.compile(r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$")
# TEXT frames as raw bytes where aiohttp allows it: the official client on Windows can send a lone
# byte of a wide character in a TEXT frame, and a gateway that refused it would refuse that client.
RAW_TEXT = {"decode_text": False} if "decode_text" in inspect.signature(web.WebSocketResponse).parameters else {}


@dataclass
class GatewaySession:
    sid: str
    vm_key: str
    vm: dict[str, Any]
    options: GatewayOptions
    created: float  # time.monotonic() of the connect call
    used: bool = False  # a WebSocket GET came: a connection string is single-use
    ws: web.WebSocketResponse | None = None  # set once authenticated and owning the console
    request: web.Request | None = None
    decided: asyncio.Event = field(default_factory=asyncio.Event)  # authentication over, either way
    outbox: asyncio.Queue = field(default_factory=asyncio.Queue)
    stalled: bool = False  # the stall hook: nothing more is sent, ever


class Gateway:
    def __init__(self, world: World, tokens: TokenStore, base_url: str, requests: list[dict[str, Any]]) -> None:
        self.world, self.tokens, self.requests = world, tokens, requests
        self.ws_base = base_url.replace("https://", "wss://", 1)
        self.sessions: dict[str, GatewaySession] = {}
        self.current: dict[str, str] = {}  # vm key -> the session id that owns the console
        self.consoles: dict[str, VmConsole] = {}
        self.auth_counts: dict[str, int] = {}  # vm key -> WebSocket sessions authenticated (refused or not)
        # Counters for the tests (docs/emulator.md, "Gateway counters").
        self.text_frames = self.binary_frames = self.oversize_frames = 0
        self.sessions_opened = self.refused = self.connect_calls = self.pong_timeouts = 0
        self.rng = random.Random(1)
        self._tasks: set[asyncio.Task] = set()
        self._live: dict[int, web.Request] = {}  # every WebSocket being served, to drop them at stop()

    def routes(self) -> list[web.RouteDef]:
        return [web.get("/n/connector/{c}/sessions/{sid}/client", self.client),
                web.post("/n/connector/{c}/sessions/{sid}/adminCommand/{command}", self.admin),
                web.post("/_emulator/gateway/{vm}/cut", self.cut),
                web.post("/_emulator/gateway/{vm}/stall", self.stall),
                web.post("/_emulator/gateway/{vm}/close", self.close_hook)]

    # -- called by ARM's connect ------------------------------------------------------------------
    async def open_session(self, vm_key: str, vm: dict[str, Any]) -> str:
        """A new single-use connection string; the console stays with whoever holds it until this authenticates."""
        self.connect_calls += 1
        self._forget_stale()
        if vm_key not in self.consoles:
            console = _make_console(vm)
            try:
                console.start()
            except BaseException:
                console.stop()  # its throw-away HOME too
                raise
            self.consoles[vm_key] = console
        sid = str(uuid.uuid4())
        self.sessions[sid] = GatewaySession(sid, vm_key, vm, self.world.gateway_options(vm), time.monotonic())
        return f"{self.ws_base}/n/connector/consoleconn-emu/sessions/{sid}/client"

    def _forget_stale(self) -> None:
        now, owners = time.monotonic(), set(self.current.values())
        for sid, s in list(self.sessions.items()):
            finished = s.used and s.decided.is_set() and (s.ws is None or s.ws.closed) and sid not in owners
            if finished or (not s.used and now - s.created > s.options.connection_string_ttl):
                del self.sessions[sid]

    # -- the WebSocket ----------------------------------------------------------------------------
    async def client(self, request: web.Request) -> web.StreamResponse:
        self.requests.append({"method": "GET", "url": request.path, "query": bool(request.query_string),
                              "time": time.time(), "authorization": "authorization" in request.headers})
        if (fault := self.world.take_fault("GET", request.path)) is not None:
            await asyncio.sleep(fault.delay)  # the upgrade answered late (a long delay: never, for the client)
        session = self.sessions.get(request.match_info["sid"])
        options = session.options if session is not None else self.world.gateway
        ws = web.WebSocketResponse(heartbeat=options.ping_interval, max_msg_size=1 << 22, **RAW_TEXT)
        await ws.prepare(request)
        claimed = self._claim(session)
        self._live[id(request)] = request
        try:
            if self._token_in_query(request):
                await ws.close(code=NOT_TRUSTED[0], message=NOT_TRUSTED[1].encode())
            elif not claimed:
                await ws.close(code=NOT_FOUND[0], message=NOT_FOUND[1].encode())
            else:
                await self._authenticate(session, ws, request)
        finally:
            self._live.pop(id(request), None)
            if claimed:
                session.decided.set()
        return ws

    def _claim(self, session: GatewaySession | None) -> bool:
        """True for the first GET of a live connection string; any later GET finds it used."""
        if session is None or session.used:
            return False
        session.used = True
        if time.monotonic() - session.created > session.options.connection_string_ttl:
            session.decided.set()  # expired: nothing will ever authenticate on it
            return False
        return True

    def _token_in_query(self, request: web.Request) -> bool:
        """The new auth flow never puts the token in the URL: `authorization=`, or any value that is a token."""
        return any(key.lower() == "authorization" or JWT.match(value) or self.tokens.check(value, None)[0] is not None
                   for key, value in request.query.items())

    async def _authenticate(self, session: GatewaySession, ws: web.WebSocketResponse, request: web.Request) -> None:
        await ws.send_str(STATUS_FRAME)
        token = await self._first_token(ws)
        if token is None:
            await ws.close(code=NOT_TRUSTED[0], message=NOT_TRUSTED[1].encode())
            return
        if self._refuse_after_auth(session):
            await ws.close(code=REFUSED[0], message=session.options.refuse_reason.encode())
            return
        await self._serve(session, ws, request, token)

    async def _first_token(self, ws: web.WebSocketResponse) -> str | None:
        """The raw ARM token as the first TEXT frame, within AUTH_TIMEOUT; anything else is not trusted."""
        try:
            message = await ws.receive(timeout=AUTH_TIMEOUT)
        except asyncio.TimeoutError:
            return None
        if message.type != WSMsgType.TEXT:
            return None
        token = message.data.decode("utf-8", "replace") if isinstance(message.data, bytes) else message.data
        return token if self.tokens.check(token)[0] is not None else None

    def _refuse_after_auth(self, session: GatewaySession) -> bool:
        count = self.auth_counts[session.vm_key] = self.auth_counts.get(session.vm_key, 0) + 1
        mode = session.options.refuse_after_auth
        refuse = mode == "always" or (mode == "alternate" and count % 2 == 1)
        self.refused += refuse
        return refuse

    async def _serve(self, session: GatewaySession, ws: web.WebSocketResponse, request: web.Request,
                     token: str) -> None:
        """The authenticated session takes the console over and pumps input and output until it ends."""
        self.sessions_opened += 1
        self._take_over(session)
        session.ws, session.request = ws, request
        session.decided.set()
        console = self.consoles[session.vm_key]
        console.listener = session.outbox.put_nowait
        sender = asyncio.create_task(self._send_output(session))
        try:
            await self._read_input(session, ws, token.encode(), console)
        finally:
            sender.cancel()
            if self.current.get(session.vm_key) == session.sid and console.listener == session.outbox.put_nowait:
                console.listener = None
            if isinstance(ws.exception(), asyncio.TimeoutError):
                self.pong_timeouts += 1  # aiohttp's heartbeat found no pong

    def _take_over(self, session: GatewaySession) -> None:
        previous = self.sessions.get(self.current.get(session.vm_key, ""))
        self.current[session.vm_key] = session.sid
        if previous is not None and previous.ws is not None and not previous.ws.closed:
            self._close_later(previous.ws, previous.options.takeover_code, previous.options.takeover_reason)

    def _close_later(self, ws: web.WebSocketResponse, code: int, reason: str) -> asyncio.Task:
        """Send a close frame without waiting here for the peer's answer (close() would wait up to 10 s)."""
        task = asyncio.create_task(ws.close(code=code, message=reason.encode()))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _read_input(self, session: GatewaySession, ws: web.WebSocketResponse, token: bytes,
                          console: Any) -> None:
        async for message in ws:
            if message.type == WSMsgType.TEXT:
                data = message.data if isinstance(message.data, bytes) else message.data.encode()
                if data == token:
                    continue  # a repeated token frame (flow B sends it twice)
                self.text_frames += 1
            elif message.type == WSMsgType.BINARY:
                self.binary_frames += 1
                if session.options.binary_input == "reject":
                    await ws.close(code=UNSUPPORTED[0], message=UNSUPPORTED[1].encode())
                    return
                if session.options.binary_input == "ignore":
                    continue
                data = message.data
            else:
                return
            if len(data) > FRAME_LIMIT:
                self.oversize_frames += 1
                continue
            console.write(data)

    async def _send_output(self, session: GatewaySession) -> None:
        """Binary frames cut at arbitrary byte boundaries (a UTF-8 character may be split)."""
        while True:
            data = await session.outbox.get()
            while not session.outbox.empty() and len(data) < 8192:
                data += session.outbox.get_nowait()
            if session.stalled:
                continue
            while data:
                cut = session.vm.get("frame_bytes") or self.rng.randint(1, max(1, len(data)))
                try:
                    await session.ws.send_bytes(data[:cut])
                except (ConnectionError, RuntimeError):
                    return  # the socket is closing: the rest is lost, as on a real serial line
                data = data[cut:]

    # -- admin commands ---------------------------------------------------------------------------
    async def admin(self, request: web.Request) -> web.Response:
        self.requests.append({"method": "POST", "url": request.path, "query": bool(request.query_string),
                              "time": time.time(), "authorization": "authorization" in request.headers})
        header = request.headers.get("Authorization", "")
        if not header.lower().startswith("bearer ") or self.tokens.check(header[7:].strip())[0] is None:
            return web.json_response({"error": "Unauthorized"}, status=401)
        session = self.sessions.get(request.match_info["sid"])
        if session is not None and session.used and not session.decided.is_set():
            with contextlib.suppress(asyncio.TimeoutError):  # its token frame is on the way
                await asyncio.wait_for(session.decided.wait(), ADMIN_AUTH_WAIT)
        if not self._owns_console(session):
            return web.json_response({"error": "No active session"}, status=404)
        body = json.loads(await request.text() or "{}")
        return self._run_admin(session, request.match_info["command"], body)

    def _owns_console(self, session: GatewaySession | None) -> bool:
        return (session is not None and session.ws is not None and not session.ws.closed
                and self.current.get(session.vm_key) == session.sid)

    def _run_admin(self, session: GatewaySession, command: str, body: dict[str, Any]) -> web.Response:
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

    # -- test hooks -------------------------------------------------------------------------------
    def _owners(self, vm_name: str) -> list[GatewaySession]:
        """The sessions that own the console of every VM called `vm_name` (any subscription or group)."""
        return [self.sessions[sid] for key, sid in self.current.items()
                if key.endswith("/" + vm_name.lower()) and sid in self.sessions]

    async def cut(self, request: web.Request) -> web.Response:
        """Test hook: drop the VM's WebSocket without a close frame, as a network failure does."""
        for session in self._owners(request.match_info["vm"]):
            if session.request is not None and session.request.transport is not None:
                session.request.transport.abort()
        return web.Response(text="cut")

    async def stall(self, request: web.Request) -> web.Response:
        """Test hook: start a binary frame of 256 bytes, send 10 of them, and send nothing more, ever
        (the connection stays open): a gateway or proxy that hangs in the middle of a frame."""
        stalled = 0
        for session in self._owners(request.match_info["vm"]):
            if session.request is not None and session.request.transport is not None:
                session.stalled = True  # console output no longer reaches this client
                session.request.transport.write(b"\x82\x7e\x01\x00" + b"x" * 10)
                stalled += 1
        return web.json_response({"stalled": stalled})

    async def close_hook(self, request: web.Request) -> web.Response:
        """Test hook: close the VM's WebSocket WITH a close frame of the given code and reason."""
        body = json.loads(await request.text() or "{}")
        closing = [self._close_later(session.ws, int(body.get("code", 1000)), str(body.get("reason", "")))
                   for session in self._owners(request.match_info["vm"])
                   if session.ws is not None and not session.ws.closed]
        if closing:  # answer once the clients have the close (their reply came), so a test can act on it
            await asyncio.wait(closing, timeout=CLOSE_HOOK_WAIT)
        return web.json_response({"closed": len(closing)})

    def stop(self) -> None:
        """Drop every socket (the server's cleanup would wait for each handler) and stop the VMs."""
        for request in list(self._live.values()):
            if request.transport is not None:
                request.transport.abort()
        for task in list(self._tasks):
            task.cancel()
        for console in self.consoles.values():
            console.stop()
        self.consoles.clear()


def _make_console(vm: dict[str, Any]) -> Any:
    """A VM is a command in a pty (a login prompt and a shell by default), or a real QEMU guest."""
    if vm.get("qemu"):
        from sercon_emulator.qemu import GuestImage
        from sercon_emulator.qemu_console import QemuConsole

        image = vm["qemu"]
        if image.get("disk"):  # a whole distribution on a disk, its GRUB included
            return QemuConsole(None, disk=Path(image["disk"]))
        iso = Path(image["iso"]) if image.get("iso") else None  # boot through this image's GRUB
        return QemuConsole(GuestImage(Path(image["kernel"]), Path(image["initrd"]), vm.get("password", "")), iso)
    if vm.get("command"):
        return VmConsole(list(vm["command"]))
    return VmConsole(login=Login(vm["name"], vm.get("admin_username", "azureuser"), vm.get("password") or None,
                                 bool(vm.get("allow_empty_password", False)), dict(vm.get("access_users") or {})))
