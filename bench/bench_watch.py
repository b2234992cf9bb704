#!/usr/bin/env python3
"""A watcher's added latency: from a byte the device sends to the writer's terminal (`sercon connect`)
and to a watcher's terminal (`sercon watch`, joined through the session's control socket), per line.

    python bench/bench_watch.py [--lines 300] [--gap 0.02]

The device is a pty pair; each client runs on a pty of its own, read by this bench. Each probe line
carries its number; the time it is first seen on each terminal is taken from a monotonic clock. The
figures are p50/p99 of (watcher - device) and (writer - device), and their difference: what watching
adds. A benchmark, not a test: it prints figures.
"""

from __future__ import annotations

import argparse
import os
import re
import select
import statistics
import subprocess
import sys
import tempfile
import time
import tty


def _client(args: list[str], env: dict[str, str]) -> tuple[subprocess.Popen, int]:
    master, slave = os.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "sercon", *args], stdin=slave, stdout=slave, stderr=slave,
                            env=env, start_new_session=True)
    os.close(slave)
    os.set_blocking(master, False)
    return proc, master


def _wait_for(fd: int, pattern: bytes, timeout: float = 20) -> None:
    seen, deadline = b"", time.monotonic() + timeout
    while pattern not in seen:
        if time.monotonic() > deadline:
            raise SystemExit(f"never saw {pattern!r}: {seen[-300:]!r}")
        if select.select([fd], [], [], 0.1)[0]:
            seen += os.read(fd, 65536)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lines", type=int, default=300)
    parser.add_argument("--gap", type=float, default=0.02, help="seconds between probe lines")
    args = parser.parse_args()
    dev_master, dev_slave = os.openpty()
    tty.setraw(dev_slave)
    path = os.ttyname(dev_slave)
    runtime = tempfile.mkdtemp(prefix="bw-")
    env = dict(os.environ, XDG_RUNTIME_DIR=runtime, XDG_STATE_HOME=runtime, TERM="xterm",
               SERCON_CONFIG="/nonexistent/sercon.toml")
    writer, w_fd = _client(["connect", path, "--no-journal"], env)
    _wait_for(w_fd, b"connected to")
    watcher, v_fd = _client(["watch", path], env)
    time.sleep(0.5)
    os.write(dev_master, b"ready\r\n")
    _wait_for(v_fd, b"ready")
    sent: dict[int, float] = {}
    seen: dict[int, dict[int, float]] = {w_fd: {}, v_fd: {}}
    buffers = {w_fd: b"", v_fd: b""}
    probe = re.compile(rb"#(\d+)#")
    next_at = time.monotonic()
    number = 0
    while number < args.lines or any(len(seen[fd]) < args.lines for fd in seen):
        now = time.monotonic()
        if number < args.lines and now >= next_at:
            sent[number] = time.monotonic()
            os.write(dev_master, b"#%d#\r\n" % number)
            number += 1
            next_at = now + args.gap
        if now > next_at + 10:
            break
        for fd in select.select([w_fd, v_fd], [], [], 0.002)[0]:
            stamp = time.monotonic()
            buffers[fd] += os.read(fd, 65536)
            for match in probe.finditer(buffers[fd]):
                seen[fd].setdefault(int(match.group(1)), stamp)
            buffers[fd] = buffers[fd][-16:]
    for proc in (watcher, writer):
        proc.terminate()
        proc.wait(5)

    def figures(fd: int) -> list[float]:
        return sorted((seen[fd][n] - sent[n]) * 1e6 for n in sent if n in seen[fd])

    def pct(values: list[float], q: float) -> float:
        return values[min(len(values) - 1, int(q * len(values)))] if values else float("nan")

    writer_us, watcher_us = figures(w_fd), figures(v_fd)
    print(f"lines {args.lines}, seen by the writer {len(writer_us)}, by the watcher {len(watcher_us)}")
    print(f"device -> writer's terminal:  p50 {pct(writer_us, 0.5):.0f} µs, p99 {pct(writer_us, 0.99):.0f} µs")
    print(f"device -> watcher's terminal: p50 {pct(watcher_us, 0.5):.0f} µs, p99 {pct(watcher_us, 0.99):.0f} µs")
    added = [(seen[v_fd][n] - seen[w_fd][n]) * 1e6 for n in sent if n in seen[v_fd] and n in seen[w_fd]]
    if added:
        print(f"added by watching (watcher - writer, per line): median {statistics.median(added):.0f} µs")


if __name__ == "__main__":
    main()
