"""`sercon rescue` as a library call: drive GRUB to a root shell, and decide what becomes of the console.

A person at a terminal gets the console handed over (after a failure too, when the console waits for
someone: GRUB's menu with its countdown stopped, or a prompt); otherwise, when sercon stops early,
GRUB is left as it would have been without it (the edit discarded, the highlighted entry booted).
The caller shows the steps (`HandoverProgress`), runs the session when `RescueResult.attach` says so,
and closes the transport: this opens and closes nothing.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from sercon.errors import ExitStatus, Interrupted, SerconError
from sercon.rescue.console import Progress, RescueFailed
from sercon.rescue.driver import GrubDriver, Outcome, RescuePlan
from sercon.stream.sinks import Sink
from sercon.transport.base import Transport

HANDOVER = {"menu": "GRUB's menu is on the console, its countdown stopped: it is yours now (Enter boots the "
                    "highlighted entry, e edits it)",
            "prompt": "the console is yours now, as it is"}


class HandoverProgress(Progress, Protocol):
    """The driver's steps and the console's output, and a way to end a line the console left open."""

    def fresh_line(self) -> None: ...


@dataclass(frozen=True)
class RescueResult:
    """How the rescue ended. *outcome*: the shell reached (None: *failure*, with the console handed to
    the person there). *attach*: run the interactive session on the transport now. *shared*: the
    console is the user's running `sercon connect`, where it stays."""

    outcome: Outcome | None
    parameter: str | None  # the rescue parameter the machine booted with
    elapsed: float  # seconds since the rescue began
    attach: bool
    shared: bool = False
    failure: RescueFailed | None = None

    @property
    def handover(self) -> str | None:
        """What is on the console for the person it is handed to, after a failure."""
        return HANDOVER[self.failure.where] if self.failure is not None and self.failure.where else None

    @property
    def exit_status(self) -> int:
        """The status when no session follows (a session's own status replaces it)."""
        if self.failure is not None:
            return int(self.failure.exit_status)
        return int(ExitStatus.SUCCESS if self.outcome is Outcome.ROOT_SHELL else ExitStatus.PRECONDITION)


def rescue(transport: Transport, plan: RescuePlan, progress: HandoverProgress, interactive: bool,
           clock: Callable[[], float] = time.monotonic, record: Sink | None = None) -> RescueResult:
    """Reset (or wait for the reboot), stop in GRUB, boot with the rescue parameter, find the shell.

    *interactive*: a person is at a terminal to take the console. Raises RescueFailed when nobody can
    take over (GRUB restored first when sercon left it at its menu), and an interrupt (likewise).
    *record*: where what the console printed goes besides (--log and the journal: rescue/record.py)."""
    from sercon.transport.control import ControlTransport

    started = clock()
    driver = GrubDriver(transport, plan, progress, record=record)
    shared = isinstance(transport, ControlTransport)  # the console stays in the user's running session
    try:
        outcome = driver.run()
    except RescueFailed as exc:
        progress.fresh_line()
        if exc.where and interactive and not shared:  # a person is there: hand the console over
            return RescueResult(None, driver.parameter, clock() - started, attach=True, failure=exc)
        restore(driver, progress, exc.where == "menu")
        raise
    except (KeyboardInterrupt, Interrupted):
        progress.fresh_line()
        restore(driver, progress, True)
        raise
    progress.fresh_line()
    return RescueResult(outcome, driver.parameter, clock() - started, attach=interactive and not shared,
                        shared=shared)


def restore(driver: GrubDriver, progress: Progress, at_menu: bool) -> None:
    """sercon stops early: leave GRUB as it would have been without it (never fails the way out)."""
    if not at_menu:
        return
    with contextlib.suppress(SerconError, OSError):
        done = driver.restore_boot()
        if done:
            progress.step(done)


def next_steps(parameter: str | None) -> str:
    """What to type at the shell this mode gives (docs/user-guide.md has the recipes)."""
    if parameter == "break=premount":
        return ("then: root is not mounted here: `mount /dev/sda1 /root` (the root partition), fix /root/etc/fstab, "
                "`umount /root`, and `reboot -f`")
    if parameter == "rd.break":
        return "then `mount -o remount,rw /sysroot`, `chroot /sysroot`, fix what is broken, `exit` twice"
    if parameter == "init=/bin/bash":
        return ("then `mount -o remount,rw /`, fix /etc/fstab or `passwd USER`, `sync`, and `reboot -f` (this shell "
                "is PID 1: `exit` panics the kernel)")
    return "then e.g. `mount -o remount,rw /`, fix /etc/fstab or `passwd USER`, `sync`, and reboot"
