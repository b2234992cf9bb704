"""`sercon history`: what a target's console printed, from its journal (docs/history.md)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from sercon.cli.context import resolve
from sercon.cli.env import Env
from sercon.cli.options import azure_options, azure_target_options, target_argument
from sercon.errors import ExitStatus, TargetNotFound, UsageError

if TYPE_CHECKING:
    from sercon.journal.history import Query
    from sercon.journal.reader import Journal
    from sercon.targets import Target


class SessionChoice(click.ParamType):
    """--session: `last`, or a session number as `history --json` shows them."""

    name = "last|K"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        text = str(value).strip().lower()
        if text == "last" or (text.isdigit() and int(text) > 0):
            return text
        raise UsageError(f"--session {value!r} is not a session", "write --session last or a number, e.g. --session 3")


@click.command()
@target_argument
@azure_target_options
@azure_options
@click.option("--lines", "count", type=click.IntRange(min=0), metavar="N", help="Only the last N lines.")
@click.option("--since", metavar="10m|TIME", help="Only what came since: 90s, 10m, 2h, 1d, 03:00, '2026-12-04 03:00'.")
@click.option("--session", type=SessionChoice(), help="Only one session: last, or its number K.")
@click.option("--grep", metavar="RE", help="Only lines that match the regular expression RE.")
@click.option("--follow", "-f", is_flag=True, help="Keep printing what sessions add (Ctrl-C stops).")
@click.option("--raw", is_flag=True, help="The bytes exactly as received (escape sequences too). Default: plain text.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per chunk or event.")
@click.option("--boot-log", is_flag=True,
              help="Azure: the boot diagnostics serial log first, for the time before the journal begins.")
@click.option("--purge", is_flag=True, help="Delete the target's journal (asks first unless --yes).")
@click.option("--yes", is_flag=True, help="Do not ask before --purge.")
@click.pass_obj
def history(env: Env, target: str | None, identity: bool, count: int | None, since: str | None,
            session: str | None, grep: str | None, follow: bool, raw: bool, as_json: bool, boot_log: bool,
            purge: bool, yes: bool, **options: Any) -> int:
    """What TARGET's console printed, from the journal sercon keeps of every session.

    \b
    sercon history /dev/ttyUSB0 --lines 50
    sercon history -g prod-rg web1 --since 1h --grep 'panic|Oops'
    sercon history web1 --boot-log          # Azure: the boot log, then the journal
    """
    from sercon.journal.history import Query, parse_since

    if raw and as_json:
        raise UsageError("--raw and --json cannot both be given", "pick one: --raw for bytes, --json for scripts")
    if boot_log and (since or session):
        raise UsageError("--boot-log cannot go with --since or --session: the boot log has no times or sessions",
                         "leave out --boot-log, or --since/--session")
    query = Query(lines=count, since=parse_since(since) if since else None, grep=grep)
    resolved, _ = resolve(env, target, options)
    boot, label = _boot_log(env, resolved, identity) if boot_log else (None, None)
    journal = _journal(env, resolved, label)
    if purge:
        return _purge(env, journal, resolved.label, yes)
    if journal is None and boot is None:
        raise TargetNotFound(f"there is no journal of {resolved.label}: no session of sercon has printed its "
                             "console here yet (or the journal was off, or purged)",
                             "connect to it (`sercon connect`) and history keeps what it prints from then on")
    return _show(env, journal, query, session, "json" if as_json else "raw" if raw else "text", boot, follow)


def _show(env: Env, journal: Journal | None, query: Query, session: str | None, mode: str, boot: bytes | None,
          follow: bool) -> int:
    from sercon.journal import history as view
    from sercon.journal.reader import ReadNotes, read_records
    from sercon.terminal.screen import write_all

    number = _session_number(journal, session)
    notes, offsets = ReadNotes(), dict[Path, int]()
    records = list(read_records(journal, notes, number, offsets)) if journal else []
    lines = view.lines_of(records, events=mode != "raw")  # raw: the console's bytes and nothing else
    front = view.merge_boot_log(boot, lines) if boot is not None else []
    out = env.stdout_fd
    if mode == "json":
        shown = [view.boot_line_json(line) for line in front if query.keeps(line)]
        shown += [view.record_json(record) for record in records if query.keeps_record(record)]
        write_all(out, "".join(entry + "\n" for entry in view.last(shown, query.lines)).encode())
    else:
        kept = [line for line in front + lines if query.keeps(line)]
        write_all(out, b"".join(view.render(line, mode) for line in view.last_lines(kept, query.lines)))
    for note in notes.notes:
        env.info(f"note: {note}")
    if follow and journal is not None:
        _follow(out, journal, query, number, mode, offsets)
    return ExitStatus.SUCCESS


def _follow(out: int, journal: Journal, query: Query, number: int | None, mode: str, offsets: dict[Path, int]) -> None:
    """What sessions add, as they add it, until Ctrl-C (a half line shows once nothing more comes)."""
    from sercon.journal import history as view
    from sercon.journal.reader import follow_records
    from sercon.terminal.screen import write_all

    assembler = view.LineAssembler(events=mode != "raw")
    for batch in follow_records(journal, offsets, stop=lambda: False, session=number):
        if mode == "json":
            shown = [view.record_json(record) + "\n" for record in batch if query.keeps_record(record)]
            write_all(out, "".join(shown).encode())
            continue
        lines = [line for record in batch for line in assembler.feed(record)]
        if not batch:
            lines = list(assembler.finish())
        write_all(out, b"".join(view.render(line, mode) for line in lines if query.keeps(line)))


def _session_number(journal: Journal | None, session: str | None) -> int | None:
    if journal is None or session is None:
        return None
    sessions = journal.sessions()
    number = sessions[-1] if session == "last" and sessions else int(session) if session != "last" else 0
    if number not in sessions:
        held = f"sessions {sessions[0]} to {sessions[-1]}" if sessions else "no session"
        raise TargetNotFound(f"session {session} of {journal.label} is not in its journal (it holds {held}; the "
                             "oldest are dropped to keep it within its size)",
                             "`sercon history TARGET --json` shows each record's session")
    return number


def _journal(env: Env, resolved: Target, exact: str | None) -> Journal | None:
    """The target's journal, found without asking Azure: by its label (the VM's as ARM spells it, with
    --boot-log), its device's real path, or a VM name without its group."""
    import os

    from sercon.journal.reader import find_journal
    from sercon.journal.store import JournalError
    from sercon.targets import SerialTarget

    labels = [exact] if exact else []
    labels.append(resolved.label)
    vm_name = None
    if isinstance(resolved, SerialTarget):
        if "://" not in resolved.url:
            labels.append(os.path.realpath(resolved.url))
    elif resolved.resource_group is None:
        vm_name = resolved.label
    try:
        return find_journal(labels, env.environ, vm_name, any_case=not isinstance(resolved, SerialTarget))
    except JournalError as exc:
        raise UsageError(exc.message, "name the group with -g GROUP") from exc


def _boot_log(env: Env, resolved: Target, identity: bool) -> tuple[bytes, str]:
    from sercon.azure.bootlog import BootLog
    from sercon.azure.resolve import resolve_vm
    from sercon.cli.context import azure_vm_context
    from sercon.cli.progress import download_progress
    from sercon.targets import SerialTarget

    if isinstance(resolved, SerialTarget):
        raise UsageError(f"{resolved.label} is a local device: it has no boot diagnostics log",
                         "leave out --boot-log (it reads Azure VMs)")
    arm, subscription = azure_vm_context(env, resolved, identity)
    vm = resolve_vm(arm, resolved, subscription)
    log = BootLog(arm, vm)
    with download_progress(env) as progress:
        return b"".join(log.read_from(0, progress)), vm.label


def _purge(env: Env, journal: Journal | None, label: str, yes: bool) -> int:
    import shutil

    if journal is None:
        raise TargetNotFound(f"there is no journal of {label} to delete", "`sercon history` lists nothing to purge")
    if not env.confirmed(f"Delete the journal of {journal.label} ({journal.folder})?", yes):
        env.info("nothing deleted")
        return ExitStatus.PRECONDITION
    shutil.rmtree(journal.folder)
    env.info(f"deleted the journal of {journal.label}")
    return ExitStatus.SUCCESS


COMMANDS = (history,)
