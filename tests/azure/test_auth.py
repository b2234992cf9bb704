"""Sign-in against the emulator with the real msal: service principal, device code, managed identity,
workload identity, refresh after expiry; and no token ever in the output."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pexpect
import requests

from tests.azure.conftest import ADMIN
from tests.conftest import SERCON


def test_service_principal(azure):
    result = azure.cli("account", "--json")
    assert result.returncode == 0, result.stderr
    info = json.loads(result.stdout)
    assert info["app_id"] == ADMIN and info["object_id"] == "oid-admin"
    assert info["signed_in_with"].startswith("service principal")


def test_wrong_secret_exits_5_without_echoing_it(azure):
    result = azure.cli("account", AZURE_CLIENT_SECRET="wrong-secret-123")
    assert result.returncode == 5
    assert b"invalid_client" in result.stderr and b"wrong-secret-123" not in result.stderr
    fix = result.stderr.decode().split("fix: ", 1)[-1]
    assert "fix: " in result.stderr.decode() and "AZURE_CLIENT_SECRET" in fix and ADMIN in fix
    assert "wrong-secret-123" not in result.stdout.decode()


def test_an_unknown_client_id_names_the_variables_to_check(azure):
    result = azure.cli("account", AZURE_CLIENT_ID="aaaaaaaa-0000-4000-8000-00000000dead")
    assert result.returncode == 5
    fix = result.stderr.decode().split("fix: ", 1)[-1]
    assert "AZURE_CLIENT_ID" in fix and "AZURE_TENANT_ID" in fix and "admin-secret-value" not in fix


def test_not_signed_in_lists_what_was_tried(azure):
    result = azure.cli("account", AZURE_CLIENT_ID=None, AZURE_CLIENT_SECRET=None, PATH="/usr/bin:/bin")
    assert result.returncode == 5
    assert b"not signed in to Azure" in result.stderr and b"sercon login" in result.stderr


def test_device_code_login_then_silent_refresh(azure_with):
    azure = azure_with(token_lifetime=2)
    env = {k: v for k, v in azure.env.items() if k not in ("AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET")}
    child = pexpect.spawn(SERCON[0], [*SERCON[1:], "login", "--device-code"], env=env, timeout=30)
    child.expect(r"open (\S+) and enter the code (\S+) ")
    url, code = child.match.group(1).decode(), child.match.group(2).decode()
    approved = requests.post(url, data={"user_code": code, "secret": azure.emulator.admin_secret},
                             verify=env["REQUESTS_CA_BUNDLE"], timeout=10)
    assert approved.status_code == 200
    child.expect("signed in as operator@example.com")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    cache = azure.home / "cache" / "sercon" / "msal_token_cache.json"
    assert cache.stat().st_mode & 0o777 == 0o600 and cache.parent.stat().st_mode & 0o777 == 0o700

    time.sleep(2.5)  # the access token has expired: the next command must refresh it silently
    result = azure.cli("account", "--json", AZURE_CLIENT_ID=None, AZURE_CLIENT_SECRET=None)
    assert result.returncode == 0, result.stderr
    info = json.loads(result.stdout)
    assert info["user"] == "operator@example.com" and info["signed_in_with"] == "sercon login"

    logout = azure.cli("logout")
    assert logout.returncode == 0 and not cache.exists()
    again = azure.cli("account", AZURE_CLIENT_ID=None, AZURE_CLIENT_SECRET=None, PATH="/usr/bin:/bin")
    assert again.returncode == 5


def test_token_refresh_after_expiry_mid_run(azure_with):
    azure = azure_with(token_lifetime=1)
    result = azure.cli("log", "-g", "prod-rg", "web1", "--tail", "1")
    assert result.returncode == 0, result.stderr
    tokens_before = len(azure.emulator.tokens.live)
    time.sleep(1.5)
    result = azure.cli("doctor", "--json", "-g", "prod-rg", "web1")
    assert result.returncode == 0, result.stderr
    assert len(azure.emulator.tokens.live) > tokens_before


def test_expired_token_answer_is_retried_with_a_fresh_token(azure_with):
    azure = azure_with(faults=[{"match": "virtualMachines/web1$", "status": 401,
                                "code": "ExpiredAuthenticationToken", "count": 1}])
    result = azure.cli("doctor", "--json", "-g", "prod-rg", "web1")
    assert result.returncode == 0, result.stderr
    assert len(azure.emulator.tokens.live) >= 2


def test_managed_identity(azure_with):
    azure = azure_with(managed_identity={"header": "mi-header-value", "object_id": "oid-admin"})
    # A process of its own: msal's managed identity reads IDENTITY_ENDPOINT from os.environ, not from Env.
    result = azure.cli("account", "--json", "--identity", AZURE_CLIENT_SECRET=None, process=True,
                       IDENTITY_ENDPOINT=f"{azure.emulator.base_url}/msi/token", IDENTITY_HEADER="mi-header-value")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["signed_in_with"] == "managed identity"


def test_workload_identity(azure_with, tmp_path):
    from tests.azure.conftest import WORLD

    principals = [*WORLD["principals"], {"client_id": "wid-client", "federated_token": "federated-jwt-value",
                                         "object_id": "oid-admin", "name": "workload"}]
    azure = azure_with(principals=principals)
    token_file = tmp_path / "token"
    token_file.write_text("federated-jwt-value\n")
    result = azure.cli("account", "--json", AZURE_CLIENT_ID="wid-client", AZURE_CLIENT_SECRET=None,
                       AZURE_FEDERATED_TOKEN_FILE=str(token_file))
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["signed_in_with"] == "workload identity"


def test_debug_trace_redacts_tokens_and_signatures(azure):
    result = azure.cli("--debug", "log", "-g", "prod-rg", "web1", "--tail", "1")
    assert result.returncode == 0, result.stderr
    text = result.stderr.decode()
    assert "POST https://127.0.0.1" in text and "retrieveBootDiagnosticsData" in text
    assert not re.search(r"eyJ[\w-]+\.[\w-]+", text)
    secret = azure.emulator.arm.blob_secret
    assert secret not in text and secret not in result.stdout.decode()


def test_certificate_credential(azure_with, tmp_path):
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    from tests.azure.conftest import WORLD

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sercon-test-app")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
            .sign(key, hashes.SHA256()))
    cert_pem = cert.public_bytes(serialization.Encoding.PEM)
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    principals = [*WORLD["principals"], {"client_id": "cert-client", "certificate": cert_pem.decode(),
                                         "object_id": "oid-admin", "name": "cert-app"}]
    azure = azure_with(principals=principals)
    bundle = tmp_path / "app.pem"
    bundle.write_bytes(key_pem + cert_pem)
    result = azure.cli("account", "--json", AZURE_CLIENT_ID="cert-client", AZURE_CLIENT_SECRET=None,
                       AZURE_CLIENT_CERTIFICATE_PATH=str(bundle))
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["app_id"] == "cert-client"

    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = tmp_path / "forged.pem"
    forged.write_bytes(other.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()) + cert_pem)
    refused = azure.cli("account", AZURE_CLIENT_ID="cert-client", AZURE_CLIENT_SECRET=None,
                        AZURE_CLIENT_CERTIFICATE_PATH=str(forged))
    assert refused.returncode == 5 and b"invalid_client" in refused.stderr
    assert b"fix: " in refused.stderr and b"AZURE_CLIENT_CERTIFICATE_PATH" in refused.stderr.split(b"fix: ")[1]


def test_azure_cli_login_is_used(azure, tmp_path):
    """An `az` on PATH that answers `account get-access-token` as the Azure CLI does, with a real token
    it gets from the emulator (the Azure CLI itself is not on the test machine)."""
    import stat
    import sys

    fake = tmp_path / "bin" / "az"
    fake.parent.mkdir()
    fake.write_text(f"""#!{sys.executable}
import json, os, sys, time, requests
assert sys.argv[1:5] == ["account", "get-access-token", "--output", "json"], sys.argv
host, tenant = os.environ["AZURE_AUTHORITY_HOST"], os.environ["FAKE_AZ_TENANT"]
answer = requests.post(f"{{host}}/{{tenant}}/oauth2/v2.0/token", data={{
    "grant_type": "client_credentials", "client_id": os.environ["FAKE_AZ_CLIENT"],
    "client_secret": os.environ["FAKE_AZ_SECRET"], "scope": sys.argv[6]}}).json()
print(json.dumps({{"accessToken": answer["access_token"], "expires_on": int(time.time()) + 3600,
                  "expiresOn": time.strftime("%Y-%m-%d %H:%M:%S.000000"), "tokenType": "Bearer"}}))
""")
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    env = {"AZURE_CLIENT_ID": None, "AZURE_CLIENT_SECRET": None, "PATH": f"{fake.parent}:/usr/bin:/bin",
           "FAKE_AZ_TENANT": azure.env["AZURE_TENANT_ID"], "FAKE_AZ_CLIENT": ADMIN,
           "FAKE_AZ_SECRET": "admin-secret-value"}
    result = azure.cli("account", "--json", **env)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["signed_in_with"] == "Azure CLI"
    fake.write_text("#!/bin/sh\necho 'ERROR: Please run az login to setup account. token=abc.def' >&2\nexit 1\n")
    failed = azure.cli("account", **env)
    assert failed.returncode == 5 and b"Please run az login" in failed.stderr and b"abc.def" not in failed.stderr


def test_a_service_principals_token_is_reused_across_runs_from_a_private_file(azure):
    import stat

    first = azure.cli("account", "--json")
    assert first.returncode == 0, first.stderr
    issued = len(azure.emulator.tokens.live)
    second = azure.cli("account", "--json")
    assert second.returncode == 0, second.stderr
    assert len(azure.emulator.tokens.live) == issued  # a warm start: no token request
    [cache] = (Path(azure.env["XDG_CACHE_HOME"]) / "sercon").glob("service_principal_tokens-*.json")
    assert stat.S_IMODE(cache.stat().st_mode) == 0o600
    assert azure.env["AZURE_CLIENT_SECRET"] not in cache.name and azure.env["AZURE_CLIENT_SECRET"] not in \
        cache.read_text()
    other = azure.cli("account", AZURE_CLIENT_SECRET="not-the-secret")  # another secret finds no cached token
    assert other.returncode == 5 and b"invalid_client" in other.stderr
    assert azure.cli("logout").returncode == 0  # forgets the service principals' tokens too
    assert not list(cache.parent.glob("service_principal_tokens-*")) and not (cache.parent / "token-names.key").exists()


def test_a_warm_connect_neither_imports_msal_nor_loads_certifi_per_connection(azure):
    assert azure.cli("send", "-g", "prod-rg", "web1", "", "--expect", "login: $").returncode == 0  # warms the cache
    warm = azure.cli("send", "-g", "prod-rg", "web1", "", "--expect", "login: $", PYTHONPROFILEIMPORTTIME="1",
                     process=True)  # the imports of a fresh process
    assert warm.returncode == 0, warm.stderr
    imported = {line.rsplit("|", 1)[-1].strip() for line in warm.stderr.decode().splitlines() if "|" in line}
    assert "requests" in imported and "msal" not in imported  # the cached token was read without msal
