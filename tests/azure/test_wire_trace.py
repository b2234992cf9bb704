"""--trace against the emulated Azure: the connect call with its request id, the WebSocket's open, frames
and close, a one-shot sysrq's admin POST, and no token, client secret, password or SAS signature."""

from __future__ import annotations

import re
import stat

from tests.azure.conftest import SUB
from tests.support.azure_session import PASSWORD, answered, close_console, ended, piped_connect
from tests.support.waiting import wait_for

UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


def secrets_of(azure) -> list[str]:
    """Everything that must never be in a trace: the live tokens (any 12 characters of a signature: a
    piece of one is a leak too), the client secret, the VM's password, the boot log's SAS signature."""
    tokens = list(azure.emulator.tokens.live)
    assert tokens
    pieces = {token.rsplit(".", 1)[1][i:i + 12] for token in tokens for i in range(len(token.rsplit(".", 1)[1]) - 11)}
    return [*tokens, *pieces, azure.env["AZURE_CLIENT_SECRET"], PASSWORD, azure.emulator.arm.blob_secret]


def events(path) -> list[str]:
    return [line.split("] ", 1)[1] for line in path.read_text().splitlines()]


def test_a_gateway_session_is_traced_open_frames_close(azure, tmp_path):
    trace = tmp_path / "wire.trace"
    gateway = azure.emulator.arm.gateway
    proc = piped_connect({**azure.env, "SERCON_TRACE": str(trace)}, "-g", "prod-rg", "web1")
    try:
        answered(proc, gateway)
        proc.stdin.write(PASSWORD.encode() + b"\r")  # typed as the user name: the console echoes it back
        proc.stdin.flush()
        seen = b""
        while PASSWORD.encode() not in seen:
            chunk = proc.stdout.read1(4096)
            assert chunk, proc.stderr.read()
            seen += chunk
        close_console(azure, "web1", 1001, "Going away for maintenance")
        err = ended(proc)
        assert proc.returncode == 7, err
    finally:
        proc.kill()
    said = events(trace)
    connect = [e for e in said if e.startswith("arm POST ") and e.split()[2].endswith("/serialPorts/0/connect")]
    assert connect and re.search(rf"status=200 ms=\d+ .*x-ms-request-id={UUID}", connect[0]), said
    assert f"/subscriptions/{SUB}/" in connect[0] and "api-version" not in connect[0]
    assert "x-ms-ratelimit-remaining-subscription-writes=1199" in connect[0]
    opened = [e for e in said if e.startswith("ws open url=")]
    assert opened and re.fullmatch(r"ws open url=wss://127\.0\.0\.1:\d+/n/connector/[^ ?]+/client", opened[0]), opened
    assert any(e.startswith("ws out TEXT (the token, not written) size=") for e in said)
    assert any(e.startswith("ws in TEXT size=") for e in said)
    typed = [int(e.rsplit("=", 1)[1]) for e in said if e.startswith("ws out TEXT size=")]
    assert sum(typed) >= len(PASSWORD) + 2, said  # the Enter, then the password and its Enter: sizes only
    assert any(e.startswith("ws in BINARY size=") for e in said), said  # the console's output
    assert "ws closed by the gateway code=1001 reason='Going away for maintenance'" in said, said
    text = trace.read_text()
    for secret in secrets_of(azure):
        assert secret not in text
    assert stat.S_IMODE(trace.stat().st_mode) == 0o600


def test_a_one_shot_sysrq_traces_its_admin_post(azure, tmp_path):
    trace = tmp_path / "wire.trace"
    result = azure.cli("--trace", str(trace), "sysrq", "h", "-g", "prod-rg", "web1")
    assert result.returncode == 0, result.stderr
    said = events(trace)
    admin = [e for e in said if e.startswith("admin POST ")]
    assert admin and re.fullmatch(r"admin POST /n/connector/[^ ?]+/adminCommand/sysrq status=200 ms=\d+.*",
                                  admin[0]), said
    assert said.index(admin[0]) > next(i for i, e in enumerate(said) if e.startswith("ws open"))
    assert any(e.startswith("sign-in POST ") and " status=200" in e for e in said), said  # the client secret's grant
    assert "sign-in signed in source='service principal (AZURE_CLIENT_*)'" in said, said
    text = trace.read_text()
    for secret in secrets_of(azure):
        assert secret not in text


def test_the_boot_log_trace_holds_no_sas(azure, tmp_path):
    trace = tmp_path / "wire.trace"
    result = azure.cli("--trace", str(trace), "log", "-g", "prod-rg", "web1")
    assert result.returncode == 0, result.stderr
    assert b"boot line 1" in result.stdout
    said = events(trace)
    assert any(e.startswith("arm POST ") and "retrieveBootDiagnosticsData" in e for e in said), said
    blob = [e for e in said if e.startswith("blob GET ")]
    assert blob and " status=200" in blob[0] and "?" not in blob[0], said  # the path, never the SAS query
    for secret in secrets_of(azure):
        assert secret not in trace.read_text()


def test_a_reconnect_after_a_network_cut_is_traced(azure, tmp_path):
    """The lost socket (the read that failed), the reconnect, its fresh connect call and socket."""
    trace = tmp_path / "wire.trace"
    gateway = azure.emulator.arm.gateway
    proc = piped_connect({**azure.env, "SERCON_TRACE": str(trace)}, "-g", "prod-rg", "web1")
    try:
        answered(proc, gateway)
        azure.hook("gateway/web1/cut")
        wait_for(lambda: sum(e.startswith("ws upgraded") for e in events(trace)) >= 2, 30, "the second session")
        proc.stdin.close()  # the end of input ends the session
        proc.wait(20)
    finally:
        proc.kill()
    said = events(trace)
    cut = next(i for i, e in enumerate(said) if e.startswith("ws read failed error="))
    assert "ws reconnect label=prod-rg/web1" in said[cut + 1:], said
    after = said[cut:]
    assert any(e.startswith("arm POST ") and e.split()[2].endswith("/serialPorts/0/connect") for e in after), said
    assert sum(e.startswith("ws open url=") for e in after) == 1, said
