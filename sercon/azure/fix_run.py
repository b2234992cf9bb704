"""`doctor --fix` as a library call: doctor, each repair (asked first unless nobody is to be asked),
doctor again once anything was sent, and the exit status those weigh to.

The caller asks and draws: it passes callables for the questions and for progress, and renders the
`FixRun` this returns (the CLI through cli/render.py; a fleet command its own way). Nothing here
reads a terminal or prints.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field

from sercon.azure import fixes
from sercon.azure.arm import ArmClient
from sercon.azure.doctor import Report, diagnose
from sercon.azure.repairs import Credentials, Progress
from sercon.errors import ExitStatus, Interrupted, SerconError, UsageError
from sercon.targets import AzureTarget

Check = Callable[[str], str]  # returns the answer as kept, or raises UsageError (then asked again)


def _no_progress() -> AbstractContextManager[Progress]:
    return nullcontext(None)


def _nothing(*_: object) -> None:
    return None


def _no_prompt(question: str, *_: object) -> str:
    raise UsageError(f"{question}: nobody to ask", "give --user NAME and --password-stdin")


@dataclass(frozen=True)
class FixRequest:
    """*user*: the console user to set (--user), set even when its check passes. *password*: its
    password when already known (--password-stdin), else asked. *can_ask*: a person is there to ask
    the user name and password (without one, the password user's repair is a command to run)."""

    user: str | None = None
    password: str | None = field(default=None, repr=False)
    can_ask: bool = True


@dataclass(frozen=True)
class FixHooks:
    """How the caller asks and shows progress. *confirm* None: repair without asking (--yes).
    *prompt*(question, default, check) and *password*(question, check) ask until *check* accepts.
    *checked*: doctor's first report, before any repair; *outcome*: each repair as it ends."""

    confirm: Callable[[str], bool] | None = None
    prompt: Callable[[str, str, Check], str] = _no_prompt
    password: Callable[[str, Check], str] = _no_prompt
    checking: Callable[[], AbstractContextManager[None]] = nullcontext
    progress: Callable[[], AbstractContextManager[Progress]] = _no_progress
    checked: Callable[[Report], None] = _nothing
    outcome: Callable[[fixes.Outcome, str], None] = _nothing


@dataclass(frozen=True)
class FixRun:
    """What a fix run did: the report before, each repair's outcome, the report after (the one before
    when nothing was sent), and, when Ctrl-C or a signal stopped it once a write had gone out, that."""

    before: Report
    outcomes: list[fixes.Outcome]
    after: Report
    sent: list[str]
    interrupted: BaseException | None = None
    in_flight: fixes.Outcome | None = None  # the repair the interrupt stopped after its write went out

    @property
    def rechecked(self) -> bool:
        return self.after is not self.before

    @property
    def error(self) -> SerconError | None:
        """The VM could not be read again: the exit status is that error's."""
        return self.after.error if self.interrupted is None else None

    @property
    def exit_status(self) -> int:
        if self.interrupted is not None:
            exc = self.interrupted
            return exc.exit_code if isinstance(exc, Interrupted) else int(ExitStatus.INTERRUPTED)
        return int(fixes.exit_status(self.after, self.outcomes))


def run_fixes(arm: ArmClient, target: AzureTarget, subscription: str, request: FixRequest,
              hooks: FixHooks) -> FixRun:
    """doctor, then each repair, then doctor again once anything was sent. Raises the resolution error
    of the first doctor (after `hooks.checked` saw it), and an interrupt before any write went out."""
    with hooks.checking():
        report = diagnose(arm, target, subscription)
    hooks.checked(report)
    if report.error is not None:
        raise report.error
    planned = fixes.plan(report, subscription, request.user, request.user is not None, request.can_ask)
    log = fixes.FixLog()
    try:
        for repair in planned:
            log.begin(repair)
            hooks.outcome(log.end(_repair(arm, report, subscription, repair, request, hooks, log.sent)), repair.why)
        after = report
        if log.sent:
            with hooks.checking():
                after = fixes.with_outcomes(diagnose(arm, target, subscription), log.outcomes)
    except (KeyboardInterrupt, Interrupted) as exc:
        if not log.sent:
            raise
        return FixRun(report, list(log.outcomes), report, list(log.sent), exc, log.in_flight())
    return FixRun(report, list(log.outcomes), after, list(log.sent))


def _repair(arm: ArmClient, report: Report, subscription: str, repair: fixes.Repair, request: FixRequest,
            hooks: FixHooks, sent: list[str]) -> fixes.Outcome:
    """One repair: asked, made, and what came of it (a refusal from Azure is an outcome, not the end)."""
    if not repair.action:
        return fixes.Outcome(repair.name, fixes.MANUAL, repair.manual)
    ask = hooks.confirm
    if ask is not None and not ask(repair.question):
        return fixes.Outcome(repair.name, fixes.DECLINED, "nothing changed", repair.requested)
    credentials = _credentials(report, request, hooks) if repair.action == "password" else None
    with hooks.progress() as progress:
        return fixes.attempt(arm, report, subscription, repair, sent, progress, credentials, ask)


def _credentials(report: Report, request: FixRequest, hooks: FixHooks) -> Credentials:
    """The console user and password: from the request, else asked (the password hidden; a bad answer
    is asked again). Never from the command line; plan() made sure someone is there to ask."""
    user = request.user
    if user is None:
        model = report.vm.model if report.vm is not None else {}
        admin = model.get("properties", {}).get("osProfile", {}).get("adminUsername") or "azureuser"
        user = hooks.prompt("Console user name", admin, fixes.check_user_name)
    password = request.password
    if password is None:
        password = hooks.password(f"Password for {user}", fixes.check_password)
    return Credentials(user, password)
