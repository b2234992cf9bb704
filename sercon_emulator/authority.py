"""The emulator's sign-in authority: OpenID discovery, token grants, device code, managed identity."""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import json
import re
import secrets
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from sercon_emulator.world import World

GRANT_DEVICE = "urn:ietf:params:oauth:grant-type:device_code"
# The audiences ARM takes, in the order of its own refusal message; the gateway takes the same ARM token.
ARM_AUDIENCES = ("https://management.core.windows.net/", "https://management.core.windows.net",
                 "https://management.azure.com/", "https://management.azure.com")
OIDC_SCOPES = {"openid", "profile", "offline_access", "email"}
ADMIN_HEADER = "X-Sercon-Emulator-Secret"  # the emulator's admin secret: device-code approval and test hooks
DEVICE_PAGE = """<!doctype html><title>sercon emulator: device sign-in</title>
<form method=post>
<p>Code: <input name="user_code"> User: <input name="username" placeholder="{user}"></p>
<p>The emulator's admin secret (SERCON_EMULATOR_SECRET, printed by <code>sercon emulator</code>):
<input name="secret" type="password" autocomplete="off"></p>
<button>Sign in</button></form>
"""


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@dataclass
class Identity:
    object_id: str
    tenant: str
    name: str
    app_id: str | None = None
    username: str | None = None


@dataclass
class TokenStore:
    """Access tokens are HMAC-signed JWTs; the store knows which are live and which expired."""

    key: bytes = field(default_factory=lambda: secrets.token_bytes(32))
    live: dict[str, tuple[Identity, float]] = field(default_factory=dict)
    audiences: dict[str, str] = field(default_factory=dict)  # token -> its "aud"
    refresh: dict[str, Identity] = field(default_factory=dict)

    def issue(self, who: Identity, lifetime: int, audience: str = ARM_AUDIENCES[0]) -> str:
        now = int(time.time())
        claims = {"aud": audience, "iss": f"https://sts.emulator/{who.tenant}/", "iat": now, "nbf": now,
                  "exp": now + lifetime, "oid": who.object_id, "tid": who.tenant, "name": who.name,
                  "jti": str(uuid.uuid4())}
        if who.app_id:
            claims["appid"] = who.app_id
        if who.username:
            claims["upn"] = who.username
        token = self._sign(claims)
        self.live[token] = (who, now + lifetime)
        self.audiences[token] = audience
        return token

    def _sign(self, claims: dict[str, Any]) -> str:
        head = b64url(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
        body = b64url(json.dumps(claims).encode())
        sig = hmac.new(self.key, f"{head}.{body}".encode(), hashlib.sha256).digest()
        return f"{head}.{body}.{b64url(sig)}"

    def check(self, token: str, audiences: tuple[str, ...] | None = ARM_AUDIENCES) -> tuple[Identity | None, str]:
        """(identity, "") for a live token issued for one of *audiences* (None: any), else (None, the
        ARM error code). ARM and the gateway take only an ARM token, as the real services do: a token
        the same authority issued for storage or Key Vault proves nothing to them."""
        entry = self.live.get(token)
        if entry is None:
            return None, "InvalidAuthenticationToken"
        if entry[1] < time.time():
            return None, "ExpiredAuthenticationToken"
        if audiences is not None and self.audiences.get(token) not in audiences:
            return None, "InvalidAuthenticationTokenAudience"
        return entry[0], ""

    def refusal(self, code: str, token: str) -> str:
        """ARM's message for a refused token (the audience one in ARM's own words)."""
        if code == "ExpiredAuthenticationToken":
            return "The access token expiry UTC time is earlier than current UTC time."
        if code == "InvalidAuthenticationTokenAudience":
            allowed = ",".join(f"'{aud}'" for aud in ARM_AUDIENCES)
            return (f"The access token has been obtained for wrong audience or resource "
                    f"'{self.audiences.get(token, '')}'. It should exactly match with one of the allowed "
                    f"audiences {allowed}.")
        return "The access token is invalid."

    def id_token(self, who: Identity, client_id: str, issuer: str, lifetime: int) -> str:
        now = int(time.time())
        return self._sign({"aud": client_id, "iss": issuer, "iat": now, "nbf": now, "exp": now + lifetime,
                           "oid": who.object_id, "sub": who.object_id, "tid": who.tenant, "name": who.name,
                           "preferred_username": who.username or who.name, "ver": "2.0"})


def requested_audience(scope: str) -> str:
    """The resource a token request's scopes name (`RESOURCE/.default`: RESOURCE), as Entra ID makes it the
    token's audience; only sign-in scopes (openid...) name none, and Entra then gives a Graph token."""
    for item in scope.split():
        if item.lower() not in OIDC_SCOPES and "/" in item:
            return item.rsplit("/", 1)[0]
    return "https://graph.microsoft.com"


def admin_refusal(given: str | None, admin_secret: str) -> web.Response | None:
    """None when *given* is the admin secret; else 401 (none given) or 403 (a wrong one)."""
    if not given:
        return web.json_response({"error": f"the emulator's admin secret is required ({ADMIN_HEADER})"},
                                 status=401)
    if not hmac.compare_digest(given.encode(), admin_secret.encode()):
        return web.json_response({"error": "wrong emulator admin secret"}, status=403)
    return None


def _oauth_error(status: int, error: str, description: str) -> web.Response:
    code = re.match(r"AADSTS(\d+)", description)
    return web.json_response({"error": error, "error_description": description,
                              "error_codes": [int(code[1])] if code else []}, status=status)


class Authority:
    def __init__(self, world: World, tokens: TokenStore, base_url: str, admin_secret: str) -> None:
        self.world, self.tokens, self.base_url = world, tokens, base_url
        self.admin_secret = admin_secret  # approving a device code signs a user in: only for its holder
        self.device_flows: dict[str, dict[str, Any]] = {}  # device_code -> flow

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/{tenant}/v2.0/.well-known/openid-configuration", self.discovery),
            web.post("/{tenant}/oauth2/v2.0/token", self.token),
            web.post("/{tenant}/oauth2/v2.0/devicecode", self.device_code),
            web.get("/devicelogin", self.device_page),
            web.post("/devicelogin", self.device_approve),
            web.get("/msi/token", self.managed_identity_token),
        ]

    def _issuer(self, tenant: str) -> str:
        return f"{self.base_url}/{tenant}/v2.0"

    async def discovery(self, request: web.Request) -> web.Response:
        tenant = request.match_info["tenant"]
        if tenant not in (self.world.tenant, "organizations", "common"):
            return _oauth_error(400, "invalid_tenant", f"AADSTS90002: Tenant '{tenant}' not found.")
        base = f"{self.base_url}/{tenant}"
        return web.json_response({
            "issuer": self._issuer(self.world.tenant if tenant in ("organizations", "common") else tenant),
            "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
            "token_endpoint": f"{base}/oauth2/v2.0/token",
            "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
            "end_session_endpoint": f"{base}/oauth2/v2.0/logout",
            "jwks_uri": f"{base}/discovery/v2.0/keys",
            "response_types_supported": ["code", "id_token", "code id_token", "token id_token"],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
            "tenant_region_scope": "EU",
        })

    async def token(self, request: web.Request) -> web.Response:
        form = await request.post()
        grant = form.get("grant_type")
        if grant == "client_credentials":
            return self._client_credentials(form)
        if grant == GRANT_DEVICE:
            return self._device_grant(form)
        if grant == "refresh_token":
            who = self.tokens.refresh.get(str(form.get("refresh_token")))
            if who is None:
                return _oauth_error(400, "invalid_grant", "AADSTS700082: The refresh token has expired.")
            return self._user_tokens(who, str(form.get("client_id")), requested_audience(str(form.get("scope", ""))))
        return _oauth_error(400, "unsupported_grant_type", f"AADSTS70003: grant type {grant!r} is not supported.")

    def _client_credentials(self, form: Any) -> web.Response:
        principal = self.world.principals.get(str(form.get("client_id")))
        if principal is None:
            return _oauth_error(400, "unauthorized_client",
                                f"AADSTS700016: Application with identifier '{form.get('client_id')}' "
                                "was not found in the directory.")
        assertion = form.get("client_assertion")
        if assertion is not None:
            ok = principal.federated_token is not None and hmac.compare_digest(
                str(assertion).strip(), principal.federated_token.strip())
            ok = ok or self._certificate_assertion_ok(principal, str(assertion))
        else:
            ok = principal.secret is not None and hmac.compare_digest(str(form.get("client_secret", "")),
                                                                      principal.secret)
        if not ok:
            return _oauth_error(401, "invalid_client",
                                "AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in "
                                "the request is the client secret value, not the client secret ID.")
        who = Identity(principal.object_id, self.world.tenant, principal.name, app_id=principal.client_id)
        return self._token_response(who, requested_audience(str(form.get("scope", ""))))

    def _certificate_assertion_ok(self, principal: Any, assertion: str) -> bool:
        """A client assertion (RFC 7523) signed with the key of the registered certificate, for us."""
        if not principal.certificate:
            return False
        import jwt
        from cryptography import x509

        public_key = x509.load_pem_x509_certificate(principal.certificate.encode()).public_key()
        try:
            claims = jwt.decode(assertion, public_key, algorithms=["RS256", "PS256"],
                                audience=f"{self.base_url}/{self.world.tenant}/oauth2/v2.0/token")
        except jwt.PyJWTError:
            return False
        return claims.get("iss") == principal.client_id == claims.get("sub")

    def _token_response(self, who: Identity, audience: str, extra: dict[str, Any] | None = None) -> web.Response:
        lifetime = self.world.token_lifetime
        body = {"token_type": "Bearer", "expires_in": lifetime, "ext_expires_in": lifetime,
                "access_token": self.tokens.issue(who, lifetime, audience), **(extra or {})}
        return web.json_response(body)

    def _user_tokens(self, who: Identity, client_id: str, audience: str) -> web.Response:
        refresh = secrets.token_urlsafe(32)
        self.tokens.refresh[refresh] = who
        client_info = b64url(json.dumps({"uid": who.object_id, "utid": who.tenant}).encode())
        return self._token_response(who, audience, {
            "scope": f"{audience}/user_impersonation",
            "refresh_token": refresh, "client_info": client_info,
            "id_token": self.tokens.id_token(who, client_id, self._issuer(who.tenant), 3600),
        })

    async def device_code(self, request: web.Request) -> web.Response:
        form = await request.post()
        code = secrets.token_urlsafe(24)
        user_code = f"{secrets.randbelow(10**4):04d}-{secrets.token_hex(2).upper()}"
        self.device_flows[code] = {"user_code": user_code, "client_id": form.get("client_id"), "approved_by": None,
                                   "expires": time.time() + 900, "scope": str(form.get("scope", ""))}
        uri = f"{self.base_url}/devicelogin"
        return web.json_response({
            "device_code": code, "user_code": user_code, "verification_uri": uri, "expires_in": 900,
            "interval": 1, "message": f"To sign in, open {uri} and enter the code {user_code} to authenticate.",
        })

    def _device_grant(self, form: Any) -> web.Response:
        flow = self.device_flows.get(str(form.get("device_code")))
        if flow is None or flow["expires"] < time.time():
            return _oauth_error(400, "expired_token", "AADSTS70019: Verification code expired.")
        if flow["approved_by"] is None:
            return _oauth_error(400, "authorization_pending",
                                "AADSTS70016: OAuth 2.0 device flow error. Authorization is pending.")
        del self.device_flows[str(form.get("device_code"))]
        scope = str(form.get("scope") or flow["scope"])
        return self._user_tokens(flow["approved_by"], str(form.get("client_id")), requested_audience(scope))

    async def device_page(self, request: web.Request) -> web.Response:
        return web.Response(content_type="text/html", text=DEVICE_PAGE.format(
            user=html.escape(self.world.users[0]["username"])))

    async def device_approve(self, request: web.Request) -> web.Response:
        """Approve a device code, as the user would in a browser; the admin secret proves who approves."""
        form = await request.post()
        refusal = admin_refusal(str(form.get("secret") or request.headers.get(ADMIN_HEADER) or ""),
                                self.admin_secret)
        if refusal is not None:
            return refusal
        username = str(form.get("username") or self.world.users[0]["username"])
        user = next((u for u in self.world.users if u["username"] == username), None)
        flow = next((f for f in self.device_flows.values() if f["user_code"] == form.get("user_code")), None)
        if user is None or flow is None:
            return web.Response(status=400, text="unknown code or user")
        flow["approved_by"] = Identity(user["object_id"], self.world.tenant, user["username"],
                                       username=user["username"])
        return web.Response(text=f"Signed in as {username}. You can close this window.")

    async def managed_identity_token(self, request: web.Request) -> web.Response:
        expected = self.world.managed_identity.get("header")
        if not expected or request.headers.get("X-IDENTITY-HEADER") != expected:
            return web.json_response({"statusCode": 400, "message": "no managed identity here"}, status=400)
        who = Identity(self.world.managed_identity.get("object_id", str(uuid.uuid4())), self.world.tenant,
                       "managed identity", app_id=self.world.managed_identity.get("client_id"))
        lifetime, resource = self.world.token_lifetime, request.query.get("resource", "")
        return web.json_response({"access_token": self.tokens.issue(who, lifetime, resource), "token_type": "Bearer",
                                  "expires_on": str(int(time.time()) + lifetime), "resource": resource})
