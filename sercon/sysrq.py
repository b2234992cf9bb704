"""Magic SysRq keys and their names, shared by `sercon sysrq` and the escape menu."""

from __future__ import annotations

from sercon.errors import UsageError

# The Linux kernel's SysRq keys (Documentation/admin-guide/sysrq.rst) by their common names.
KEY_NAMES: dict[str, str] = {
    "reboot": "b",
    "crash": "c",
    "show-locks": "d",
    "term": "e",
    "oom-kill": "f",
    "kgdb": "g",
    "help": "h",
    "kill": "i",
    "thaw": "j",
    "sak": "k",
    "backtrace": "l",
    "show-memory": "m",
    "nice-all-rt": "n",
    "poweroff": "o",
    "show-registers": "p",
    "show-timers": "q",
    "unraw": "r",
    "sync": "s",
    "show-tasks": "t",
    "remount-ro": "u",
    "unmount": "u",
    "restore-fb": "v",
    "show-blocked": "w",
    "dump-ftrace": "z",
    **{f"loglevel{n}": str(n) for n in range(10)},
}
VALID_KEYS = frozenset(KEY_NAMES.values())
# Keys that end the machine's work: `sercon sysrq` asks first (--yes skips), as `nmi` does.
DESTRUCTIVE = {
    "b": "b reboots at once, without syncing or unmounting",
    "c": "c crashes the kernel",
    "e": "e ends every process with SIGTERM",
    "i": "i kills every process with SIGKILL",
    "o": "o powers the machine off at once",
}
# Sequences that only make sense paced: the keys go one at a time with a pause between them.
MACROS = {"reisub": "reisub", "safe-reboot": "reisub"}


def parse_keys(spec: str) -> list[str]:
    """`h`, `help`, `reisub` or `s,u,b` -> the list of keys to send, in order.

    A word must be a known name: `reboto` is an error, never the keys r-e-b-o-t-o (which would reboot).
    """
    keys: list[str] = []
    for token in filter(None, (part.strip().lower() for part in spec.split(","))):
        if len(token) == 1 and token in VALID_KEYS:
            keys.append(token)
        elif token in KEY_NAMES:
            keys.append(KEY_NAMES[token])
        elif token in MACROS:
            keys.extend(MACROS[token])
        else:
            import difflib  # only for a mistyped name

            close = difflib.get_close_matches(token, [*KEY_NAMES, *MACROS], n=1)
            raise UsageError(
                f"{token!r} is not a SysRq key or name" + (f" (did you mean {close[0]!r}?)" if close else ""),
                f"keys: {''.join(sorted(VALID_KEYS))}; names such as help, sync, reboot, reisub; "
                "several keys: s,u,b (see `sercon sysrq --help`)",
            )
    if not keys:
        raise UsageError("no SysRq key given", "e.g. `sercon sysrq h` or `sercon sysrq sync,reboot`")
    return keys


def destructive(keys: list[str]) -> str | None:
    """What the keys that end the machine's work would do ("b reboots at once, ..."), or None."""
    said = [DESTRUCTIVE[key] for key in dict.fromkeys(keys) if key in DESTRUCTIVE]
    return "; ".join(said) if said else None
