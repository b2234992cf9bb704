#!/usr/bin/env python3
"""`sercon rescue` with no mode on Debian 12 built as Debian's Azure images are (root locked, GRUB on
`serial console` with a 1 s countdown; sercon_emulator/debian_guest.py), measured side by side:

- locally: QEMU with telnet serial, the reset through QMP;
- through the emulated Azure gateway (the reset through its admin command).

Each run boots a fresh guest and runs a bare `sercon rescue --yes` without a terminal (exit 0 at a
root shell). Prints, per sercon tree and path: successes of runs, and the median and range of the
time from the command's start to the root shell. Trees (a checkout each, e.g. a `git worktree`
of an older commit) run in the same interleaved rounds:

    python bench/bench_rescue.py [--runs 10] [--tree /tmp/sercon-old --tree .]

Needs root (the image build), debootstrap and qemu-system-x86, as the tests do.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sercon_emulator.debian_guest import build_debian_image
from sercon_emulator.qemu import QemuGuest
from sercon_emulator.server import Emulator
from sercon_emulator.world import World

SUB = "00000000-0000-4000-8000-00000000b016"
PASSWORD = "bench-password-1"


def rescue(tree: Path, args: list[str], env: dict[str, str]) -> tuple[bool, float, str]:
    env = {**env, "PYTHONPATH": str(tree), "SERCON_CONFIG": "/nonexistent/sercon.toml"}
    start = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "sercon", "rescue", *args, "--yes"], env=env, cwd="/",
                          stdin=subprocess.DEVNULL, capture_output=True, timeout=900, check=False)
    took = time.monotonic() - start
    err = done.stderr.decode(errors="replace")
    ok = done.returncode == 0 and "a root shell on" in err
    last = err.strip().splitlines()[-1] if err.strip() else f"exit {done.returncode}"
    return ok, took, "" if ok else f"exit {done.returncode}: {last[:150]}"


def local_run(tree: Path, disk: Path) -> tuple[bool, float, str]:
    with tempfile.TemporaryDirectory(prefix="sercon-bench-") as folder:
        guest = QemuGuest(None, Path(folder), disk=disk).start()
        try:
            return rescue(tree, [guest.telnet_url, "--qmp", guest.qmp_path], dict(os.environ))
        finally:
            guest.stop()


def gateway_run(tree: Path, disk: Path) -> tuple[bool, float, str]:
    world = World({"subscriptions": [{"id": SUB, "resource_groups": {"rg": {"vms": [
        {"name": "deb1", "password": PASSWORD, "qemu": {"disk": str(disk)}}]}}}]})
    with tempfile.TemporaryDirectory(prefix="sercon-bench-") as home, Emulator(world) as emulator:
        env = {**os.environ, **emulator.environment(), "HOME": home, "XDG_RUNTIME_DIR": home}
        return rescue(tree, ["-g", "rg", "deb1"], env)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--tree", type=Path, action="append", help="a sercon checkout (default: this one)")
    parser.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "sercon-test-guest")
    options = parser.parse_args()
    trees = [tree.resolve() for tree in options.tree or [Path(__file__).resolve().parent.parent]]
    image = build_debian_image(options.cache, PASSWORD)
    results: dict[tuple[Path, str], list[tuple[bool, float, str]]] = {}
    for number in range(options.runs):
        for tree in trees:
            for path, run in (("local", local_run), ("gateway", gateway_run)):
                outcome = run(tree, image.disk)
                results.setdefault((tree, path), []).append(outcome)
                print(f"run {number + 1} {tree.name} {path}: {'ok' if outcome[0] else 'FAILED'} {outcome[1]:.1f} s "
                      f"{outcome[2]}", flush=True)
    print(f"\nbare `sercon rescue` on Debian 12, root locked, GRUB on serial+console ({options.runs} runs each)")
    print(f"{'tree':<24} {'path':<8} {'root shell':>10} {'median s':>9} {'min-max s':>12}")
    for (tree, path), outcomes in results.items():
        times = [took for ok, took, _ in outcomes if ok]
        median = f"{statistics.median(times):.1f}" if times else "-"
        spread = f"{min(times):.1f}-{max(times):.1f}" if times else "-"
        print(f"{tree.name:<24} {path:<8} {sum(ok for ok, _, _ in outcomes):>4} of {len(outcomes):<3} {median:>9} "
              f"{spread:>12}")
        reasons = {re.sub(r"[\d.]+ s", "N s", why) for ok, _, why in outcomes if not ok}
        for reason in sorted(reasons):
            print(f"{'':<34}{reason}")


if __name__ == "__main__":
    main()
