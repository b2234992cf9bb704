"""Run the emulated Azure (sign-in authority and ARM) on loopback over TLS, in a thread of its own.

Any local user can reach a loopback port, so nothing that leads to a VM's shell is guessable: the
default client secret is new every run, and an admin secret of the run (`admin_secret`) guards the
approval of device codes and every `/_emulator/` test hook (header `X-Sercon-Emulator-Secret`).
"""

from __future__ import annotations

import asyncio
import secrets
import socket
import ssl
import tempfile
import threading
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

from aiohttp import web

from sercon_emulator.arm import Arm
from sercon_emulator.authority import ADMIN_HEADER, Authority, TokenStore, admin_refusal
from sercon_emulator.certs import make_certificates
from sercon_emulator.world import World

__all__ = ["ADMIN_HEADER", "Emulator"]

HOOKS = "/_emulator/"
SHUTDOWN_GRACE = 0.5  # seconds a request still being served gets at stop() before it is cancelled


class Emulator:
    """``with Emulator(world) as emu:`` serves https://127.0.0.1:PORT until the block ends."""

    def __init__(self, world: World, state_dir: Path | None = None, host: str = "127.0.0.1", port: int = 0) -> None:
        self.world = world
        self.host, self.port = host, port
        self.admin_secret = secrets.token_urlsafe(32)
        self._tmp = None if state_dir else tempfile.TemporaryDirectory(prefix="sercon-emulator-")
        self.state_dir = Path(state_dir or self._tmp.name)
        self.ca_path, cert, key = make_certificates(self.state_dir / "tls")
        self._ssl = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self._ssl.load_cert_chain(cert, key)
        self.tokens = TokenStore()
        self.arm: Arm | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    @property
    def base_url(self) -> str:
        return f"https://{self.host}:{self.port}"

    def start(self) -> Emulator:
        self._thread = threading.Thread(target=self._serve, name="sercon-emulator", daemon=True)
        self._thread.start()
        self._ready.wait(30)
        if self._error is not None:
            raise self._error
        return self

    def _serve(self) -> None:
        self._loop = asyncio.new_event_loop()
        try:
            self._loop.run_until_complete(self._start_site())
        except BaseException as exc:  # reported to start()
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        self._loop.run_forever()
        self._loop.run_until_complete(self._shutdown())
        self._loop.close()

    async def _start_site(self) -> None:
        # Bind first: the base URL, port included, goes into discovery documents and links.
        sock = socket.socket(socket.AF_INET6 if ":" in self.host else socket.AF_INET)
        # A fixed --port must be free again at once after a stop, whatever connections linger in TIME_WAIT.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))
        self.port = sock.getsockname()[1]
        app = web.Application(middlewares=[self._guard_hooks, _request_ids])
        self.arm = Arm(self.world, self.tokens, self.base_url)
        app.add_routes(Authority(self.world, self.tokens, self.base_url, self.admin_secret).routes())
        app.add_routes(self.arm.routes())
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=SHUTDOWN_GRACE)
        await self._runner.setup()
        await web.SockSite(self._runner, sock, ssl_context=self._ssl).start()

    @web.middleware
    async def _guard_hooks(self, request: web.Request,
                           handler: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> web.StreamResponse:
        """Every test hook (and any other path under /_emulator/) needs the admin secret."""
        resource = request.match_info.route.resource
        paths = (request.path, resource.canonical if resource is not None else "")
        if any(path.startswith(HOOKS) for path in paths):
            refusal = admin_refusal(request.headers.get(ADMIN_HEADER), self.admin_secret)
            if refusal is not None:
                return refusal
        return await handler(request)

    async def _shutdown(self) -> None:
        """Drop the WebSockets, stop the VMs, give requests SHUTDOWN_GRACE, then cancel what is left."""
        self.arm.gateway.stop()
        await self._runner.cleanup()
        current = asyncio.current_task()
        pending = [task for task in asyncio.all_tasks() if task is not current]
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)

    def stop(self) -> None:
        if self._loop is not None and self._loop.is_running():
            self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(10)
        if self._tmp is not None:
            self._tmp.cleanup()

    def environment(self, admin: bool = False) -> dict[str, str]:
        """What a client needs to use this emulator instead of Azure; *admin* adds SERCON_EMULATOR_SECRET."""
        principal = next(iter(self.world.principals.values()))
        env = {
            "AZURE_AUTHORITY_HOST": self.base_url,
            "SERCON_ARM_ENDPOINT": self.base_url,
            "AZURE_TENANT_ID": self.world.tenant,
            "AZURE_CLIENT_ID": principal.client_id,
            "AZURE_SUBSCRIPTION_ID": next(iter(self.world.subscriptions)),
            "REQUESTS_CA_BUNDLE": str(self.ca_path),
            "SSL_CERT_FILE": str(self.ca_path),
        }
        if principal.secret:
            env["AZURE_CLIENT_SECRET"] = principal.secret
        if admin:
            env["SERCON_EMULATOR_SECRET"] = self.admin_secret
        return env

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


ARM_PATHS = ("/subscriptions", "/providers")


@web.middleware
async def _request_ids(request: web.Request,
                       handler: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> web.StreamResponse:
    """ARM's answer headers on every ARM answer: a fresh x-ms-request-id (and the correlation id) and the
    subscription's remaining reads or writes, as ARM sends them (what `sercon --trace` records)."""
    response = await handler(request)
    if request.path.startswith(ARM_PATHS) and not response.prepared:
        request_id = str(uuid.uuid4())
        kind = "reads" if request.method in ("GET", "HEAD") else "writes"
        response.headers.setdefault("x-ms-request-id", request_id)
        response.headers.setdefault("x-ms-correlation-request-id", request_id)
        response.headers.setdefault(f"x-ms-ratelimit-remaining-subscription-{kind}", "11999" if kind == "reads"
                                    else "1199")
    return response
