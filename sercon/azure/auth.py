"""Sign-in on msal, as a credential chain like azure-identity's DefaultAzureCredential.

Each credential either has nothing to offer (``AuthUnavailable``: the chain tries the next) or
tried and failed (any other error: the chain stops, and its error lists what was tried before it, as
azure-identity's ChainedTokenCredential does). Tokens are never printed or logged; error text
from msal or the Azure CLI goes through ``redact``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

import sercon
from sercon.azure.cache_files import load_token_cache, save_token_cache
from sercon.azure.clouds import Cloud
from sercon.azure.msal_calls import (
    AccessToken,
    authority,
    cache_name_key,
    cached_access_token,
    from_msal,
    http_client,
    msal_call,
)
from sercon.errors import AuthFailed, AuthUnavailable, SerconError, redact
from sercon.paths import cache_dir
from sercon.trust import Trust

CLI_TIMEOUT = 20


class Credential(Protocol):
    """One source of tokens in the chain. ``get_token`` raises ``AuthUnavailable`` when it has nothing
    to offer; ``invalidate`` drops what it holds after the service refused its token."""

    name: str  # shown in `sercon account` and in the chain's errors

    def get_token(self, scope: str) -> AccessToken: ...

    def invalidate(self) -> None: ...


class ServicePrincipalCredential:
    """AZURE_CLIENT_ID + AZURE_TENANT_ID with a secret, a certificate, or a federated token file."""

    def __init__(self, cloud: Cloud, environ: dict[str, str]) -> None:
        self.cloud = cloud
        self.client_id = environ.get("AZURE_CLIENT_ID")
        self.tenant = environ.get("AZURE_TENANT_ID")
        self.secret = environ.get("AZURE_CLIENT_SECRET")
        self.certificate = environ.get("AZURE_CLIENT_CERTIFICATE_PATH")
        self.token_file = environ.get("AZURE_FEDERATED_TOKEN_FILE")
        self.name = "workload identity" if self.token_file and not (self.secret or self.certificate) else \
            "service principal (AZURE_CLIENT_*)"
        self._app: Any = None
        self._cache_folder = cache_dir(environ)
        self._fresh = False  # after a 401: ignore the cached token
        self._lock = threading.Lock()

    def _credential(self) -> Any:
        if self.secret:
            return self.secret
        if self.certificate:
            return _certificate_credential(Path(self.certificate))
        if self.token_file:
            path = Path(self.token_file)
            return {"client_assertion": lambda: path.read_text().strip()}  # re-read: the file is rotated
        raise AuthUnavailable(f"{self.name}: no AZURE_CLIENT_SECRET, AZURE_CLIENT_CERTIFICATE_PATH or "
                              "AZURE_FEDERATED_TOKEN_FILE")

    def get_token(self, scope: str) -> AccessToken:
        client_id, tenant = self.client_id, self.tenant
        if not (client_id and tenant):
            raise AuthUnavailable(f"{self.name}: AZURE_CLIENT_ID and AZURE_TENANT_ID are not both set")
        with self._lock:  # the checks and the connect call ask at once: one token request, one cache write
            return self._token(scope, client_id, tenant)

    def _token(self, scope: str, client_id: str, tenant: str) -> AccessToken:
        if self._app is None:
            credential = self._credential()
            self._cache_path = self._cache_folder / f"service_principal_tokens-{self._cache_key(credential)}.json"
            cached = None if self._fresh else cached_access_token(self._cache_path, client_id, tenant,
                                                                  self.cloud.authority_host, scope)
            if cached is not None:
                return cached
            import msal

            self._cache = load_token_cache(None if self._fresh else self._cache_path)
            self._app = msal_call(self.name, lambda: msal.ConfidentialClientApplication(
                client_id, client_credential=credential, http_client=http_client(self.cloud.trust),
                token_cache=self._cache, **authority(self.cloud, tenant)))
        result = msal_call(self.name, lambda: self._app.acquire_token_for_client([scope]))
        try:
            token = from_msal(result, self.name)
        except AuthFailed as exc:
            raise AuthFailed(exc.message, self._refusal_fix(str((result or {}).get("error", "")))) from None
        save_token_cache(self._cache, self._cache_path)
        return token

    def _refusal_fix(self, error: str) -> str | None:
        """What to check when the authority refused: the variable that holds the wrong part, by name (its
        value, a secret, is never shown)."""
        app = f"app {self.client_id} in tenant {self.tenant}"
        if error in ("unauthorized_client", "invalid_tenant"):
            return (f"check AZURE_CLIENT_ID ({self.client_id}) and AZURE_TENANT_ID ({self.tenant}): the app must "
                    "be registered in that tenant")
        if error != "invalid_client":
            return None
        if self.secret:
            return (f"check AZURE_CLIENT_SECRET: it must be the value (not the ID) of a current client secret of "
                    f"{app} (Azure portal: App registrations > Certificates & secrets)")
        if self.certificate:
            return (f"check AZURE_CLIENT_CERTIFICATE_PATH: its key and certificate must be a certificate uploaded "
                    f"to {app} (Azure portal: App registrations > Certificates & secrets)")
        return (f"check AZURE_FEDERATED_TOKEN_FILE: its token must match a federated credential of {app} (issuer, "
                "subject, audience) and be current")

    def invalidate(self) -> None:
        self._app, self._fresh = None, True  # a new app, without the token the service just refused

    def _cache_key(self, credential: Any) -> str:
        """Cached tokens belong to this exact credential: another secret or key for the same client id
        must ask the authority (and be refused if it is wrong), not find the last run's token."""
        import hashlib
        import hmac

        proof = credential if isinstance(credential, str) else credential.get("private_key") or self.token_file or ""
        material = "\0".join((self.cloud.authority_host, self.tenant or "", self.client_id or "", proof))
        # Keyed with a random per-user key (0600, beside the tokens): the name cannot be used to test
        # guesses of a weak secret by anyone who sees only the file name.
        return hmac.new(cache_name_key(self._cache_folder), material.encode(), hashlib.sha256).hexdigest()[:32]


def _certificate_credential(path: Path) -> dict[str, str]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization

    try:
        pem = path.read_bytes()
        cert = x509.load_pem_x509_certificate(pem)
    except (OSError, ValueError) as exc:
        raise AuthFailed(f"cannot read the certificate {path}: {exc}",
                         "AZURE_CLIENT_CERTIFICATE_PATH must name a PEM file with the key and the certificate") from exc
    return {"private_key": pem.decode(), "thumbprint": cert.fingerprint(hashes.SHA1()).hex(),  # x5t is SHA-1
            "public_certificate": cert.public_bytes(serialization.Encoding.PEM).decode()}


class ManagedIdentityCredential:
    """The machine's managed identity (IMDS, App Service, Arc, ...), through msal."""

    name = "managed identity"

    def __init__(self, client_id: str | None = None, trust: Trust | None = None) -> None:
        self.client_id = client_id
        self.trust = trust or Trust()
        self._client: Any = None

    def get_token(self, scope: str) -> AccessToken:
        import msal

        if self._client is None:
            identity = (msal.UserAssignedManagedIdentity(client_id=self.client_id) if self.client_id
                        else msal.SystemAssignedManagedIdentity())
            self._client = msal.ManagedIdentityClient(identity, http_client=http_client(self.trust))
        result = msal_call(self.name, lambda: self._client.acquire_token_for_client(
            resource=scope.removesuffix("/.default")))
        return from_msal(result, self.name)

    def invalidate(self) -> None:
        self._client = None


class AzureCliCredential:
    """The Azure CLI's existing sign-in (`az account get-access-token`)."""

    name = "Azure CLI"

    def __init__(self, environ: dict[str, str] | None = None) -> None:
        """*environ*: the run's environment (its PATH finds `az`, which runs with it); the process's by default."""
        self.environ = dict(os.environ) if environ is None else environ

    def get_token(self, scope: str) -> AccessToken:
        az = shutil.which("az", path=self.environ.get("PATH", os.defpath))
        if az is None:
            raise AuthUnavailable("Azure CLI: `az` is not installed")
        started = time.monotonic()
        home = self.environ.get("HOME") or str(Path.home())
        try:
            done = subprocess.run([az, "account", "get-access-token", "--output", "json", "--scope", scope],
                                  capture_output=True, text=True, timeout=CLI_TIMEOUT, cwd=home, env=self.environ)
        except subprocess.TimeoutExpired as exc:
            raise AuthUnavailable(f"Azure CLI: no answer within {CLI_TIMEOUT} s") from exc
        if sercon.TRACE is not None:
            sercon.TRACE.event("sign-in", "az account get-access-token", status=done.returncode,
                               ms=f"{(time.monotonic() - started) * 1000:.0f}")
        if done.returncode != 0:
            message = redact(done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "failed")
            raise AuthUnavailable(f"Azure CLI: {message}")
        try:
            data = json.loads(done.stdout)
            expires = float(data.get("expires_on") or time.mktime(time.strptime(
                data["expiresOn"][:19], "%Y-%m-%d %H:%M:%S")))
            return AccessToken(data["accessToken"], expires)
        except (ValueError, KeyError) as exc:
            raise AuthUnavailable("Azure CLI: unreadable answer from `az account get-access-token`") from exc

    def invalidate(self) -> None:
        """Each call asks `az` afresh."""


class TokenChain:
    """Tries each credential in order; remembers the one that worked."""

    def __init__(self, credentials: Sequence[Credential]) -> None:
        self.credentials = list(credentials)
        self.winner: Credential | None = None

    def get_token(self, scope: str) -> AccessToken:
        if self.winner is not None:
            return self.winner.get_token(scope)
        tried: list[str] = []
        for credential in self.credentials:
            try:
                token = credential.get_token(scope)
            except AuthUnavailable as exc:
                tried.append(exc.message)
                if sercon.TRACE is not None:
                    sercon.TRACE.event("sign-in", "unavailable", source=repr(credential.name), why=repr(exc.message))
                continue
            except Exception as exc:  # noqa: BLE001 - any failure stops the chain, told with its history
                raise _with_history(credential, exc, tried) from exc
            self.winner = credential
            if sercon.TRACE is not None:
                sercon.TRACE.event("sign-in", "signed in", source=repr(credential.name))
            return token
        raise AuthUnavailable(
            "not signed in to Azure; tried: " + "; ".join(tried),
            "run `sercon login`, or set AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET "
            "(see docs/azure.md)")

    def invalidate(self) -> None:
        if self.winner is not None:
            self.winner.invalidate()

    @property
    def source(self) -> str:
        return self.winner.name if self.winner is not None else "nobody"


def _with_history(credential: Credential, exc: Exception, tried: list[str]) -> SerconError:
    """*exc* with the credentials skipped before it: a sercon error keeps its class (so its exit
    status and fix), anything else becomes an ``AuthFailed`` that names the credential and the error."""
    if not isinstance(exc, SerconError):
        wrapped: SerconError = AuthFailed(f"{credential.name}: {type(exc).__name__}: {exc}")
    else:
        wrapped = exc.__class__.__new__(exc.__class__)
        wrapped.__dict__.update(exc.__dict__)
        SerconError.__init__(wrapped, exc.message, exc.hint)
    if tried:
        SerconError.__init__(wrapped, f"{wrapped.message} (tried before it: {'; '.join(tried)})", wrapped.hint)
    return wrapped


def build_chain(cloud: Cloud, environ: dict[str, str], identity: bool = False,
                warn: Callable[[str], None] | None = None) -> TokenChain:
    """The chain for this run: --identity means the managed identity alone; *warn* says what a
    credential stepped over (a damaged token cache set aside)."""
    from sercon.azure.login import LoginCredential

    if identity:
        return TokenChain([ManagedIdentityCredential(environ.get("AZURE_CLIENT_ID"), cloud.trust)])
    chain: list[Credential] = []
    if environ.get("AZURE_CLIENT_ID") and environ.get("AZURE_TENANT_ID"):
        chain.append(ServicePrincipalCredential(cloud, environ))
    if environ.get("IDENTITY_ENDPOINT") and environ.get("IDENTITY_HEADER"):
        chain.append(ManagedIdentityCredential(environ.get("AZURE_CLIENT_ID"), cloud.trust))
    chain += [LoginCredential(cloud, environ, warn), AzureCliCredential(environ)]
    return TokenChain(chain)


def token_claims(token: str) -> dict[str, Any]:
    """The (unverified) claims of a JWT access token: who it is for, never the token itself."""
    import base64

    try:
        payload = token.split(".")[1]
        return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError):
        return {}
