"""One serial console client on a pty pair, and the figures bench_serial.py takes from it.

The device is a pty pair: the bench is the far end (the master), the client opens the slave. The
client runs on a pty of its own as its controlling terminal: the bench types into that terminal's
master and reads the screen from it. The "pty" baseline has no client at all: the bench types into
the device's slave directly, which is the floor every client's figures sit on.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import select
import signal
import struct
import subprocess
import termios
import threading
import time
import tty
from dataclasses import dataclass, field

PROBE = b"#P#"  # what the device sends until the client shows it: the first console byte
PROBE_EVERY = 0.0005  # seconds between probes while the client starts (the resolution of first byte)
KEY_GAP = 0.004  # seconds between keystrokes: a person types no faster, and no two keys coalesce
CLK_TCK = os.sysconf("SC_CLK_TCK")
LINE = b"0123456789abcdefghijklmnopqrstuvwxyz" * 2 + b"\r\n"


@dataclass
class Figures:
    """What one round measured for one client (None: not measured, e.g. the baseline has no process)."""

    first_byte_s: float | None = None
    key_us: list[float] = field(default_factory=list)
    echo_us: list[float] = field(default_factory=list)
    idle_wakeups: float | None = None
    idle_cpu_pct: float | None = None
    mbps: float | None = None
    cpu_s_per_mb: float | None = None
    peak_rss_mb: float | None = None


class Rig:
    """A device pty pair and, unless *command* is None, a client attached to it on a terminal pty."""

    def __init__(self, command: list[str] | None, env: dict[str, str] | None = None) -> None:
        self.dev_master, self.dev_slave = os.openpty()
        tty.setraw(self.dev_slave)
        self.path = os.ttyname(self.dev_slave)
        self.proc: subprocess.Popen | None = None
        self.first_byte_s: float | None = None
        if command is None:
            self.term = self.dev_slave  # the baseline: type into the device line itself
            return
        self.term, term_slave = os.openpty()
        fcntl.ioctl(term_slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
        os.set_blocking(self.dev_master, False)
        start = time.perf_counter()
        self.proc = subprocess.Popen(
            [part.replace("{dev}", self.path) for part in command], stdin=term_slave, stdout=term_slave,
            stderr=term_slave, env=env, start_new_session=True,
            preexec_fn=lambda: fcntl.ioctl(0, termios.TIOCSCTTY, 0),
        )
        os.close(term_slave)
        try:
            self.first_byte_s = self._first_byte(start)
        except BaseException:
            self.close()
            raise
        os.set_blocking(self.dev_master, True)

    # -- start-up ---------------------------------------------------------------------------------
    def _first_byte(self, start: float, timeout: float = 20) -> float:
        """The device sends a probe every PROBE_EVERY s from the launch on; the time until one
        shows on the client's terminal (banners don't count), then the line goes quiet again."""
        seen = b""
        while PROBE not in seen:
            now = time.perf_counter()
            if now - start > timeout or self.proc.poll() is not None:
                raise RuntimeError(f"client never showed the device's output; terminal: {seen[-300:]!r}")
            with contextlib.suppress(BlockingIOError):
                os.write(self.dev_master, PROBE)
            if select.select([self.term], [], [], PROBE_EVERY)[0]:
                seen += _read(self.term)
        elapsed = time.perf_counter() - start
        while drain(self.term, 0.2):
            pass
        while drain(self.dev_master, 0.05):
            pass
        return elapsed

    # -- keys ---------------------------------------------------------------------------------------
    def keystrokes(self, count: int) -> list[float]:
        """Terminal -> client -> device, in µs, one key at a time."""
        return self._keys(count, echo=False)

    def echoes(self, count: int) -> list[float]:
        """Terminal -> client -> device -> (echoed at once) -> client -> terminal, in µs."""
        return self._keys(count, echo=True)

    def _keys(self, count: int, echo: bool) -> list[float]:
        times = []
        for i in range(count):
            key = bytes([ord("a") + i % 26])
            start = time.perf_counter()
            os.write(self.term, key)
            wait_for(self.dev_master, key, "a keystroke never reached the device")
            if echo:
                os.write(self.dev_master, key)
                wait_for(self.term, key, "the echo never reached the terminal")
            times.append((time.perf_counter() - start) * 1e6)
            time.sleep(KEY_GAP)
        return times

    # -- idle ---------------------------------------------------------------------------------------
    def idle(self, seconds: float, settle: float = 0.5) -> tuple[float, float]:
        """(wake-ups per second, CPU %) of every thread of the client over a quiet interval."""
        assert self.proc is not None
        time.sleep(settle)  # what the last key left behind (a held-back Esc, a flush) is over
        switches, cpu = context_switches(self.proc.pid), cpu_seconds(self.proc.pid)
        time.sleep(seconds)
        return ((context_switches(self.proc.pid) - switches) / seconds,
                (cpu_seconds(self.proc.pid) - cpu) / seconds * 100)

    # -- output -------------------------------------------------------------------------------------
    def throughput(self, size: int, max_seconds: float) -> tuple[float, float | None]:
        """(MB/s, client CPU s per MB) for *size* bytes device -> client -> terminal (or what
        arrived in *max_seconds*, for a slow client)."""
        block = LINE * 800
        stop = threading.Event()

        def feed() -> None:
            sent = 0
            os.set_blocking(self.dev_master, False)
            while sent < size and not stop.is_set():
                if select.select([], [self.dev_master], [], 0.1)[1]:
                    with contextlib.suppress(BlockingIOError):
                        sent += os.write(self.dev_master, block[: size - sent])
            os.set_blocking(self.dev_master, True)

        writer = threading.Thread(target=feed, daemon=True)
        cpu = cpu_seconds(self.proc.pid) if self.proc else None
        start = time.perf_counter()
        writer.start()
        received = 0
        while received < size and time.perf_counter() - start < max_seconds:
            if select.select([self.term], [], [], 0.5)[0]:
                received += len(_read(self.term))
        elapsed = time.perf_counter() - start
        stop.set()
        writer.join()
        mb = received / 1e6
        per_mb = (cpu_seconds(self.proc.pid) - cpu) / mb if self.proc and mb else None
        return mb / elapsed, per_mb

    def peak_rss_mb(self) -> float | None:
        if self.proc is None:
            return None
        with open(f"/proc/{self.proc.pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
        return None

    def close(self) -> None:
        if self.proc is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
            os.close(self.term)
        for fd in (self.dev_master, self.dev_slave):
            os.close(fd)


def measure(command: list[str] | None, env: dict[str, str] | None, keys: int, idle_s: float, size: int,
            max_seconds: float) -> Figures:
    """Every figure of one round for one client, on one launch of it (the baseline: no launch)."""
    rig = Rig(command, env)
    try:
        figures = Figures(first_byte_s=rig.first_byte_s)
        figures.key_us = rig.keystrokes(keys)
        figures.echo_us = rig.echoes(keys)
        if rig.proc is not None and idle_s > 0:
            figures.idle_wakeups, figures.idle_cpu_pct = rig.idle(idle_s)
        figures.mbps, figures.cpu_s_per_mb = rig.throughput(size, max_seconds)
        figures.peak_rss_mb = rig.peak_rss_mb()
        return figures
    finally:
        rig.close()


def _read(fd: int) -> bytes:
    try:
        return os.read(fd, 1 << 16)
    except OSError:  # EIO: the other side of the pty is gone
        return b""


def wait_for(fd: int, wanted: bytes, error: str, timeout: float = 5.0) -> None:
    got = b""
    while wanted not in got:
        if not select.select([fd], [], [], timeout)[0]:
            raise RuntimeError(f"{error} (saw {got[-100:]!r})")
        got += _read(fd)


def drain(fd: int, timeout: float) -> bytes:
    out = b""
    while select.select([fd], [], [], timeout)[0]:
        chunk = _read(fd)
        if not chunk:
            break
        out += chunk
        timeout = 0.01
    return out


def cpu_seconds(pid: int) -> float:
    """CPU time of all the process's threads, from schedstat in nanoseconds (utime + stime in clock
    ticks where schedstat is missing: 10 ms steps, too coarse for a run of a fraction of a second)."""
    total = 0
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with contextlib.suppress(FileNotFoundError), open(f"/proc/{pid}/task/{task}/schedstat") as stat:
                total += int(stat.read().split()[0])
        return total / 1e9
    except (FileNotFoundError, ValueError, IndexError):
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        return sum(int(v) for v in fields[11:15]) / CLK_TCK


def context_switches(pid: int) -> int:
    """Voluntary + involuntary context switches of every thread: each is the thread waking up."""
    total = 0
    for task in os.listdir(f"/proc/{pid}/task"):
        with contextlib.suppress(FileNotFoundError), open(f"/proc/{pid}/task/{task}/status") as status:
            for line in status:
                if "ctxt_switches" in line:
                    total += int(line.split()[1])
    return total
