"""Whether a session journals, how much per target, and whether typed input goes in too: one answer from
the command line, the environment and the profile (in that order of weight)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sercon.choices import JOURNAL_DEFAULT_SIZE

if TYPE_CHECKING:
    pass

DEFAULT_LIMIT = JOURNAL_DEFAULT_SIZE  # bytes per target (choices.py)


@dataclass(frozen=True)
class JournalSettings:
    journal: bool = True
    journal_input: bool = False
    journal_size: int = DEFAULT_LIMIT


def journal_settings(prefs: Mapping[str, Any], environ: Mapping[str, str]) -> JournalSettings:
    """From a command's prefs (the profile's keys with the command line's over them, as resolve() gives
    them): --no-journal or `journal = false` (prefs["journal"] is False) and SERCON_NO_JOURNAL=1 each turn
    it off; --journal-input or `journal_input = true` opts typed input in; `journal_size` (checked by
    config.py) bounds it per target."""
    from sercon.choices import parse_size

    off = prefs.get("journal") is False or environ.get("SERCON_NO_JOURNAL", "") not in ("", "0")
    size = parse_size(prefs["journal_size"]) if prefs.get("journal_size") is not None else None
    return JournalSettings(journal=not off, journal_input=bool(prefs.get("journal_input")),
                           journal_size=size or DEFAULT_LIMIT)
