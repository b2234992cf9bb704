"""`sercon login`: interactive sign-in whose tokens persist in a cache only the user can read."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any

from sercon.azure.clouds import Cloud
from sercon.azure.msal_calls import (
    AZURE_CLI_CLIENT_ID,
    AccessToken,
    authority,
    from_msal,
    http_client,
    msal_call,
    private_file,
)
from sercon.errors import AuthFailed, AuthUnavailable
from sercon.paths import cache_dir


class LoginStore:
    """The msal token cache and the signed-in account, under $XDG_CACHE_HOME/sercon (mode 0600)."""

    def __init__(self, environ: dict[str, str]) -> None:
        folder = cache_dir(environ)
        self.cache_path = folder / "msal_token_cache.json"
        self.account_path = folder / "account.json"

    def load_cache(self) -> Any:
        import msal

        cache = msal.SerializableTokenCache()
        if self.cache_path.exists():
            cache.deserialize(self.cache_path.read_text())
        return cache

    def save_cache(self, cache: Any) -> None:
        if cache.has_state_changed:
            with os.fdopen(private_file(self.cache_path), "w") as out:
                out.write(cache.serialize())

    def account(self) -> dict[str, str] | None:
        try:
            return json.loads(self.account_path.read_text())
        except (OSError, ValueError):
            return None

    def save_account(self, account: dict[str, str]) -> None:
        with os.fdopen(private_file(self.account_path), "w") as out:
            json.dump(account, out)

    def forget(self) -> bool:
        """`sercon logout`: the sign-in, and every service principal's cached tokens."""
        from sercon.azure.msal_calls import SERVICE_PRINCIPAL_FILES

        existed = False
        kept = [path for pattern in SERVICE_PRINCIPAL_FILES for path in self.cache_path.parent.glob(pattern)]
        for path in (self.cache_path, self.account_path, *kept):
            if path.exists():
                path.unlink()
                existed = True
        return existed


def _public_app(cloud: Cloud, tenant: str, cache: Any) -> Any:
    import msal

    return msal_call("sign-in", lambda: msal.PublicClientApplication(
        AZURE_CLI_CLIENT_ID, token_cache=cache, http_client=http_client(cloud.trust), **authority(cloud, tenant)))


class LoginCredential:
    """The account `sercon login` signed in; tokens refresh silently with the cached refresh token."""

    name = "sercon login"

    def __init__(self, cloud: Cloud, environ: dict[str, str]) -> None:
        self.cloud, self.store = cloud, LoginStore(environ)
        self._force_refresh = False

    def get_token(self, scope: str) -> AccessToken:
        saved = self.store.account()
        if saved is None:
            raise AuthUnavailable("sercon login: not signed in")
        if saved.get("authority_host") != self.cloud.authority_host:
            raise AuthUnavailable(f"sercon login: signed in at {saved.get('authority_host')}, not here")
        cache = self.store.load_cache()
        app = _public_app(self.cloud, saved["tenant"], cache)
        account = next((a for a in app.get_accounts() if a["home_account_id"] == saved["home_account_id"]), None)
        if account is None:
            raise AuthUnavailable("sercon login: the cached sign-in is gone")
        result = msal_call(self.name, lambda: app.acquire_token_silent([scope], account=account,
                                                                       force_refresh=self._force_refresh))
        self._force_refresh = False
        self.store.save_cache(cache)
        if result is None:
            raise AuthFailed("sercon login: the sign-in has expired", "run `sercon login` again")
        return from_msal(result, self.name)

    def invalidate(self) -> None:
        self._force_refresh = True


def login(cloud: Cloud, environ: dict[str, str], tenant: str | None, use_device_code: bool,
          show: Callable[[str], None]) -> dict[str, str]:
    """Sign in interactively and keep the result; returns the account (username, tenant)."""
    store = LoginStore(environ)
    cache = store.load_cache()
    app = _public_app(cloud, tenant or "organizations", cache)
    scopes = [cloud.arm_scope]
    if use_device_code:
        flow = msal_call("sign-in", lambda: app.initiate_device_flow(scopes=scopes))
        if "user_code" not in flow:
            raise AuthFailed(f"device code sign-in could not start: {flow.get('error_description', flow)}")
        show(flow["message"])
        result = msal_call("sign-in", lambda: app.acquire_token_by_device_flow(flow))
    else:
        result = msal_call("sign-in", lambda: app.acquire_token_interactive(scopes, prompt="select_account"))
    from_msal(result, "sign-in")
    claims = result.get("id_token_claims", {})
    account = {"home_account_id": f"{claims.get('oid')}.{claims.get('tid')}",
               "username": claims.get("preferred_username", ""), "tenant": claims.get("tid", tenant or ""),
               "authority_host": cloud.authority_host}
    accounts = app.get_accounts()
    match = next((a for a in accounts if a.get("username") == account["username"]), accounts[0] if accounts else None)
    if match is not None:
        account["home_account_id"] = match["home_account_id"]
    store.save_cache(cache)
    store.save_account(account)
    return account


def logout(environ: dict[str, str]) -> bool:
    return LoginStore(environ).forget()
