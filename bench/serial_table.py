"""bench_serial.py's markdown table: one row per figure, one column per client, ratios and the goals."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class Summary:
    """Medians over the rounds for one client (None: not measured)."""

    mbps: float | None = None
    cpu_s_per_mb: float | None = None
    key_p50: float | None = None
    key_p99: float | None = None
    echo_p50: float | None = None
    echo_p99: float | None = None
    first_byte_s: float | None = None
    idle_wakeups: float | None = None
    idle_cpu_pct: float | None = None
    peak_rss_mb: float | None = None
    help_s: float | None = None


Goal = Callable[[dict[str, Summary], str, float | None], tuple[str, bool | None]]


def at_most(other: str, factor: float = 1.0) -> Goal:
    """sercon's figure at most *factor* times *other*'s."""
    def goal(rows: dict[str, Summary], attr: str, click: float | None) -> tuple[str, bool | None]:
        mine, theirs = getattr(rows["sercon"], attr), getattr(rows.get(other, Summary()), attr)
        text = f"≤ {factor:g}x {other}" if factor != 1 else f"≤ {other}"
        return text, None if mine is None or theirs is None else mine <= factor * theirs
    return goal


def both(*goals: Goal) -> Goal:
    def goal(rows: dict[str, Summary], attr: str, click: float | None) -> tuple[str, bool | None]:
        results = [g(rows, attr, click) for g in goals]
        verdicts = [ok for _, ok in results]
        met = None if None in verdicts else all(verdicts)
        return ", ".join(text for text, _ in results), met
    return goal


def at_least_socat(factor: float) -> Goal:
    def goal(rows: dict[str, Summary], attr: str, click: float | None) -> tuple[str, bool | None]:
        mine, theirs = getattr(rows["sercon"], attr), getattr(rows.get("socat", Summary()), attr)
        return f"≥ {factor:g}x socat", None if mine is None or theirs is None else mine >= factor * theirs
    return goal


def zero(rows: dict[str, Summary], attr: str, click: float | None) -> tuple[str, bool | None]:
    mine = getattr(rows["sercon"], attr)
    return "0", None if mine is None else mine == 0


def help_goal(rows: dict[str, Summary], attr: str, click: float | None) -> tuple[str, bool | None]:
    mine = rows["sercon"].help_s
    if mine is None or not click:
        return "≤ 1.5x import click", None
    return f"≤ 1.5x import click ({mine / click:.2f}x)", mine <= 1.5 * click


def no_regression(rows: dict[str, Summary], attr: str, click: float | None) -> tuple[str, bool | None]:
    """Against sercon before the change, when the run has it (--tree before=DIR)."""
    if "before" not in rows:
        return "no regression (run with --tree before=DIR)", None
    mine, theirs = getattr(rows["sercon"], attr), getattr(rows["before"], attr)
    return "≤ before", None if mine is None or theirs is None else mine <= theirs


LATENCY = both(at_most("miniterm"), at_most("picocom", 1.5))
# (label, attribute, scale for display, format, the goal for sercon)
ROWS: tuple[tuple[str, str, float, str, Goal], ...] = (
    ("output throughput MB/s", "mbps", 1, "{:.1f}", at_least_socat(0.9)),
    ("client CPU s per MB", "cpu_s_per_mb", 1, "{:.4f}", no_regression),
    ("keystroke p50 µs", "key_p50", 1, "{:.0f}", LATENCY),
    ("keystroke p99 µs", "key_p99", 1, "{:.0f}", LATENCY),
    ("echo round trip p50 µs", "echo_p50", 1, "{:.0f}", LATENCY),
    ("echo round trip p99 µs", "echo_p99", 1, "{:.0f}", LATENCY),
    ("first console byte after launch ms", "first_byte_s", 1000, "{:.1f}", at_most("miniterm", 2)),
    ("idle wake-ups per s", "idle_wakeups", 1, "{:.1f}", zero),
    ("idle CPU %", "idle_cpu_pct", 1, "{:.2f}", zero),
    ("peak RSS MB", "peak_rss_mb", 1, "{:.1f}", at_most("miniterm", 1.5)),
    ("`--help` ms", "help_s", 1000, "{:.1f}", help_goal),
)
RATIOS = ("socat", "miniterm", "picocom")


def cell(value: float | None, scale: float, fmt: str) -> str:
    return "–" if value is None else fmt.format(value * scale)


def ratio(mine: float | None, theirs: float | None) -> str:
    if mine is None or theirs is None:
        return "–"
    if theirs == 0:
        return "=" if mine == 0 else "∞"
    return f"{mine / theirs:.2f}x"


def print_table(rows: dict[str, Summary], click_s: float | None, reference: str, trees: tuple[str, ...] = ()) -> None:
    """The table; ratios of sercon to socat, miniterm, picocom and each --tree build (e.g. before)."""
    names = list(rows)
    ratio_names = [n for n in (*RATIOS, *trees) if n in rows] if "sercon" in rows else []
    head = ["figure", *names, *(f"sercon / {n}" for n in ratio_names), "goal (sercon)", "met"]
    print("| " + " | ".join(head) + " |")
    print("|---|" + "---:|" * (len(names) + len(ratio_names)) + "---|---|")
    for label, attr, scale, fmt, goal in ROWS:
        values = [cell(getattr(rows[n], attr), scale, fmt) for n in names]
        ratios = [ratio(getattr(rows["sercon"], attr), getattr(rows[n], attr)) for n in ratio_names]
        text, met = goal(rows, attr, click_s) if "sercon" in rows else ("", None)
        mark = {True: "yes", False: "**no**", None: "–"}[met]
        print("| " + " | ".join([label, *values, *ratios, text, mark]) + " |")
    if click_s is not None:
        print(f"\n`python -c 'import click'`: {click_s * 1000:.1f} ms (the floor for a click program). "
              f"Reference for the ratios: {reference}.")
