#!/usr/bin/env python3
"""The Azure path against the emulator, measured in one run, rounds interleaved, medians:

- time from starting `sercon connect VM` to the session being up (gateway's first frame), and to
  the first console byte after pressing Enter;
- keystroke -> frame: a key typed into sercon's terminal until the emulated gateway hands its TEXT
  frame's payload to the VM (p50 and p99 of each round's --keys keys, 4 ms apart, as a person types);
- the one-shot commands' wall times: `sercon send VM 'echo hi' --expect hi` and `sercon nmi --yes VM`
  (on a shell that prints its prompt on attach, and on a console at rest that prints nothing);
- output throughput through the gateway (MB/s), next to the same output through a local
  pseudo-terminal serial line, with the ratio.

Each sercon given with --sercon (an installed `sercon` executable; default: this checkout's) is
measured in the same rounds, so a before/after comparison shares the machine's state:

    python bench/bench_gateway.py [--mb 8] [--runs 5] [--keys 300]
        [--sercon OLD/.venv/bin/sercon --sercon .venv/bin/sercon]

A --sercon may be a two-line script that runs another source tree, e.g. the code before a change:
`git archive HEAD~1 | tar -x -C /tmp/before` and `PYTHONPATH=/tmp/before exec .venv/bin/python -m sercon "$@"`.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

import pexpect

from sercon_emulator.ptyconsole import PtyConsole
from sercon_emulator.server import Emulator
from sercon_emulator.vmconsole import VmConsole
from sercon_emulator.world import World

KEY_GAP = 0.004  # seconds between keystrokes: a person types no faster, and no two keys coalesce
SHELL_ENV = {"PATH": "/usr/bin:/bin", "PS1": "$ ", "HOME": "/tmp", "TERM": "dumb"}


def default_sercon() -> list[str]:
    return [shutil.which("sercon")] if shutil.which("sercon") else [sys.executable, "-m", "sercon"]


def spawn(sercon: list[str], args: list[str], env: dict[str, str]) -> pexpect.spawn:
    command = [*sercon, "connect", *args]
    return pexpect.spawn(command[0], command[1:], env=env, timeout=60, dimensions=(50, 200), maxread=1 << 20)


def throughput(child: pexpect.spawn, size: int) -> float:
    child.send(b"\r")
    child.expect(rb"[$#] $")
    start = time.perf_counter()
    child.send(f"head -c {size} /dev/zero | tr '\\0' a; echo; echo END-OF-RUN\r".encode())
    child.expect(rb"\r\nEND-OF-RUN", timeout=300)
    return size / (time.perf_counter() - start) / 1e6


class VmInput:
    """What the emulated VMs were given (the payload of each input frame), with when, in this process's clock."""

    def __init__(self) -> None:
        self.received = bytearray()
        self.cond = threading.Condition()
        write = VmConsole.write

        def recording(console: VmConsole, data: bytes) -> None:
            with self.cond:
                self.received += data
                self.cond.notify_all()
            write(console, data)

        VmConsole.write = recording  # the bench's own process: the emulator runs in a thread of it

    def wait_for(self, key: bytes, start: int, timeout: float = 10.0) -> None:
        with self.cond:
            if not self.cond.wait_for(lambda: key in self.received[start:], timeout):
                raise SystemExit(f"the VM never received the keystroke {key!r}")


VM_INPUT: VmInput | None = None


def keystrokes(child: pexpect.spawn, count: int) -> list[float]:
    """Key typed -> its frame's payload handed to the VM, in µs, one key at a time."""
    assert VM_INPUT is not None
    times = []
    for i in range(count):
        key = bytes([ord("a") + i % 26])
        mark = len(VM_INPUT.received)
        start = time.perf_counter()
        os.write(child.child_fd, key)  # not child.send: pexpect sleeps 50 ms before each send
        VM_INPUT.wait_for(key, mark)
        times.append((time.perf_counter() - start) * 1e6)
        time.sleep(KEY_GAP)
    child.send(b"\x15")  # Ctrl-U: the shell forgets the typed line
    return sorted(times)


def one_round(sercon: list[str], env: dict[str, str], size: int, figures: dict[str, list[float]],
              keys: int = 0) -> None:
    start = time.perf_counter()
    child = spawn(sercon, ["-g", "rg", "vm1", "--resize", "off"], env)
    child.expect(rb"\[sercon\] connected to")
    figures["connect -> session up (ms)"].append((time.perf_counter() - start) * 1000)
    child.send(b"\r")
    child.expect(rb"[$#] ")
    figures["connect -> first console byte after Enter (ms)"].append((time.perf_counter() - start) * 1000)
    if keys:
        times = keystrokes(child, keys)
        figures["keystroke -> frame p50 (µs)"].append(times[len(times) // 2])
        figures["keystroke -> frame p99 (µs)"].append(times[min(len(times) - 1, len(times) * 99 // 100)])
    if size:
        figures["gateway output MB/s"].append(throughput(child, size))
    child.sendcontrol("]")
    child.send(b"q")
    child.expect(pexpect.EOF)
    for name, args in (("send one-shot (ms)", ["send", "-g", "rg", "vm1", "echo hi", "--expect", "hi"]),
                       ("nmi one-shot (ms)", ["nmi", "--yes", "-g", "rg", "vm1"]),
                       ("nmi one-shot, a console that prints nothing (ms)", ["nmi", "--yes", "-g", "rg", "quiet"])):
        start = time.perf_counter()
        done = subprocess.run([*sercon, *args], env=env, capture_output=True, timeout=60)
        if done.returncode != 0:
            raise SystemExit(f"{' '.join(args)} failed: {done.stderr.decode()}")
        figures[name].append((time.perf_counter() - start) * 1000)


def local_throughput(sercon: list[str], size: int, runs: int) -> list[float]:
    values = []
    with PtyConsole(["/bin/sh", "-i"], env=SHELL_ENV) as pty:
        for _ in range(runs):
            child = spawn(sercon, [pty.device_path, "--no-reconnect"], dict(os.environ))
            child.expect(rb"\[sercon\] connected to")
            values.append(throughput(child, size))
            child.sendcontrol("]")
            child.send(b"q")
            child.expect(pexpect.EOF)
    return values


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mb", type=float, default=8)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--keys", type=int, default=300, help="keystrokes per round (0: none)")
    parser.add_argument("--sercon", action="append", help="a sercon executable to measure (repeatable)")
    args = parser.parse_args()
    builds = [[path] for path in args.sercon] if args.sercon else [default_sercon()]
    size = int(args.mb * 1e6)
    world = World({"subscriptions": [{"id": "sub-bench", "resource_groups": {"rg": {"vms": [
        {"name": "vm1", "command": ["/bin/sh", "-i"]},
        {"name": "quiet", "command": ["/bin/cat"]}]}}}]})  # as a console at rest: nothing printed on attach
    figures: list[dict[str, list[float]]] = [{} for _ in builds]
    global VM_INPUT
    VM_INPUT = VmInput()
    for build in figures:
        for name in ("connect -> session up (ms)", "connect -> first console byte after Enter (ms)",
                     *(("keystroke -> frame p50 (µs)", "keystroke -> frame p99 (µs)") if args.keys else ()),
                     "send one-shot (ms)", "nmi one-shot (ms)", "nmi one-shot, a console that prints nothing (ms)",
                     "gateway output MB/s"):
            build[name] = []
    with Emulator(world) as emulator, tempfile.TemporaryDirectory() as home:
        os.environ.update({k: v for k, v in emulator.environment().items() if k in ("REQUESTS_CA_BUNDLE",)})
        for _ in range(args.runs):
            for index, sercon in enumerate(builds):  # interleaved: the machine's state is shared
                own = os.path.join(home, str(index))  # each build its own (warm after round 1) caches
                env = {**os.environ, **emulator.environment(), "HOME": own, "XDG_CACHE_HOME": own,
                       "XDG_RUNTIME_DIR": own}
                os.makedirs(own, mode=0o700, exist_ok=True)
                one_round(sercon, env, size, figures[index], args.keys)
    local = local_throughput(builds[-1], size, args.runs)
    report(builds, figures, local)


def report(builds: list[list[str]], figures: list[dict[str, list[float]]], local: list[float]) -> None:
    names = [" ".join(build) for build in builds]
    print(f"| figure (median) | {' | '.join(names)} |" + (" last / first |" if len(builds) > 1 else ""))
    print("|---|" + "---:|" * len(builds) + ("---:|" if len(builds) > 1 else ""))
    for name in figures[0]:
        values = [statistics.median(build[name]) for build in figures]
        ratio = f" {values[-1] / values[0]:.2f}x |" if len(builds) > 1 and values[0] else ""
        print(f"| {name} | " + " | ".join(f"{v:.1f}" for v in values) + " |" + ratio)
    gateway, pty = statistics.median(figures[-1]["gateway output MB/s"]), statistics.median(local)
    print(f"\nlast build's output throughput: gateway {gateway:.1f} MB/s, local pty {pty:.1f} MB/s, "
          f"gateway / pty = {gateway / pty:.2f}x")


if __name__ == "__main__":
    main()
