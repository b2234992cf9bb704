"""What `sercon doctor --fix` repairs through ARM, and how it ended: one repair per check that failed or
warned (and the password user whenever --user names one).

`plan` turns doctor's report into repairs: those sercon makes (the console switch, a start, boot
diagnostics, the storage firewall's service IPs, a password user through the VM access extension; the
writes are in repairs.py) and manual ones (a role, a lock...), whose command is for someone allowed to
run it. `attempt` makes one and says how it ended: applied, accepted (sent, but Azure has not confirmed
it yet), declined or failed; the CLI asks before each. `exit_status` then weighs the outcomes against
the checks made again.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Any

from sercon.azure import lro, repairs
from sercon.azure.arm import ArmClient
from sercon.azure.checks import kept_storage_account, missing_service_ips, power_state
from sercon.azure.doctor import Report, set_console
from sercon.azure.repairs import Confirm, Credentials, Declined, Progress
from sercon.checks import FAIL, OK, WARN, CheckResult
from sercon.errors import ExitStatus, Interrupted, OutputClosed, SerconError, UsageError

APPLIED, ACCEPTED, DECLINED, FAILED, MANUAL = "applied", "accepted", "declined", "failed", "manual"
LINUX_USER = re.compile(r"[a-z_][a-z0-9_.-]{0,31}")
# Accounts a Linux image has for itself and its services (uid < 1000 on Debian, Ubuntu, RHEL and SUSE):
# the extension would give one a password and sudo rights. Names starting with systemd- are refused too.
SYSTEM_USERS = frozenset({
    "root", "daemon", "bin", "sys", "sync", "games", "man", "lp", "mail", "news", "uucp", "proxy", "www-data",
    "backup", "list", "irc", "gnats", "nobody", "nogroup", "adm", "halt", "shutdown", "operator", "ftp", "_apt",
    "messagebus", "syslog", "sshd", "uuidd", "tcpdump", "tss", "landscape", "pollinate", "lxd", "usbmux",
    "dnsmasq", "chrony", "ntp", "polkitd", "dbus", "rpc", "rpcuser", "nfsnobody", "postfix", "avahi", "colord",
    "omi", "omsagent", "nxautomation", "walinuxagent", "unbound", "rtkit", "saned", "geoclue", "fwupd-refresh",
})


@dataclass(frozen=True)
class Repair:
    """One repair: made by sercon when it has an `action`, else `manual` is the command for someone else."""

    name: str  # the check's row
    action: str = ""  # console, start, boot, firewall, password
    question: str = ""  # asked before it is made
    manual: str = ""
    why: str = ""  # for a manual one: why sercon leaves it to someone else
    ips: tuple[str, ...] = ()  # firewall: the IPs the question names, the only ones the user agreed to
    requested: bool = False  # asked for on the command line (--user): its failure counts even on a passing check


@dataclass(frozen=True)
class Outcome:
    name: str
    status: str  # applied, accepted, declined, failed, manual
    detail: str
    requested: bool = False
    row: CheckResult | None = None  # what its check should say afterwards, when Azure cannot show it


@dataclass
class FixLog:
    """What a run did so far: the outcomes, and each write as it was sent (what an interrupted run reports)."""

    outcomes: list[Outcome] = field(default_factory=list)
    sent: list[str] = field(default_factory=list)
    current: Repair | None = None  # being made now
    sent_before: int = 0  # len(sent) when it began

    def begin(self, repair: Repair) -> None:
        self.current, self.sent_before = repair, len(self.sent)

    def end(self, outcome: Outcome) -> Outcome:
        self.outcomes.append(outcome)
        self.current = None
        return outcome

    def in_flight(self) -> Outcome | None:
        """The repair an interrupt stopped after its write went out: Azure may still carry it out."""
        if self.current is None or len(self.sent) == self.sent_before:
            return None
        return Outcome(self.current.name, ACCEPTED, f"sent ({self.sent[-1]}); interrupted before Azure confirmed "
                       "it: run `sercon doctor` again to see", self.current.requested)


def plan(report: Report, subscription: str, user: str | None = None, password_user: bool = False,
         can_ask: bool = True) -> list[Repair]:
    """The repairs for doctor's report, in the order of its rows (the VM starts before it gets a user).

    *password_user*: --user or --password-stdin were given, so the password user is set whatever its
    check says (a usage error where it cannot be: Windows, a scale-set instance). *can_ask*: a terminal
    to ask the user name and password on; without one and without --user, that repair is a command.
    """
    vm = report.vm
    if password_user and vm is not None and (vm.is_windows or vm.is_instance):
        kind = "a Windows VM" if vm.is_windows else "a scale-set instance"
        raise UsageError(f"--user and --password-stdin set a console user through VMAccessForLinux, which sercon "
                         f"does not run on {kind} ({vm.label})", "leave --user and --password-stdin out")
    found = []
    for row in report.rows:
        forced = password_user and row.name == "password user"
        if row.status != OK or forced:
            found.append(_repair_for(row, report, subscription, user, forced, can_ask))
    return [repair for repair in found if repair is not None]


def _repair_for(row: CheckResult, report: Report, subscription: str, user: str | None, forced: bool,
                can_ask: bool) -> Repair | None:
    vm = report.vm
    if row.name == "console":
        return Repair("console", "console", f"Enable the serial console for every VM of subscription {subscription}?")
    if vm is None or row.name in ("vm", "guest"):
        return None
    if row.name == "power":
        state = power_state(vm)
        return Repair("power", "start", f"Start VM {vm.label}?") if state in ("deallocated", "stopped") else None
    if row.name == "boot diagnostics" and not vm.is_instance:
        old = kept_storage_account(vm)
        return Repair(row.name, "boot", f"Enable boot diagnostics on {vm.label}, with managed storage" + (
            f" (replacing its old custom storage account {old})?" if old else "?"))
    if row.name == "storage firewall" and row.status == FAIL and report.facts is not None:
        found = missing_service_ips(report.facts)
        if found and found[1]:
            return Repair(row.name, "firewall", f"Add the {len(found[1])} SerialConsole IPs for {found[0]} to the "
                          f"firewall of storage account {report.facts.storage_name} (nothing else changes)?",
                          ips=tuple(found[1]))
    if row.name == "password user" and not vm.is_instance:
        return _password_repair(row, vm, user, forced, can_ask)
    if row.name == "permission":
        return Repair(row.name, manual=row.fix, why="only an owner of the VM (or a User Access Administrator) can "
                      "grant a role: ask one to run")
    return Repair(row.name, manual=row.fix, why="sercon does not change this for you: run") if row.fix else None


def _password_repair(row: CheckResult, vm: Any, user: str | None, forced: bool, can_ask: bool) -> Repair:
    if user is None and not can_ask:
        return Repair(row.name, manual=f"sercon doctor --fix --yes --user NAME --password-stdin -g "
                      f"{vm.resource_group} {vm.name} < FILE-WITH-THE-PASSWORD",
                      why="a console user needs a name and a password, and there is no terminal to ask them on: run")
    who = f"console user {user}" if user else "a console user"
    return Repair(row.name, "password", f"Create or reset {who} with a password on {vm.label} through the VM "
                  "access extension (VMAccessForLinux: the user gets sudo rights)?", requested=forced)


def attempt(arm: ArmClient, report: Report, subscription: str, repair: Repair, sent: list[str],
            progress: Progress = None, credentials: Credentials | None = None, confirm: Confirm = None) -> Outcome:
    """Make one repair; how it ended (a refusal from Azure is an outcome, not the end of the run)."""
    try:
        detail = apply(arm, report, subscription, repair, sent, progress, credentials, confirm)
    except Declined:
        return Outcome(repair.name, DECLINED, "nothing changed", repair.requested)
    except (Interrupted, OutputClosed):
        raise
    except lro.Unconfirmed as exc:
        return Outcome(repair.name, ACCEPTED, _said(exc), repair.requested)
    except SerconError as exc:
        return Outcome(repair.name, FAILED, _said(exc), repair.requested)
    row = _password_row(report, credentials) if repair.action == "password" else None
    return Outcome(repair.name, APPLIED, detail, repair.requested, row)


def _password_row(report: Report, credentials: Credentials | None) -> CheckResult | None:
    """The password user's row once sercon set one: the VM's model still says password sign-in is off,
    and Azure never says whether a password works (the extension's settings are secret)."""
    vm = report.vm
    if vm is None or credentials is None:  # pragma: no cover - plan() made it for a VM, with credentials
        return None
    return CheckResult("password user", WARN, f"user {credentials.user} was set through the VM access extension "
                       f"({repairs.access_extension_name(vm)}) just now; Azure cannot confirm that its password "
                       "works (it reports only that the extension ran)",
                       f"sign in at the console as {credentials.user} to check: sercon connect -g "
                       f"{vm.resource_group} {vm.name}")


def with_outcomes(after: Report, outcomes: list[Outcome]) -> Report:
    """doctor's rows made again, each with what its repair knows and Azure cannot show (a password user
    set just now), where the check does not pass by itself."""
    known = {o.name: o.row for o in outcomes if o.row is not None}
    rows = [known[row.name] if row.name in known and row.status != OK else row for row in after.rows]
    return replace(after, rows=rows)


def _said(exc: SerconError) -> str:
    return exc.message + (f" (fix: {exc.hint})" if exc.hint else "")


def apply(arm: ArmClient, report: Report, subscription: str, repair: Repair, sent: list[str],
          progress: Progress = None, credentials: Credentials | None = None, confirm: Confirm = None) -> str:
    """Make one repair; what was done. Raises SerconError when Azure refuses it."""
    vm = report.vm
    if repair.action == "console":
        sent.append(f"enable the serial console for subscription {subscription}")
        set_console(arm, subscription, enable=True)
        return f"serial console enabled for subscription {subscription}"
    if vm is None:  # pragma: no cover - plan() makes no VM repair without a VM
        raise SerconError(f"{repair.name}: no VM to repair")
    if repair.action == "start":
        return repairs.start_vm(arm, vm, sent, progress)
    if repair.action == "boot":
        return repairs.enable_boot_diagnostics(arm, vm, sent, progress)
    if repair.action == "firewall":
        return repairs.allow_service_ips(arm, report, repair.ips, sent, progress, confirm)
    if repair.action == "password" and credentials is not None:
        return repairs.set_password_user(arm, vm, credentials, sent, progress)
    raise SerconError(f"{repair.name}: nothing sercon can do here")  # pragma: no cover


def check_user_name(name: str) -> str:
    """A Linux user name VMAccessForLinux can create, and not one of the system's own (checked before any call)."""
    if not LINUX_USER.fullmatch(name):
        raise UsageError(f"{name!r} is not a valid console user name",
                         "a Linux user name: lower-case letters, digits, '_', '-' and '.', starting with a letter "
                         "or '_', at most 32")
    if name in SYSTEM_USERS or name.startswith("systemd-"):
        raise UsageError(f"{name} is a system account (root, or a user the system or a service runs as): the VM "
                         "access extension would give it a password and sudo rights",
                         "name a console user of your own, e.g. --user rescue (it is created if it does not exist)")
    return name


def password_from_stdin(data: bytes) -> str:
    """The password piped to --password-stdin: one line of UTF-8 text (its line end taken off)."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise UsageError("the password on standard input is not UTF-8 text",
                         "pipe in the password as UTF-8 (as the console login will read it)") from None
    return check_password(text[:-2] if text.endswith("\r\n") else text[:-1] if text.endswith("\n") else text)


def check_password(password: str) -> str:
    """A password a console login can take: UTF-8 text without control characters; errors never quote it."""
    if not password:
        raise UsageError("the password is empty", "give the console user a password")
    try:
        password.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates: bytes that were not UTF-8, read with surrogateescape
        raise UsageError("the password is not UTF-8 text", "give the password as UTF-8 text") from None
    if any(ord(c) < 32 or 127 <= ord(c) < 160 for c in password):
        raise UsageError("the password holds control characters (a tab, a newline, an escape...), which a console "
                         "login cannot take", "give one line of printable characters")
    return password


def exit_status(after: Report, outcomes: list[Outcome]) -> ExitStatus:
    """After the fixes, with doctor's rows made again:

    - doctor's own status when the VM could not be read;
    - 6 when a repair the user asked for (or accepted) did not get its check to pass: declined or only
      partly made while the check fails, or failed while it fails or warns (or was asked for with --user);
    - 6 when a check still fails (as for doctor), but for one whose repair Azure has not confirmed yet:
      its manual repair (a lock, a role) is still to be made;
    - 3 when a write was sent and Azure has not confirmed it, and its check does not pass yet; else 0.
    """
    if after.error is not None:
        return after.error.exit_status
    status = {row.name: row.status for row in after.rows}
    pending = {o.name for o in outcomes if o.status == ACCEPTED and status.get(o.name, OK) != OK}
    if any(_unmet(o, status.get(o.name, OK)) for o in outcomes):
        return ExitStatus.PRECONDITION
    if any(row.status == FAIL and row.name not in pending for row in after.rows):
        return ExitStatus.PRECONDITION
    return ExitStatus.TIMEOUT if pending else ExitStatus.SUCCESS


def _unmet(outcome: Outcome, row: str) -> bool:
    if outcome.status in (MANUAL, ACCEPTED):
        return False
    return row == FAIL or (outcome.status == FAILED and (row != OK or outcome.requested))


def outcomes_json(outcomes: list[Outcome]) -> list[dict[str, Any]]:
    return [{"name": o.name, "status": o.status, "detail": o.detail} for o in outcomes]
