"""Extra CAs come from REQUESTS_CA_BUNDLE or SSL_CERT_FILE, added to the system store, for HTTPS and WSS alike."""

from __future__ import annotations

from sercon_emulator.certs import make_certificates
from tests.support.azure_session import log_in, start


def test_ssl_cert_file_alone_is_trusted_for_arm_and_the_gateway(azure):
    ca = azure.env["REQUESTS_CA_BUNDLE"]
    doctor = azure.cli("doctor", "-g", "prod-rg", "web1", REQUESTS_CA_BUNDLE=None, SSL_CERT_FILE=ca)
    assert doctor.returncode == 0, doctor.stderr
    sent = azure.cli("send", "-g", "prod-rg", "web1", "", "--expect", "login: $", "--timeout", "15",
                     REQUESTS_CA_BUNDLE=None, SSL_CERT_FILE=ca)
    assert sent.returncode == 0, sent.stderr


def test_requests_ca_bundle_alone_is_trusted_for_arm_and_the_gateway(azure):
    azure.env.pop("SSL_CERT_FILE", None)
    term = start(azure, "-g", "prod-rg", "web1")
    try:
        log_in(term)
    finally:
        term.close()


def test_an_unrelated_ca_is_refused(azure, tmp_path):
    other, _, _ = make_certificates(tmp_path / "other")
    result = azure.cli("doctor", "-g", "prod-rg", "web1", REQUESTS_CA_BUNDLE=str(other), SSL_CERT_FILE=str(other))
    assert result.returncode == 7, result.stderr
    assert b"SSLError" in result.stderr or b"TLS verification failed" in result.stderr
