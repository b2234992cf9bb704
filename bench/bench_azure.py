#!/usr/bin/env python3
"""Time `sercon doctor` on a healthy VM against the emulator (target: under 1.5 s), next to the
floor of any sercon run (`sercon --help`) measured in the same run.

    python bench/bench_azure.py [--runs 10]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

from sercon_emulator.server import Emulator
from sercon_emulator.world import World


def timed(command: list[str], env: dict[str, str], runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        done = subprocess.run(command, env=env, capture_output=True)
        times.append(time.perf_counter() - start)
        if done.returncode != 0:
            raise SystemExit(f"{' '.join(command)} failed: {done.stderr.decode()}")
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    sercon = [shutil.which("sercon")] if shutil.which("sercon") else [sys.executable, "-m", "sercon"]
    world = World({"subscriptions": [{"id": "sub-bench", "resource_groups": {"rg": {"vms": [{"name": "web1"}]}}}]})
    with Emulator(world) as emulator, tempfile.TemporaryDirectory() as home:
        env = {**os.environ, **emulator.environment(), "HOME": home, "XDG_CACHE_HOME": home}
        doctor = timed([*sercon, "doctor", "-g", "rg", "web1", "--json"], env, args.runs)
        calls = len(emulator.arm.requests) / args.runs
    floor = timed([*sercon, "--help"], dict(os.environ), args.runs)
    median, best = statistics.median(doctor), min(doctor)
    print(f"sercon doctor (healthy VM, emulator over TLS): median {median * 1000:.0f} ms, best {best * 1000:.0f} ms, "
          f"{calls:.0f} ARM calls per run")
    print(f"sercon --help: median {statistics.median(floor) * 1000:.0f} ms; doctor / --help = "
          f"{median / statistics.median(floor):.1f}x")
    print(f"target: under 1500 ms -> {'met' if median < 1.5 else 'MISSED'}")


if __name__ == "__main__":
    main()
