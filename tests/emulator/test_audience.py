"""A token is for one audience: ARM and the gateway take only an ARM token, as the real services do.

The tokens here come from the emulator's own authority, asked for another resource (a storage token,
a Key Vault token): a client that asked for the wrong scope must be refused, not served.
"""

from __future__ import annotations

import base64
import json

import pytest

from sercon_emulator.world import DEFAULT_CLIENT_ID
from tests.emulator.conftest import Emu, close_of, vm_path

ARM_SCOPES = ["https://management.core.windows.net//.default", "https://management.azure.com/.default",
              "https://management.azure.com//.default"]
OTHER_SCOPES = ["https://storage.azure.com/.default", "https://vault.azure.net/.default",
                "https://graph.microsoft.com/.default"]
CONNECT = "/providers/Microsoft.SerialConsole/serialPorts/0/connect"


def token_for(env: Emu, scope: str) -> str:
    reply = env.http.post(f"{env.base}/{env.emulator.world.tenant}/oauth2/v2.0/token", data={
        "grant_type": "client_credentials", "client_id": DEFAULT_CLIENT_ID,
        "client_secret": env.emulator.environment()["AZURE_CLIENT_SECRET"], "scope": scope}, timeout=10)
    assert reply.status_code == 200, reply.text
    return reply.json()["access_token"]


def audience(token: str) -> str:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["aud"]


def connect_with(env: Emu, token: str):
    return env.http.post(f"{env.base}{vm_path('box')}{CONNECT}", params={"api-version": "2024-07-01"},
                         headers={"Authorization": f"Bearer {token}"}, timeout=10)


@pytest.mark.parametrize("scope", OTHER_SCOPES)
def test_arm_refuses_a_token_for_another_audience(emu, scope):
    env = emu()
    token = token_for(env, scope)
    assert audience(token) == scope.removesuffix("/.default")  # the authority issued it for what was asked
    reply = connect_with(env, token)
    assert reply.status_code == 401, reply.text
    error = reply.json()["error"]
    assert error["code"] == "InvalidAuthenticationTokenAudience"
    assert audience(token) in error["message"] and "https://management.core.windows.net/" in error["message"]


@pytest.mark.parametrize("scope", ARM_SCOPES)
def test_arm_takes_a_token_for_either_arm_audience(emu, scope):
    env = emu()
    reply = connect_with(env, token_for(env, scope))
    assert reply.status_code == 200, reply.text


def test_the_gateway_refuses_a_token_for_another_audience(emu):
    env = emu()
    ws = env.socket(env.connect())  # the connect call itself with an ARM token
    ws.recv_data()  # the status frame
    ws.send(token_for(env, "https://storage.azure.com/.default"))
    code, reason, output = close_of(ws)
    assert (code, reason, output) == (1011, "Connection not trusted", b"")
    assert env.gateway.sessions_opened == 0


def test_admin_commands_refuse_a_token_for_another_audience(emu):
    env = emu()
    url = env.connect()
    ws = env.session(url)  # a live session that owns the console, opened with the ARM token
    admin_url = url.replace("wss://", "https://").replace("/client", "/adminCommand/nmi")
    reply = env.http.post(admin_url, json={"command": "nmi", "requestId": "r1", "commandParameters": {}},
                          headers={"Authorization": f"Bearer {token_for(env, 'https://vault.azure.net/.default')}"},
                          timeout=10)
    assert reply.status_code == 401, reply.text
    assert env.admin(url).status_code == 200  # the same session with its ARM token
    ws.close()


def test_a_managed_identity_token_for_another_resource_is_refused(emu):
    env = emu(managed_identity={"header": "mi-header", "object_id": "oid-mi"})
    tokens = {}
    for resource in ("https://storage.azure.com/", "https://management.azure.com/"):
        reply = env.http.get(f"{env.base}/msi/token", params={"resource": resource, "api-version": "2019-08-01"},
                             headers={"X-IDENTITY-HEADER": "mi-header"}, timeout=10)
        assert reply.status_code == 200, reply.text
        tokens[resource] = reply.json()["access_token"]
        assert audience(tokens[resource]) == resource
    assert connect_with(env, tokens["https://storage.azure.com/"]).status_code == 401
    assert connect_with(env, tokens["https://management.azure.com/"]).status_code in (200, 403)
