"""The boot diagnostics serial log: retrieveBootDiagnosticsData, then the SAS URL it returns.

The SAS URL carries a signature: it is never printed, and errors about it go through redact().
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import sercon
from sercon.azure.arm import ArmClient
from sercon.azure.resolve import AzureVm
from sercon.errors import ConnectionLost, PreconditionFailed, SerconError, redact

CHUNK = 1 << 16


def log_url(arm: ArmClient, vm: AzureVm) -> str:
    path = vm.resource_id + "/retrieveBootDiagnosticsData"
    try:
        body = arm.post(path, "compute", sasUriExpirationTimeInMinutes="60")
    except PreconditionFailed as exc:
        raise PreconditionFailed(exc.message, "turn boot diagnostics on: see `sercon doctor`") from exc
    url = body.get("serialConsoleLogBlobUri")
    if not url:
        raise PreconditionFailed(f"Azure gave no serial log for {vm.label}", "check `sercon doctor`")
    return url


class BootLog:
    """Reads the log blob from an offset, with Range requests, renewing the SAS URL when it expires."""

    def __init__(self, arm: ArmClient, vm: AzureVm) -> None:
        self.arm, self.vm = arm, vm
        self.session = arm.trust.session()
        self.url = log_url(arm, vm)
        self.offset = 0

    def size(self) -> int:
        response = self._get("HEAD", {})
        return int(response.headers.get("Content-Length", 0))

    def read_from(self, offset: int, progress: Callable[[int, int], None] | None = None) -> Iterator[bytes]:
        """Yield the bytes from *offset* on; sets ``self.offset`` past them."""
        headers = {"Range": f"bytes={offset}-"} if offset else {}
        response = self._get("GET", headers, stream=True)
        if response.status_code == 416:  # nothing new yet
            return
        skip = offset if offset and response.status_code == 200 else 0  # a server that ignored the range
        total = int(response.headers.get("Content-Length", 0))
        done = 0
        self.offset = offset
        for chunk in response.iter_content(CHUNK):
            done += len(chunk)
            if progress is not None:
                progress(done, total)
            if skip:
                cut = min(skip, len(chunk))
                chunk, skip = chunk[cut:], skip - cut
            if chunk:
                self.offset += len(chunk)
                yield chunk

    def _get(self, method: str, headers: dict[str, str], stream: bool = False):
        import requests

        for renewed in (False, True):
            started = time.monotonic()
            try:
                response = self.session.request(method, self.url, headers=headers, stream=stream, timeout=30)
            except requests.RequestException as exc:
                if sercon.TRACE is not None:
                    sercon.TRACE.http_failed("blob", method, self.url, exc, started, file_only=True)
                raise ConnectionLost(redact(f"cannot read the boot log: {exc.__class__.__name__}")) from exc
            if sercon.TRACE is not None:  # the blob's name only: the query is the SAS, and a path may be a secret too
                sercon.TRACE.http("blob", method, self.url, response, started, file_only=True)
            if response.status_code == 403 and not renewed:  # the SAS URL expired: ask for a new one
                self.url = log_url(self.arm, self.vm)
                continue
            if response.status_code >= 400 and response.status_code != 416:
                raise SerconError(f"reading the boot log failed: HTTP {response.status_code}",
                                  "run `sercon doctor` for the VM")
            return response
        raise SerconError("the boot log's address kept expiring")  # pragma: no cover


def tail_lines(data: bytes, count: int) -> bytes:
    lines = data.splitlines(keepends=True)
    return b"".join(lines[-count:]) if count else b""


def follow(log: BootLog, write: Callable[[bytes], None], interval: float, stop: Callable[[], bool]) -> None:
    """Print new bytes as they land in the log until *stop* says so."""
    while not stop():
        for chunk in log.read_from(log.offset):
            write(chunk)
        time.sleep(interval)
