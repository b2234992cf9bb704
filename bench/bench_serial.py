#!/usr/bin/env python3
"""sercon against socat, picocom, tio and pyserial's miniterm, side by side in one run, on pty pairs.

Each round launches every client once, in a rotating order (interleaved rounds: a burst of load
from elsewhere on a shared machine hits every client alike), on a fresh device pty pair, with the
client on a terminal pty of its own, and takes from that one launch:

- first console byte after launch: the device sends a probe every 0.5 ms from the launch on; the
  time until the client shows one on its terminal (its banner does not count);
- keystroke latency: a key typed into the client's terminal until it reaches the device (µs);
- echo round trip: a key typed until the device's echo of it shows on the terminal (µs);
- idle wake-ups per second: context switches of all the client's threads over a quiet interval;
- output throughput from the device through the client to its terminal, and the client's CPU
  seconds per MB for it;
- peak RSS (VmHWM) at the end.

Then `--help` start-up times against `python -c 'import click'` (the floor for a click program).
The table holds the median over the rounds (of each round's p50 and p99 for the latencies), the
ratio to socat (the reference: a C relay that does nothing else) and the goals of issue 12.

    python bench/bench_serial.py              # 5 rounds, 16 MB, 300 keys, 5 s idle
    python bench/bench_serial.py --quick      # a smoke run: 2 rounds, small sizes
    python bench/bench_serial.py --clients sercon,miniterm,picocom
    python bench/bench_serial.py --first-byte --rounds 15 --clients miniterm --tree before=DIR --tree after=.
    python bench/bench_serial.py --clients sercon --variant no-journal=--no-journal   # the journal's cost

Clients missing from the machine are reported and left out (apt-get install socat picocom tio).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from serial_rig import Figures, measure  # noqa: E402
from serial_table import Summary, print_table  # noqa: E402

REFERENCE = "socat"
ORDER = ("pty", "socat", "picocom", "tio", "miniterm", "sercon")


def sercon_command(python: str) -> list[str]:
    """The installed console script next to this interpreter (as a user runs it), else `-m sercon`."""
    script = Path(python).parent / "sercon"
    if script.exists():
        return [str(script)]
    found = shutil.which("sercon")
    return [found] if found else [python, "-m", "sercon"]


def clients(python: str) -> dict[str, list[str] | None]:
    """How each client is started on the device {dev}; None: not installed. "pty" is the baseline."""
    socat, picocom, tio = (shutil.which(n) for n in ("socat", "picocom", "tio"))
    return {
        "pty": [],
        "socat": [socat, "-,rawer", "{dev},rawer"] if socat else None,
        "picocom": [picocom, "-q", "-b", "115200", "{dev}"] if picocom else None,
        "tio": [tio, "-b", "115200", "{dev}"] if tio else None,
        "miniterm": [python, "-m", "serial.tools.miniterm", "--raw", "--quiet", "{dev}", "115200"],
        "sercon": [*sercon_command(python), "connect", "{dev}"],
    }


def trees(specs: list[str], python: str) -> tuple[dict[str, list[str]], dict[str, dict[str, str]]]:
    """--tree NAME=DIR: sercon from another source tree (e.g. a copy of the code before a change),
    as one more client in the same run: before and after, interleaved on the same machine."""
    commands, envs = {}, {}
    for spec in specs:
        name, _, folder = spec.partition("=")
        commands[name] = [*sercon_command(python), "connect", "{dev}"]
        envs[name] = {"PYTHONPATH": str(Path(folder).resolve())}
    return commands, envs


def variants(specs: list[str], python: str) -> dict[str, list[str]]:
    """--variant NAME=ARGS: this tree's sercon connect with more arguments (e.g. --no-journal), as one
    more client in the same run: with and without an option, interleaved on the same machine."""
    commands = {}
    for spec in specs:
        name, _, extra = spec.partition("=")
        commands[name] = [*sercon_command(python), "connect", *extra.split(), "{dev}"]
    return commands


def help_commands(python: str, available: dict[str, list[str]], envs: dict[str, dict[str, str]]
                  ) -> dict[str, list[str]]:
    commands = {"import click": [python, "-c", "import click"], "sercon": [*sercon_command(python), "--help"],
                "miniterm": [python, "-m", "serial.tools.miniterm", "--help"]}
    for name in ("socat", "picocom", "tio"):
        if name in available:
            commands[name] = [available[name][0], "-h" if name == "socat" else "--help"]
    for name in envs:  # --tree: that tree's sercon --help
        commands[name] = commands["sercon"]
    return commands


def bench_env() -> dict[str, str]:
    """The clients' environment: Python's bytecode cached, as after `pip install` (which compiles
    it). PYTHONDONTWRITEBYTECODE would have sercon (an editable install, or a --tree) compile its
    modules on every start and miniterm not; the cache goes to a folder of the bench's own."""
    env = dict(os.environ, TERM="xterm", XDG_RUNTIME_DIR=tempfile.mkdtemp(prefix="bench-sercon-"),
               XDG_STATE_HOME=tempfile.mkdtemp(prefix="bench-sercon-state-"),  # the journal: not the user's
               PYTHONPYCACHEPREFIX=os.path.join(tempfile.gettempdir(), "bench-serial-pycache"))
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def warm_up(available: dict[str, list[str]], env: dict[str, str], envs: dict[str, dict[str, str]]) -> None:
    """One launch of each client that counts for nothing: the bytecode cache is filled, the files are
    in the page cache."""
    for name, command in available.items():
        if command:
            measure(command, {**env, **envs.get(name, {})}, 2, 0, 1000, 1)


def run_rounds(available: dict[str, list[str]], args: argparse.Namespace, env: dict[str, str],
               envs: dict[str, dict[str, str]]) -> dict[str, list]:
    rounds: dict[str, list[Figures]] = {name: [] for name in available}
    names = list(available)
    for index in range(args.rounds):
        order = names[index % len(names):] + names[: index % len(names)]
        for name in order:
            command = available[name] or None
            figures = measure(command, {**env, **envs.get(name, {})}, args.keys, args.idle, int(args.mb * 1e6),
                              args.max_seconds)
            rounds[name].append(figures)
            print(f"round {index + 1}/{args.rounds} {name:8} {brief(figures)}", file=sys.stderr, flush=True)
    return rounds


def brief(f: Figures) -> str:
    keys, echo = sorted(f.key_us), sorted(f.echo_us)
    first = f"first {f.first_byte_s * 1000:.1f} ms " if f.first_byte_s is not None else ""
    idle = f"idle {f.idle_wakeups:.1f}/s " if f.idle_wakeups is not None else ""
    rss = f"rss {f.peak_rss_mb:.1f} MB" if f.peak_rss_mb is not None else ""
    return (f"{first}keys {percentile(keys, 50):.0f}/{percentile(keys, 99):.0f} µs "
            f"echo {percentile(echo, 50):.0f}/{percentile(echo, 99):.0f} µs {idle}{f.mbps:.1f} MB/s {rss}")


def help_times(commands: dict[str, list[str]], env: dict[str, str], envs: dict[str, dict[str, str]],
               runs: int) -> dict[str, float]:
    """Median wall time of each command, interleaved."""
    times: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(runs):
        for name, command in commands.items():
            start = time.perf_counter()
            subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False,
                           env={**env, **envs.get(name, {})})
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in times.items()}


def percentile(values: list[float], pct: float) -> float:
    return values[min(len(values) - 1, int(len(values) * pct / 100))] if values else float("nan")


def summarise(rounds: dict[str, list[Figures]], helps: dict[str, float]) -> dict[str, Summary]:
    """The median over rounds of each figure (for latencies: of each round's p50 and p99)."""
    def med(values: list[float | None]) -> float | None:
        values = [v for v in values if v is not None]
        return statistics.median(values) if values else None

    out = {}
    for name, figures in rounds.items():
        keys = [sorted(f.key_us) for f in figures]
        echo = [sorted(f.echo_us) for f in figures]
        out[name] = Summary(
            mbps=med([f.mbps for f in figures]), cpu_s_per_mb=med([f.cpu_s_per_mb for f in figures]),
            key_p50=med([percentile(k, 50) for k in keys]), key_p99=med([percentile(k, 99) for k in keys]),
            echo_p50=med([percentile(e, 50) for e in echo]), echo_p99=med([percentile(e, 99) for e in echo]),
            first_byte_s=med([f.first_byte_s for f in figures]), idle_wakeups=med([f.idle_wakeups for f in figures]),
            idle_cpu_pct=med([f.idle_cpu_pct for f in figures]), peak_rss_mb=med([f.peak_rss_mb for f in figures]),
            help_s=helps.get(name),
        )
    return out


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds (medians over them)")
    parser.add_argument("--mb", type=float, default=16, help="megabytes per throughput run")
    parser.add_argument("--max-seconds", type=float, default=10, help="cap on one throughput run (slow clients)")
    parser.add_argument("--keys", type=int, default=300, help="keystrokes per round, and as many echoes")
    parser.add_argument("--idle", type=float, default=5, help="seconds of idle per round")
    parser.add_argument("--help-runs", type=int, default=15, help="--help start-ups per command (median)")
    parser.add_argument("--clients", help="comma-separated subset of " + ",".join(ORDER))
    parser.add_argument("--tree", action="append", default=[], metavar="NAME=DIR",
                        help="also run sercon from source tree DIR as client NAME (before/after in one run)")
    parser.add_argument("--variant", action="append", default=[], metavar="NAME=ARGS",
                        help="also run this sercon connect with ARGS added, as client NAME (no-journal=--no-journal)")
    parser.add_argument("--json", metavar="PATH", help="also write every round's figures here")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 2 rounds, 2 MB, 40 keys, 1 s idle")
    parser.add_argument("--first-byte", action="store_true",
                        help="the first console byte (and --help) alone: 1 key, no idle, 10 kB of output")
    args = parser.parse_args()
    if args.quick:
        args.rounds, args.mb, args.keys, args.idle, args.help_runs, args.max_seconds = 2, 2, 40, 1, 3, 3
    if args.first_byte:
        args.mb, args.keys, args.idle = 0.01, 1, 0
    return args


def main() -> None:
    args = parse_args()
    everything = clients(sys.executable)
    wanted = args.clients.split(",") if args.clients else list(ORDER)
    available = {name: everything[name] for name in ORDER if name in wanted and everything.get(name) is not None}
    for name in wanted:
        if everything.get(name) is None:
            print(f"{name}: not installed, left out", file=sys.stderr)
    extra, envs = trees(args.tree, sys.executable)
    available.update(extra)
    available.update(variants(args.variant, sys.executable))
    env = bench_env()
    warm_up(available, env, envs)
    rounds = run_rounds(available, args, env, envs)
    helps = help_times(help_commands(sys.executable, available, envs), env, envs, args.help_runs)
    summary = summarise(rounds, helps)
    if args.json:
        Path(args.json).write_text(json.dumps({"args": vars(args), "help_s": helps, "rounds": {
            name: [vars(f) for f in figures] for name, figures in rounds.items()}}, indent=1))
    print(f"\n{args.rounds} interleaved rounds, {args.mb:g} MB, {args.keys} keys, {args.idle:g} s idle; "
          f"medians. sercon: {' '.join(everything['sercon'][:-2])}; python {sys.version.split()[0]}; "
          f"bytecode cached in {env['PYTHONPYCACHEPREFIX']}\n")
    print_table(summary, helps.get("import click"), REFERENCE, (*envs, *(v.partition("=")[0] for v in args.variant)))


if __name__ == "__main__":
    main()
