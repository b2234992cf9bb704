"""Who can use the emulator: a per-run client secret, and an admin secret for device-code approval and hooks.

Any local user can reach the emulator's port, so nothing that gives a VM shell may be guessable.
"""

from __future__ import annotations

import pytest

from sercon_emulator.server import ADMIN_HEADER
from sercon_emulator.world import DEFAULT_CLIENT_ID
from tests.emulator.conftest import Emu, read_until

OLD_CONSTANT_SECRET = "emulator-client-secret"  # what every emulator accepted before


def client_credentials(env: Emu, secret: str) -> int:
    return env.http.post(f"{env.base}/{env.emulator.world.tenant}/oauth2/v2.0/token", data={
        "grant_type": "client_credentials", "client_id": DEFAULT_CLIENT_ID, "client_secret": secret,
        "scope": "https://management.core.windows.net//.default"}, timeout=10).status_code


def test_the_default_client_secret_is_random_per_run(emu):
    first, second = emu(), emu()
    secrets = [e.emulator.environment()["AZURE_CLIENT_SECRET"] for e in (first, second)]
    assert secrets[0] != secrets[1] and len(secrets[0]) >= 32
    assert client_credentials(first, OLD_CONSTANT_SECRET) == 401
    assert client_credentials(first, secrets[1]) == 401
    assert client_credentials(first, secrets[0]) == 200


def test_the_admin_secret_is_random_and_apart_from_the_client_secret(emu):
    first, second = emu(), emu()
    assert first.emulator.admin_secret != second.emulator.admin_secret
    assert first.emulator.admin_secret != first.emulator.environment()["AZURE_CLIENT_SECRET"]
    assert "SERCON_EMULATOR_SECRET" not in first.emulator.environment()  # a client does not need it
    assert first.emulator.environment(admin=True)["SERCON_EMULATOR_SECRET"] == first.emulator.admin_secret


def start_device_flow(env: Emu) -> tuple[str, str]:
    reply = env.http.post(f"{env.base}/organizations/oauth2/v2.0/devicecode",
                          data={"client_id": "any-public-client", "scope": "openid"}, timeout=10)
    reply.raise_for_status()
    return reply.json()["device_code"], reply.json()["user_code"]


def device_grant(env: Emu, device_code: str) -> dict:
    return env.http.post(f"{env.base}/organizations/oauth2/v2.0/token", data={
        "grant_type": "urn:ietf:params:oauth:grant-type:device_code", "device_code": device_code,
        "client_id": "any-public-client"}, timeout=10).json()


@pytest.mark.parametrize("secret", [None, "", "wrong"])
def test_device_code_approval_without_the_admin_secret_is_refused(emu, secret):
    env = emu()
    device_code, user_code = start_device_flow(env)
    form = {"user_code": user_code} if secret is None else {"user_code": user_code, "secret": secret}
    reply = env.http.post(f"{env.base}/devicelogin", data=form, timeout=10)
    assert reply.status_code in (401, 403), reply.text
    assert device_grant(env, device_code)["error"] == "authorization_pending"


@pytest.mark.parametrize("how", ["form", "header"])
def test_device_code_approval_with_the_admin_secret(emu, how):
    env = emu()
    device_code, user_code = start_device_flow(env)
    secret = env.emulator.admin_secret
    form, headers = ({"user_code": user_code, "secret": secret}, {}) if how == "form" else (
        {"user_code": user_code}, {ADMIN_HEADER: secret})
    reply = env.http.post(f"{env.base}/devicelogin", data=form, headers=headers, timeout=10)
    assert reply.status_code == 200, reply.text
    assert "access_token" in device_grant(env, device_code)


def test_the_device_login_page_asks_for_the_admin_secret(emu):
    env = emu()
    page = env.http.get(f"{env.base}/devicelogin", timeout=10).text
    assert 'name="secret"' in page and 'type="password"' in page


HOOKS = [("gateway/box/cut", None), ("gateway/box/close", {"code": 1000, "reason": "x"}), ("bootlog/box", None)]


@pytest.mark.parametrize("hook, body", HOOKS)
@pytest.mark.parametrize("secret, status", [(None, 401), ("", 401), ("wrong", 403)])
def test_a_hook_without_the_admin_secret_is_refused(emu, hook, body, secret, status):
    env = emu()
    ws = env.session()
    headers = {} if secret is None else {ADMIN_HEADER: secret}
    reply = env.http.post(f"{env.base}/_emulator/{hook}", json=body, data=None if body else "appended",
                          headers=headers, timeout=10)
    assert reply.status_code == status, reply.text
    ws.send("still-open\n")  # the refused hook did nothing: the session lives on
    assert b"got:still-open" in read_until(ws, b"got:still-open")
    assert "appended" not in env.emulator.arm.appended_logs.get("box", "")


@pytest.mark.parametrize("hook, body", HOOKS)
def test_a_hook_with_the_admin_secret_works(emu, hook, body):
    env = emu()
    session = env.session()
    reply = env.hook(hook, json=body, data=None if body else "appended")
    assert reply.status_code == 200, reply.text
    session.close()


def test_an_unknown_emulator_path_needs_the_secret_too(emu):
    env = emu()
    assert env.http.post(f"{env.base}/_emulator/no-such-hook", timeout=10).status_code == 401
