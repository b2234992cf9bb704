"""Finding a target's journal and reading it back: in order, up to any damage (with one note), and
following it as sessions append to it.

A journal folder names its target in its `label` file (written by the first session), so `history`
finds a VM's journal by the name the user types (`web1`, `-g rg web1`, any case) without asking Azure.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from sercon.journal.record import Damage, Record, decode
from sercon.journal.store import JournalError, journal_name, segments, session_of

LABEL_FILE = "label"


@dataclass(frozen=True)
class Journal:
    folder: Path
    label: str

    def sessions(self) -> list[int]:
        return sorted({session_of(path) for path in segments(self.folder)})


@dataclass
class ReadNotes:
    """What reading met that the user should know of: damaged files (each said once)."""

    notes: list[str] = field(default_factory=list)

    def damaged(self, path: Path, damage: Damage) -> None:
        self.notes.append(f"{path.name} is damaged at byte {damage.offset} ({damage.why}, e.g. a power loss "
                          "while writing): read up to there")


def all_journals(environ: Mapping[str, str]) -> list[Journal]:
    from sercon.paths import journal_dir

    root = journal_dir(environ)
    try:
        names = sorted(os.listdir(root))
    except (FileNotFoundError, NotADirectoryError):
        return []
    found = []
    for name in names:
        label = _label(root / name)
        if label is not None:
            found.append(Journal(root / name, label))
    return found


def find_journal(labels: list[str], environ: Mapping[str, str], vm_name: str | None = None,
                 any_case: bool = False) -> Journal | None:
    """The journal of the first of *labels* that has one (*any_case*: an Azure name, which ARM may spell
    in another case); else, for an Azure VM named without its group (*vm_name*: "web1" or "set/3"), the
    one journal whose label is GROUP/vm_name. JournalError when several groups have one (the user adds -g)."""
    from sercon.paths import journal_dir

    root = journal_dir(environ)
    for label in labels:
        folder = root / journal_name(label)
        if segments(folder):
            return Journal(folder, label)
    if not any_case and vm_name is None:
        return None
    known = [j for j in all_journals(environ) if segments(j.folder)]
    wanted = {label.lower() for label in labels}
    matches = [j for j in known if j.label.lower() in wanted]
    if not matches and vm_name is not None:
        name = vm_name.lower()
        matches = [j for j in known if j.label.lower().endswith("/" + name)
                   and j.label.count("/") == name.count("/") + 1]
    if len(matches) > 1:
        raise JournalError(f"{vm_name or labels[0]} has journals in several resource groups: "
                           f"{', '.join(j.label for j in matches)}")
    return matches[0] if matches else None


def write_label(folder: Path, label: str) -> None:
    """The target's label beside its segments (once; private like them)."""
    try:
        fd = os.open(folder / LABEL_FILE, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    except FileExistsError:
        return
    with os.fdopen(fd, "w", encoding="utf-8", errors="surrogateescape") as out:
        out.write(label)


def _label(folder: Path) -> str | None:
    try:
        return (folder / LABEL_FILE).read_text(encoding="utf-8", errors="surrogateescape")
    except OSError:
        return None


def read_records(journal: Journal, notes: ReadNotes, session: int | None = None,
                 offsets: dict[Path, int] | None = None) -> Iterator[Record]:
    """Every record, oldest first (only *session*'s when given), each segment up to its damage;
    *offsets* gets where each segment's whole records end (follow_records goes on from there)."""
    for path in segments(journal.folder):
        if session is not None and session_of(path) != session:
            continue
        try:
            blob = path.read_bytes()
        except FileNotFoundError:  # removed by a writer keeping the bound
            continue
        except OSError as exc:
            raise JournalError(f"cannot read {path}: {exc.strerror}") from exc
        damage: list[Damage] = []
        consumed = [0]
        yield from decode(blob, damage, session_of(path), consumed)
        if offsets is not None:
            offsets[path] = consumed[0]
        for found in damage:
            notes.damaged(path, found)


def follow_records(journal: Journal, start: dict[Path, int], stop: Callable[[], bool], interval: float = 0.3,
                   session: int | None = None) -> Iterator[list[Record]]:
    """Records appended after *start* (read_records' offsets), one list per look (empty: nothing new),
    until *stop*. A record still being written is waited for, not taken as damage."""
    offsets = dict(start)
    while not stop():
        batch: list[Record] = []
        for path in segments(journal.folder):
            if session is not None and session_of(path) != session:
                continue
            offset = offsets.get(path, 0)
            try:
                with open(path, "rb") as file:
                    file.seek(offset)
                    blob = file.read()
            except FileNotFoundError:
                continue
            if not blob:
                continue
            consumed = [0]
            batch.extend(decode(blob, None, session_of(path), consumed))
            offsets[path] = offset + consumed[0]
        yield batch
        if not batch:
            time.sleep(interval)
