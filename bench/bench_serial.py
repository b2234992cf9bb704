#!/usr/bin/env python3
"""sercon against picocom, tio and pyserial's miniterm, side by side in one run, on pty pairs.

For each client: output throughput (device -> client -> its terminal), keystroke latency (terminal
-> client -> device, p50/p99), CPU used while idle, and start-up time; then ratios to the others.

    python bench/bench_serial.py [--mb 16] [--keys 300] [--idle 10]

Clients missing from the machine are reported and left out (apt-get install picocom tio).
"""

from __future__ import annotations

import argparse
import fcntl
import os
import select
import shutil
import statistics
import subprocess
import sys
import termios
import threading
import time
import tty

PROBE = b"#PROBE#"
CLK_TCK = os.sysconf("SC_CLK_TCK")


def clients(python: str) -> dict[str, list[str] | None]:
    sercon = shutil.which("sercon")
    return {
        "sercon": [sercon, "connect"] if sercon else [python, "-m", "sercon", "connect"],
        "miniterm": [python, "-m", "serial.tools.miniterm", "--raw", "--quiet"],
        "picocom": [p, "-q", "-b", "115200"] if (p := shutil.which("picocom")) else None,
        "tio": [t, "-b", "115200"] if (t := shutil.which("tio")) else None,
    }


class Rig:
    """A device pty (the bench is the far end) and a client running on a terminal pty."""

    def __init__(self, command: list[str]) -> None:
        self.dev_master, dev_slave = os.openpty()
        tty.setraw(dev_slave)
        self.dev_slave = dev_slave
        path = os.ttyname(dev_slave)
        self.term_master, term_slave = os.openpty()
        extra = [path, "115200"] if "miniterm" in command else [path]
        self.proc = subprocess.Popen(
            [*command, *extra], stdin=term_slave, stdout=term_slave, stderr=term_slave,
            start_new_session=True, preexec_fn=lambda: fcntl.ioctl(0, termios.TIOCSCTTY, 0),
        )
        os.close(term_slave)
        self._wait_ready()

    def _wait_ready(self, timeout: float = 20) -> None:
        """Send a probe from the device until it shows on the terminal: the client is attached."""
        deadline = time.monotonic() + timeout
        seen = b""
        while PROBE not in seen:
            if time.monotonic() > deadline:
                raise RuntimeError(f"client never attached; terminal showed {seen[-200:]!r}")
            os.write(self.dev_master, PROBE)
            seen += drain(self.term_master, 0.2)
        while drain(self.term_master, 0.3):
            pass
        while drain(self.dev_master, 0.1):
            pass

    def throughput(self, size: int, timeout: float = 30) -> float:
        block = (b"0123456789abcdefghijklmnopqrstuvwxyz" * 2 + b"\r\n") * 800
        stop = threading.Event()

        def feed() -> None:
            sent = 0
            while sent < size and not stop.is_set():
                sent += os.write(self.dev_master, block[: size - sent])

        writer = threading.Thread(target=feed, daemon=True)
        start = time.perf_counter()
        writer.start()
        received = 0
        deadline = start + timeout
        while received < size and time.perf_counter() < deadline:
            received += len(drain(self.term_master, 0.5, once=True))
        elapsed = time.perf_counter() - start
        stop.set()
        while drain(self.term_master, 0.3):
            pass
        return received / elapsed / 1e6

    def latency(self, count: int) -> list[float]:
        times = []
        for i in range(count):
            key = bytes([ord("a") + i % 26])
            start = time.perf_counter()
            os.write(self.term_master, key)
            got = b""
            while key not in got:
                chunk = drain(self.dev_master, 2.0, once=True)
                if not chunk:
                    raise RuntimeError("keystroke never reached the device")
                got += chunk
            times.append((time.perf_counter() - start) * 1000)
            drain(self.term_master, 0.005)
            time.sleep(0.005)
        return times

    def idle_cpu(self, seconds: float) -> float:
        before = cpu_seconds(self.proc.pid)
        time.sleep(seconds)
        return (cpu_seconds(self.proc.pid) - before) / seconds * 100

    def close(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        for fd in (self.dev_master, self.dev_slave, self.term_master):
            os.close(fd)


def drain(fd: int, timeout: float, once: bool = False) -> bytes:
    out = b""
    while select.select([fd], [], [], timeout)[0]:
        try:
            out += os.read(fd, 1 << 16)
        except OSError:
            break
        if once:
            break
        timeout = 0.01
    return out


def cpu_seconds(pid: int) -> float:
    """utime + stime of the process and its threads (and reaped children)."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return sum(int(v) for v in fields[11:15]) / CLK_TCK


def startup(command: list[str], runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mb", type=float, default=16, help="megabytes per throughput run")
    parser.add_argument("--keys", type=int, default=300, help="keystrokes for the latency run")
    parser.add_argument("--idle", type=float, default=10, help="seconds of idle CPU measurement")
    parser.add_argument("--rounds", type=int, default=5, help="throughput runs per client (median)")
    parser.add_argument("--runs", type=int, default=15, help="start-up runs (median)")
    args = parser.parse_args()

    available = {name: cmd for name, cmd in clients(sys.executable).items() if cmd is not None}
    for name in clients(sys.executable).keys() - available.keys():
        print(f"{name}: not installed, left out", file=sys.stderr)
    # Throughput varies run to run on a shared machine: interleave the clients, report the median.
    rates: dict[str, list[float]] = {name: [] for name in available}
    for _ in range(args.rounds):
        for name, command in available.items():
            rig = Rig(command)
            try:
                rates[name].append(rig.throughput(int(args.mb * 1e6)))
            finally:
                rig.close()
    results: dict[str, dict[str, float]] = {}
    for name, command in available.items():
        rig = Rig(command)
        try:
            lat = sorted(rig.latency(args.keys))
            cpu = rig.idle_cpu(args.idle)
        finally:
            rig.close()
        mbps = statistics.median(rates[name])
        results[name] = {"MB/s": mbps, "p50 ms": lat[len(lat) // 2],
                         "p99 ms": lat[min(len(lat) - 1, int(len(lat) * 0.99))], "idle CPU %": cpu}
        print(f"{name:9} {mbps:8.1f} MB/s (runs: {', '.join(f'{r:.1f}' for r in rates[name])})  "
              f"keys p50 {results[name]['p50 ms']:.3f} ms p99 {results[name]['p99 ms']:.3f} ms  "
              f"idle CPU {cpu:.2f}%", file=sys.stderr)

    sercon = clients(sys.executable)["sercon"]
    help_ms = startup([*sercon[:-1], "--help"], args.runs)
    click_ms = startup([sys.executable, "-c", "import click"], args.runs)

    print(f"\nidle CPU is counted in clock ticks: one tick over {args.idle:g} s is {100 / CLK_TCK / args.idle:.2f}%")
    print("\n| client | throughput MB/s | keystroke p50 ms | keystroke p99 ms | idle CPU % |")
    print("|---|---:|---:|---:|---:|")
    for name, r in results.items():
        print(f"| {name} | {r['MB/s']:.1f} | {r['p50 ms']:.3f} | {r['p99 ms']:.3f} | {r['idle CPU %']:.2f} |")
    others = {k: v for k, v in results.items() if k != "sercon"}
    if "sercon" in results and others:
        fastest = max(others, key=lambda k: others[k]["MB/s"])
        ratio = results["sercon"]["MB/s"] / others[fastest]["MB/s"]
        print(f"\nthroughput: sercon / fastest other ({fastest}) = {ratio:.2f}x")
        for name, r in others.items():
            print(f"  sercon / {name}: throughput {results['sercon']['MB/s'] / r['MB/s']:.2f}x, "
                  f"p99 latency {results['sercon']['p99 ms'] / r['p99 ms']:.2f}x")
    print(f"start-up: `sercon --help` {help_ms:.1f} ms, `python -c 'import click'` {click_ms:.1f} ms, "
          f"ratio {help_ms / click_ms:.2f}x (target <= 1.5x)")


if __name__ == "__main__":
    main()
