from sercon.errors import (
    ConnectionLost,
    DeviceBusy,
    ExitStatus,
    ExpectTimeout,
    Interrupted,
    PermissionDenied,
    PreconditionFailed,
    SerconError,
    TakenOver,
    TargetNotFound,
    UsageError,
    redact,
)


def test_exit_statuses_are_the_contracts():
    assert {s.name: int(s) for s in ExitStatus} == {
        "SUCCESS": 0, "ERROR": 1, "USAGE": 2, "TIMEOUT": 3, "NOT_FOUND": 4, "AUTH": 5,
        "PRECONDITION": 6, "CONNECTION_LOST": 7, "TAKEN_OVER": 8, "DEVICE_BUSY": 9, "INTERRUPTED": 130,
        "OUTPUT_CLOSED": 141,  # 128 + SIGPIPE: `| head` closed the pipe (docs/exit-codes.md)
    }


def test_each_error_carries_its_status():
    pairs = [(UsageError, 2), (ExpectTimeout, 3), (TargetNotFound, 4), (PermissionDenied, 5),
             (PreconditionFailed, 6), (ConnectionLost, 7), (TakenOver, 8), (DeviceBusy, 9), (SerconError, 1)]
    for cls, status in pairs:
        assert cls("x").exit_status == status


def test_interrupted_maps_signals():
    assert Interrupted(2, "SIGINT").exit_code == 130
    assert Interrupted(15, "SIGTERM").exit_code == 143


def test_redact_blanks_tokens_and_secrets():
    jwt = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl"
    text = redact(f"url wss://h/x?authorization={jwt}&sig=abc123 header Authorization: Bearer {jwt} "
                  f'body {{"access_token": "{jwt}"}} client_secret=hunter2')
    assert jwt not in text and "abc123" not in text and "hunter2" not in text
    assert "wss://h/x?authorization=" in text


def test_error_messages_are_redacted():
    err = ConnectionLost("failed GET https://x/y?sig=SECRETSIG", hint="token=SECRET2")
    assert "SECRETSIG" not in err.message and "SECRET2" not in (err.hint or "")
