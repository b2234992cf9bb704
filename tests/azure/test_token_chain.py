"""The credential chain, with the real credentials: a failure says what was tried before it, as
azure-identity's ChainedTokenCredential does, and keeps its exit status."""

from __future__ import annotations

import pytest

from sercon.azure.auth import AuthUnavailable, AzureCliCredential, ServicePrincipalCredential, TokenChain
from sercon.azure.clouds import cloud_for
from sercon.azure.login import LoginCredential
from sercon.errors import AuthFailed, ExitStatus

SCOPE = "https://management.azure.com//.default"


@pytest.fixture
def environ(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))  # `az` is looked up here only
    (tmp_path / "bin").mkdir()
    return {"HOME": str(tmp_path), "XDG_CACHE_HOME": str(tmp_path / "cache"),
            "AZURE_CONFIG_DIR": str(tmp_path / "azure")}


def test_a_failure_lists_the_credentials_skipped_before_it(environ, tmp_path):
    cloud = cloud_for(None, environ)
    principal = ServicePrincipalCredential(cloud, {
        **environ, "AZURE_CLIENT_ID": "aaaaaaaa-0000-4000-8000-000000000001", "AZURE_TENANT_ID": "tenant-1",
        "AZURE_CLIENT_CERTIFICATE_PATH": str(tmp_path / "missing.pem")})
    chain = TokenChain([AzureCliCredential(), LoginCredential(cloud, environ), principal])
    with pytest.raises(AuthFailed) as caught:
        chain.get_token(SCOPE)
    error = caught.value
    assert error.exit_status == ExitStatus.AUTH
    assert "cannot read the certificate" in error.message
    assert "Azure CLI: `az` is not installed" in error.message and "sercon login: not signed in" in error.message
    assert error.message.index("cannot read the certificate") < error.message.index("Azure CLI")
    assert error.hint is not None and "AZURE_CLIENT_CERTIFICATE_PATH" in error.hint
    assert chain.source == "nobody"


def test_an_unexpected_failure_is_wrapped_with_the_history(environ, tmp_path):
    az = tmp_path / "bin" / "az"
    az.write_text("#!/nonexistent/interpreter\n")  # found and executable, but cannot start: OSError
    az.chmod(0o755)
    cloud = cloud_for(None, environ)
    chain = TokenChain([LoginCredential(cloud, environ), AzureCliCredential()])
    with pytest.raises(AuthFailed) as caught:
        chain.get_token(SCOPE)
    message = caught.value.message
    assert message.startswith("Azure CLI: ") and "FileNotFoundError" in message
    assert "sercon login: not signed in" in message
    assert isinstance(caught.value.__cause__, FileNotFoundError)


def test_the_azure_cli_is_looked_up_and_run_with_the_runs_own_environment(tmp_path, monkeypatch):
    """Issue 18: `az` is found on the PATH of the environment sercon was given (cli.main(argv, env)),
    not the process's, and runs with that environment."""
    mine = tmp_path / "mine"
    mine.mkdir()
    az = mine / "az"
    az.write_text('#!/bin/sh\necho "{\\"accessToken\\": \\"tok-$MARK\\", \\"expires_on\\": 4102444800}"\n')
    az.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path / "nothing-here"))
    token = AzureCliCredential({"PATH": str(mine), "HOME": str(tmp_path), "MARK": "x"}).get_token(SCOPE)
    assert token.token == "tok-x"
    monkeypatch.setenv("PATH", str(mine))
    with pytest.raises(AuthUnavailable, match="not installed"):
        AzureCliCredential({"PATH": str(tmp_path / "nothing-here"), "HOME": str(tmp_path)}).get_token(SCOPE)
