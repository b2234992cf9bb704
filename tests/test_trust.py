"""TLS trust from the run's environment, the same for HTTPS and WSS; secrets never in a --debug traceback."""

from __future__ import annotations

import io

from sercon.cli import _traceback_if_debug
from sercon.cli.env import Env
from sercon.trust import Trust
from sercon_emulator.certs import make_certificates
from tests.azure.conftest import AzureWorld  # noqa: F401 - fixtures come from tests/azure/conftest.py


def test_trust_reads_the_given_environment_only(tmp_path, monkeypatch):
    ca, _, _ = make_certificates(tmp_path / "tls")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(ca))
    assert Trust.from_environ({}).extra_cas == ()
    assert Trust.from_environ({"SSL_CERT_FILE": str(ca)}).extra_cas == (str(ca),)
    both = Trust.from_environ({"SSL_CERT_FILE": str(ca), "REQUESTS_CA_BUNDLE": str(ca)})
    assert both.extra_cas == (str(ca),)
    assert Trust.from_environ({"SSL_CERT_FILE": str(tmp_path / "missing.pem")}).extra_cas == ()


def test_a_debug_traceback_blanks_signatures_and_tokens():
    stderr = io.StringIO()
    env = Env(io.StringIO(), io.StringIO(), stderr, {})
    env.debug = True
    try:
        try:
            raise OSError("GET https://acct.blob.core.windows.net/x.log?sv=1&sig=SIGNATURE-SECRET failed")
        except OSError as inner:
            raise RuntimeError("reading the boot log") from inner
    except RuntimeError:
        _traceback_if_debug(env)
    text = stderr.getvalue()
    assert "Traceback" in text and "SIGNATURE-SECRET" not in text and "sig=<redacted>" in text


def test_one_context_per_set_of_cas_rebuilt_when_a_ca_file_changes(tmp_path):
    import os

    ca, _, _ = make_certificates(tmp_path / "tls")
    trust = Trust((str(ca),))
    first = trust.context()
    assert trust.context() is first and Trust((str(ca),)).context() is first  # loaded once per process
    assert Trust().context() is not first
    stat = os.stat(ca)
    os.utime(ca, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))  # the CA file was replaced
    assert trust.context() is not first
