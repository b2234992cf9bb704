#!/usr/bin/env python3
"""The Azure path against the emulator, next to a local pty, measured in one run:

- time from starting `sercon connect VM` to the session being up (gateway's first frame), and to
  the first console byte after pressing Enter;
- output throughput through the gateway (MB/s), next to the same output through a local
  pseudo-terminal serial line, with the ratio.

    python bench/bench_gateway.py [--mb 8] [--runs 5]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time

import pexpect

from sercon.emulator.ptyconsole import PtyConsole
from sercon.emulator.server import Emulator
from sercon.emulator.world import World

SHELL_ENV = {"PATH": "/usr/bin:/bin", "PS1": "$ ", "HOME": "/tmp", "TERM": "dumb"}


def sercon() -> list[str]:
    return [shutil.which("sercon")] if shutil.which("sercon") else [sys.executable, "-m", "sercon"]


def spawn(args: list[str], env: dict[str, str]) -> pexpect.spawn:
    command = [*sercon(), "connect", *args]
    return pexpect.spawn(command[0], command[1:], env=env, timeout=60, dimensions=(50, 200), maxread=1 << 20)


def throughput(child: pexpect.spawn, size: int) -> float:
    child.send(b"\r")
    child.expect(rb"[$#] $")
    start = time.perf_counter()
    child.send(f"head -c {size} /dev/zero | tr '\\0' a; echo; echo END-OF-RUN\r".encode())
    child.expect(rb"\r\nEND-OF-RUN", timeout=300)
    return size / (time.perf_counter() - start) / 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mb", type=float, default=8)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    size = int(args.mb * 1e6)
    world = World({"subscriptions": [{"id": "sub-bench", "resource_groups": {"rg": {"vms": [
        {"name": "vm1", "command": ["/bin/sh", "-i"]}]}}}]})
    setup, first_byte, gateway = [], [], []
    with Emulator(world) as emulator, tempfile.TemporaryDirectory() as home:
        os.environ.update({k: v for k, v in emulator.environment().items() if k in ("REQUESTS_CA_BUNDLE",)})
        env = {**os.environ, **emulator.environment(), "HOME": home, "XDG_CACHE_HOME": home,
               "XDG_RUNTIME_DIR": home}
        for _ in range(args.runs):
            start = time.perf_counter()
            child = spawn(["-g", "rg", "vm1", "--resize", "off"], env)
            child.expect(rb"\[sercon\] connected to")
            setup.append(time.perf_counter() - start)
            child.send(b"\r")
            child.expect(rb"[$#] ")
            first_byte.append(time.perf_counter() - start)
            gateway.append(throughput(child, size))
            child.sendcontrol("]")
            child.send(b"q")
            child.expect(pexpect.EOF)
    local = []
    with PtyConsole(["/bin/sh", "-i"], env=SHELL_ENV) as pty:
        for _ in range(args.runs):
            child = spawn([pty.device_path, "--no-reconnect"], dict(os.environ))
            child.expect(rb"\[sercon\] connected to")
            local.append(throughput(child, size))
            child.sendcontrol("]")
            child.send(b"q")
            child.expect(pexpect.EOF)
    ms = lambda values: f"{statistics.median(values) * 1000:.0f} ms"  # noqa: E731
    print(f"connect -> session up (first gateway frame): median {ms(setup)}")
    print(f"connect -> first console byte after Enter:   median {ms(first_byte)}")
    g, p = statistics.median(gateway), statistics.median(local)
    print(f"output throughput: gateway {g:.1f} MB/s, local pty {p:.1f} MB/s, gateway / pty = {g / p:.2f}x")
    print("runs (MB/s): gateway " + ", ".join(f"{v:.1f}" for v in gateway) + "; pty " +
          ", ".join(f"{v:.1f}" for v in local))


if __name__ == "__main__":
    main()
