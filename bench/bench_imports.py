#!/usr/bin/env python3
"""CPU time of the imports on the way to `sercon connect DEVICE`'s first read, against miniterm's,
interleaved runs in one go. CPU time (not wall time) and the minimum over the runs: on a shared,
loaded machine the wall-clock first byte (bench_serial.py) moves by more than a few milliseconds
between rounds, and this figure does not.

    python bench/bench_imports.py [--runs 30] [--tree before=DIR --tree after=DIR]

Without --tree: this checkout's sercon. Bytecode is cached in a folder of the bench's own.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

CODE = "import time; t = time.process_time(); import {modules}; print(time.process_time() - t)"
# What `sercon connect /dev/pts/N` imports before its first read (the control client: it looks for a
# running session first).
CONNECT_PATH = ("sercon.cli, sercon.cli.transport, sercon.config, sercon.terminal.session, "
                "sercon.transport.serial, sercon.transport.control")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--tree", action="append", default=[], metavar="NAME=DIR",
                        help="sercon from source tree DIR (repeatable: before/after in one run)")
    args = parser.parse_args()
    cases: dict[str, tuple[dict[str, str], str]] = {"miniterm": ({}, "serial.tools.miniterm")}
    for spec in args.tree or [f"sercon={Path(__file__).resolve().parent.parent}"]:
        name, _, folder = spec.partition("=")
        cases[name] = ({"PYTHONPATH": str(Path(folder).resolve())}, CONNECT_PATH)
    env = dict(os.environ, PYTHONPYCACHEPREFIX=os.path.join(tempfile.gettempdir(), "bench-serial-pycache"))
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    times: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(args.runs + 1):  # the first round fills the bytecode cache and counts for nothing
        for name, (extra, modules) in cases.items():
            out = subprocess.run([sys.executable, "-c", CODE.format(modules=modules)], env={**env, **extra},
                                 capture_output=True, text=True, check=True).stdout
            times[name].append(float(out) * 1000)
    base = min(times["miniterm"][1:])
    print(f"| imports before the first read, CPU ms ({args.runs} runs) | min | median | min / miniterm |")
    print("|---|---:|---:|---:|")
    for name, values in times.items():
        print(f"| {name} | {min(values[1:]):.1f} | {statistics.median(values[1:]):.1f} | "
              f"{min(values[1:]) / base:.2f}x |")
    names = list(cases)
    if len(names) > 2:
        print(f"\n{names[-1]} / {names[1]} (min): {min(times[names[-1]][1:]) / min(times[names[1]][1:]):.3f}x")


if __name__ == "__main__":
    main()
