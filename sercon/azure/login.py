"""`sercon login`: interactive sign-in whose tokens persist in a cache only the user can read."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from sercon import private_files
from sercon.azure.cache_files import (
    LEFTOVERS,
    CacheDamaged,
    checked_cache,
    read_private,
    remove_all,
    set_aside,
)
from sercon.azure.clouds import Cloud
from sercon.azure.msal_calls import (
    AZURE_CLI_CLIENT_ID,
    AccessToken,
    authority,
    from_msal,
    http_client,
    msal_call,
)
from sercon.errors import AuthFailed, AuthUnavailable, SerconError, UsageError
from sercon.paths import cache_dir

ACCOUNT_KEYS = ("home_account_id", "tenant", "authority_host")  # what LoginCredential reads of account.json


class LoginStore:
    """The msal token cache and the signed-in account, under $XDG_CACHE_HOME/sercon (mode 0600).

    A damaged cache or account file is set aside (renamed beside itself, with a warning that says
    where) and the command goes on as if there were none. Why not stop with an error: a cache only
    saves a sign-in, the one thing lost is that sign-in, and `sercon login` makes it again; an error
    would stop every Azure command, even `sercon login`, until the file is deleted by hand. Why not
    delete it: what damaged it (a full disk, another program) may be worth a look. A cache that others
    can read, or that is not the user's own, is refused instead (read_private): that is no accident
    to step over, its tokens may have been copied. Both files are read and written by sercon.private_files.
    """

    def __init__(self, environ: dict[str, str], warn: Callable[[str], None] | None = None) -> None:
        folder = cache_dir(environ)
        self.cache_path = folder / "msal_token_cache.json"
        self.account_path = folder / "account.json"
        self.warn = warn or (lambda message: None)

    def load_cache(self) -> Any:
        import msal

        cache = msal.SerializableTokenCache()
        data = read_private(self.cache_path)
        if data is not None:
            try:
                cache.deserialize(checked_cache(data))
            except CacheDamaged as exc:
                set_aside(self.cache_path, "the token cache", exc, self.warn)
        return cache

    def save_cache(self, cache: Any, required: bool = False) -> None:
        """Kept whole. A refreshed sign-in that cannot be kept (a read-only or full home) is a warning:
        the token in hand still works, and the next command refreshes again. `sercon login`'s own
        sign-in, which nothing else would keep, is an error (*required*)."""
        if not cache.has_state_changed:
            return
        try:
            private_files.write(self.cache_path, cache.serialize())
        except (OSError, SerconError) as exc:
            why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            if required:
                raise UsageError(f"the sign-in cannot be kept in {self.cache_path}: {why}",
                                 "make that folder writable, or set XDG_CACHE_HOME to a folder of your own") from exc
            self.warn(f"the refreshed sign-in could not be kept in {self.cache_path} ({why}); "
                      "the next command refreshes it again")
            return
        cache.has_state_changed = False

    def account(self) -> dict[str, str] | None:
        data = read_private(self.account_path, "the sign-in record")
        if data is None:
            return None
        try:
            account = json.loads(data.decode("utf-8"))
        except ValueError:
            account = None
        if isinstance(account, dict) and all(isinstance(account.get(key), str) for key in ACCOUNT_KEYS):
            return account
        set_aside(self.account_path, "the sign-in record", CacheDamaged("not the record `sercon login` writes"),
                  self.warn)
        return None

    def save_account(self, account: dict[str, str]) -> None:
        private_files.write(self.account_path, json.dumps(account))

    def forget(self) -> bool:
        """`sercon logout`: the sign-in, every service principal's cached tokens, and what a writer killed
        half-way or a damaged cache set aside left (they hold tokens too)."""
        from sercon.azure.msal_calls import SERVICE_PRINCIPAL_FILES

        folder = self.cache_path.parent
        names = (self.cache_path.name, self.account_path.name, *SERVICE_PRINCIPAL_FILES, *LEFTOVERS)
        return remove_all(folder, names)


def _public_app(cloud: Cloud, tenant: str, cache: Any) -> Any:
    import msal

    return msal_call("sign-in", lambda: msal.PublicClientApplication(
        AZURE_CLI_CLIENT_ID, token_cache=cache, http_client=http_client(cloud.trust), **authority(cloud, tenant)))


class LoginCredential:
    """The account `sercon login` signed in; tokens refresh silently with the cached refresh token."""

    name = "sercon login"

    def __init__(self, cloud: Cloud, environ: dict[str, str], warn: Callable[[str], None] | None = None) -> None:
        self.cloud, self.store = cloud, LoginStore(environ, warn)
        self._force_refresh = False

    def get_token(self, scope: str) -> AccessToken:
        saved = self.store.account()
        if saved is None:
            raise AuthUnavailable("sercon login: not signed in")
        if saved.get("authority_host") != self.cloud.authority_host:
            raise AuthUnavailable(f"sercon login: signed in at {saved.get('authority_host')}, not here")
        cache = self.store.load_cache()
        app = _public_app(self.cloud, saved["tenant"], cache)
        try:  # the cache's shape was checked, but an entry may still lack a field msal reads
            account = next((a for a in app.get_accounts() if a.get("home_account_id") == saved["home_account_id"]),
                           None)
            if account is None:
                raise AuthUnavailable("sercon login: the cached sign-in is gone")
            result = msal_call(self.name, lambda: app.acquire_token_silent([scope], account=account,
                                                                           force_refresh=self._force_refresh))
        except (KeyError, TypeError, AttributeError) as exc:
            set_aside(self.store.cache_path, "the token cache", CacheDamaged(f"msal cannot read it: "
                      f"{type(exc).__name__} {exc}"), self.store.warn)
            raise AuthUnavailable("sercon login: the token cache was damaged and is set aside") from None
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
    store = LoginStore(environ, show)
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
    store.save_cache(cache, required=True)
    store.save_account(account)
    return account


def logout(environ: dict[str, str]) -> bool:
    return LoginStore(environ).forget()
