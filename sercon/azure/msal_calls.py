"""msal, the way sercon uses it: the token type, msal calls whose failures become sercon's errors,
the HTTP client (sercon's TLS trust) and authority every msal application gets, and the token cache's
fast path. Shared by the credential chain (auth.py) and `sercon login` (login.py)."""

from __future__ import annotations

import contextlib
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sercon
from sercon import private_files
from sercon.azure.clouds import Cloud
from sercon.errors import AuthFailed, AuthUnavailable, ConnectionLost, SerconError, redact
from sercon.trust import Trust

AZURE_CLI_CLIENT_ID = "04b07795-8ddb-461a-bbee-02f9e1bf7b46"  # the Azure CLI's public client, as az uses


@dataclass(frozen=True)
class AccessToken:
    token: str
    expires_on: float

    def __repr__(self) -> str:  # never let a token reach a log through repr()
        return f"AccessToken(<redacted>, expires_on={self.expires_on:.0f})"


def from_msal(result: dict[str, Any] | None, source: str) -> AccessToken:
    if not result:
        raise AuthUnavailable(f"{source}: no cached sign-in")
    if "access_token" not in result:
        description = str(result.get("error_description", "")).splitlines()[0] if result.get(
            "error_description") else ""
        raise AuthFailed(f"{source}: {result.get('error', 'error')}: {description}")
    return AccessToken(result["access_token"], time.time() + int(result.get("expires_in", 0)))


def msal_call(source: str, call: Any) -> Any:
    """Run an msal call; its failures (network, discovery, service errors) become sercon's errors."""
    import msal
    import requests

    try:
        return call()
    except requests.RequestException as exc:
        raise ConnectionLost(f"{source}: cannot reach the sign-in authority ({exc.__class__.__name__})",
                             "check the network, AZURE_AUTHORITY_HOST, and REQUESTS_CA_BUNDLE for a private CA",
                             ) from exc
    except (ValueError, RuntimeError, msal.exceptions.MsalError) as exc:
        raise AuthFailed(redact(f"{source}: {exc}")) from exc


def http_client(trust: Trust) -> Any:
    session = trust.session()  # verifies TLS against the system store plus the run's extra CAs
    if sercon.TRACE is not None:  # --trace: each sign-in call's path, status and request id
        from sercon.trace import response_hook

        session.hooks["response"].append(response_hook("sign-in"))
    return session


def authority(cloud: Cloud, tenant: str) -> dict[str, Any]:
    return {"authority": f"{cloud.authority_host}/{tenant}",
            "instance_discovery": None if cloud.is_microsoft_authority else False}


def cached_access_token(path: Path, client_id: str, tenant: str, authority_host: str, scope: str) -> AccessToken | None:
    """A still-fresh access token from the cache file msal wrote last run, read without msal: the
    warm start then imports no msal and makes no discovery call (both on every command's way)."""
    import json
    from urllib.parse import urlsplit

    data = private_files.read_or_none(path)
    if data is None:
        return None
    try:
        entries = json.loads(data).get("AccessToken", {}).values()
        environment = (urlsplit(authority_host).hostname or "").lower()  # msal keeps the host, not the port
        for entry in entries:
            if (entry.get("client_id") == client_id and str(entry.get("realm", "")).lower() == tenant.lower()
                    and str(entry.get("environment", "")).lower() == environment
                    and scope.lower() in str(entry.get("target", "")).lower().split()
                    and float(entry.get("expires_on", 0)) > time.time() + FRESH_FOR):
                return AccessToken(entry["secret"], float(entry["expires_on"]))
    except (ValueError, TypeError, AttributeError, KeyError):
        return None
    return None


FRESH_FOR = 300  # seconds a cached token must still be valid for, as msal itself requires


SERVICE_PRINCIPAL_FILES = ("service_principal_tokens-*.json", "token-names.key")  # `sercon logout` removes them


def cache_name_key(folder: Path) -> bytes:
    """The user's random key for naming token cache files (made once, 0600)."""
    path = folder / "token-names.key"
    key = private_files.read_or_none(path)
    if key and len(key) >= 64:
        return key
    fresh = os.urandom(32).hex().encode()
    with contextlib.suppress(OSError, SerconError):  # not kept: the next run makes another, and asks again
        private_files.write(path, fresh)
    return fresh
