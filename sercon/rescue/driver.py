"""The rescue steps, each with a deadline: reset, stop in GRUB, edit the linux line, boot, find the shell.

Nothing is typed on a guess: Esc only between the reset (or the reboot the user started) and
GRUB's menu; keys in the editor only after the screen shows where the cursor is. If sercon stops
early, `restore_boot` leaves GRUB as it would have been: the edit discarded, the entry booted.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

from sercon.errors import ConnectionLost, ExitStatus
from sercon.rescue import grub
from sercon.rescue.console import (
    GRUB_AGAIN,
    KERNEL,
    LOCKED,
    LOGIN,
    MAINTENANCE,
    REBOOTING,
    RESTARTED,
    ROOT_PROMPT,
    ConsoleWatch,
    Progress,
    RescueFailed,
)
from sercon.transport.base import Transport

PROACTIVE_HINT = ("make GRUB's menu show on the serial console (GRUB_TIMEOUT_STYLE=countdown or menu, "
                  "GRUB_TIMEOUT=5, GRUB_TERMINAL=\"serial console\"; see Azure's \"proactive GRUB "
                  "configuration\" page and docs/user-guide.md), or attach the disk to a rescue VM")
STALE = 5.0  # seconds after the reset in which kernel output may still be the old boot's


class Outcome(Enum):
    ROOT_SHELL = "a root shell"
    MAINTENANCE = "the maintenance prompt (root's password, or Enter)"


@dataclass
class RescuePlan:
    parameter: str
    reset: bool = True
    step_timeout: float = 120.0  # for GRUB's menu after the reset, and for the shell after booting
    reboot_timeout: float = 600.0  # --no-reset: how long to wait for the user's own reboot
    esc_interval: float = 0.2  # GRUB takes a lone Esc after ~100 ms


class GrubDriver:
    def __init__(self, transport: Transport, plan: RescuePlan, progress: Progress,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.transport, self.plan, self.progress, self.clock = transport, plan, progress, clock
        self.watch = ConsoleWatch(transport, progress, clock)
        self.screen = self.watch.screen
        self.started = clock()
        self.esc_sent = self.editing = self.booted = self.submenu = False
        self.linux_row = 0

    def run(self) -> Outcome:
        """From the reset to a shell; raises RescueFailed (GRUB's editor closed unchanged first)."""
        try:
            self._start_boot()
            entry = self._stop_in_grub()
            self._edit(entry)
            self._boot()
            return self._wait_for_shell()
        except ConnectionLost as exc:
            if self.booted:
                exc.hint = (f"the machine is booting with '{self.plan.parameter}': `sercon connect` reaches its "
                            "shell (sercon rescue again would reset it)")
            raise
        finally:
            if self.editing:
                self._discard_edit()

    def restore_boot(self) -> str | None:
        """After sercon stopped early: boot GRUB's highlighted entry unchanged, as it would have without
        sercon (its Esc stopped the countdown). Returns what was done, for the user."""
        if self.editing:
            self._discard_edit()
        if not self.esc_sent or self.booted:
            return None
        self.watch.read_until(self._at_menu, 2)  # an Esc may still be on its way
        if self.submenu:  # Enter would open it, not boot: a person must choose
            return "GRUB's menu is waiting on the console (a submenu is highlighted): `sercon connect` to choose"
        entry = grub.highlighted_entry(self.screen)
        for _ in range(2):  # GRUB drops a key that comes while it redraws the menu: once more if so
            if not self._at_menu() or grub.highlighted_entry(self.screen) != entry:
                break  # the key was taken (a submenu opened, or the boot began): never press it twice
            self.watch.settle(0.5)
            self.transport.write(grub.ENTER)
            if self.watch.read_until(lambda: not self._at_menu(), 3):
                return "booted GRUB's highlighted entry unchanged (Enter), as it would have without sercon"
        return "GRUB may be waiting on the console: `sercon connect`, then Enter boots it"

    # -- the steps

    def _start_boot(self) -> None:
        self.transport.discard_input()  # output from before the reset is not the new boot's
        if self.plan.reset:
            self.transport.reset()
            self.started = self.clock()
            self.progress.step(f"reset sent to {self.transport.label}; pressing Esc until GRUB's menu shows")
            return
        self.progress.step(f"waiting for {self.transport.label} to reboot (reboot it now; sercon presses Esc "
                           "once the console shows the reboot: `reboot: Restarting system` or the firmware)")
        self.watch.read_until(lambda: REBOOTING.search(self.watch.raw) is not None, self.plan.reboot_timeout,
                              "the console never showed a reboot", "reboot it from its shell (`reboot`), or let "
                              "sercon reset it (drop --no-reset)")
        self.started = self.clock()
        self.progress.step("the machine is rebooting; pressing Esc until GRUB's menu shows")

    def _stop_in_grub(self) -> str:
        self.watch.mark()
        last_esc = [0.0]

        def shown() -> bool:
            if grub.menu_showing(self.screen) or grub.command_prompt(self.screen):
                return True
            self._refuse_if_booting_past_grub()
            if self.clock() - last_esc[0] >= self.plan.esc_interval:
                self.transport.write(grub.ESC)
                self.esc_sent, last_esc[0] = True, self.clock()
            return False

        self.watch.read_until(shown, self.plan.step_timeout, "GRUB's menu never showed on the serial console",
                              PROACTIVE_HINT, tick=self.plan.esc_interval)
        self.watch.settle(0.5)  # a stray Esc still in flight must land before `e`
        prompt = grub.command_prompt(self.screen)
        if prompt or not grub.menu_showing(self.screen):
            raise RescueFailed(f"GRUB is at its command line ({prompt or 'no menu'}), not its menu: it found no "
                               "configuration to show", "rescue by hand there (`ls`, `set root=`, `linux`, `boot`), "
                               "or attach the disk to a rescue VM", ExitStatus.PRECONDITION, where="prompt")
        entry = grub.highlighted_entry(self.screen) or "the default entry"
        self.progress.step(f"GRUB's menu showed {self.clock() - self.started:.1f} s after the reset; editing "
                           f"'{entry}'")
        return entry

    def _refuse_if_booting_past_grub(self) -> None:
        """Kernel output or a login prompt of the new boot while Esc is pressed: GRUB will not stop."""
        fresh = RESTARTED.search(self.watch.raw) is not None or self.clock() - self.started > STALE
        text = self.watch.text()
        if fresh and (KERNEL.search(text) or LOGIN.search(text)):
            raise RescueFailed("GRUB's menu never showed: the kernel started booting while sercon pressed Esc, "
                               "so this image hides GRUB (a zero timeout) or draws it elsewhere",
                               PROACTIVE_HINT, ExitStatus.PRECONDITION)

    def _edit(self, entry: str) -> None:
        self.editing = True
        self.transport.write(grub.EDIT)
        self.watch.read_until(lambda: grub.editor_showing(self.screen) or self.screen.contains(grub.PASSWORD_ANCHOR),
                              10, "GRUB's editor did not open", None, where="menu")
        if self.screen.contains(grub.PASSWORD_ANCHOR):
            self._password_protected()
        self.watch.settle(0.3)
        nested = grub.nested_entry(self.screen)
        if nested:
            self.submenu = True
            raise RescueFailed(f"'{entry}' is a submenu ({nested}...): sercon edits a plain entry only",
                               "pick the entry by hand: `sercon connect`, Enter on the submenu, then `e`",
                               ExitStatus.PRECONDITION, where="menu")
        self._go_to_linux_line(entry)
        self.transport.write(grub.END_OF_LINE)
        self.watch.settle(0.3)
        wanted = self.plan.parameter
        self.transport.write(b" " + wanted.encode())
        self.watch.read_until(lambda: grub.logical_line(self.screen, self.linux_row).rstrip().endswith(" " + wanted),
                              10, f"'{wanted}' did not show up on the linux line", None, where="menu")
        self.progress.step(f"added '{wanted}' to the linux line")

    def _password_protected(self) -> None:
        """GRUB's login (superusers): Esc cancels it; GRUB's menu should come back."""
        self.editing = False
        self.transport.write(grub.ESC)
        back = self.watch.read_until(lambda: self._at_menu() and not self.screen.contains(grub.PASSWORD_ANCHOR), 3)
        raise RescueFailed("GRUB asks for a user name before it edits an entry: its menu is password protected",
                           "rescue by hand with `sercon connect` and GRUB's password, or attach the disk to a "
                           "rescue VM", ExitStatus.PRECONDITION, where="menu" if back else "prompt")

    def _go_to_linux_line(self, entry: str) -> None:
        for _ in range(64):
            if grub.cursor_on_linux_line(self.screen):
                self.linux_row = self.screen.row
                return
            before = (self.screen.row, self.screen.col)
            self.transport.write(grub.DOWN)
            moved = self.watch.read_until(lambda at=before: (self.screen.row, self.screen.col) != at, 3)
            self.watch.settle(0.2)
            if not moved:
                break
        raise RescueFailed(f"no `linux` line in '{entry}' (is it a Linux entry?)", "pick the entry by hand with "
                           "`sercon connect`", ExitStatus.PRECONDITION, where="menu")

    def _boot(self) -> None:
        self.watch.mark()
        self.transport.write(grub.BOOT)
        self.editing, self.booted = False, True
        self.progress.step("booting it (Ctrl-X); waiting for the shell")
        self.watch.read_until(lambda: grub.BOOTING_ANCHOR in self.watch.text(), 10)
        self.watch.mark()
        self.watch.show = True

    def _wait_for_shell(self) -> Outcome:
        found: list[Outcome] = []

        def arrived() -> bool:
            text = self.watch.text()
            self._refuse_dead_ends(text)
            if MAINTENANCE.search(text):
                found.append(Outcome.MAINTENANCE)
            elif self.watch.quiet_for(0.3) and ROOT_PROMPT.search(text):
                found.append(Outcome.ROOT_SHELL)
            return bool(found)

        self.watch.read_until(arrived, self.plan.step_timeout, "no shell appeared after the boot",
                              "look at the console (`sercon connect`): the boot may need longer (--timeout)",
                              tick=0.1, where="prompt")
        return found[0]

    def _refuse_dead_ends(self, text: str) -> None:
        if LOCKED.search(text):
            raise RescueFailed("the emergency shell refused: the root account is locked (as on most cloud "
                               "images)", "sercon rescue again with --mode init (init=/bin/bash needs no root "
                               "password), or --mode rd.break on RHEL-like images", ExitStatus.PRECONDITION)
        again = GRUB_AGAIN.search(text)
        if again:
            raise RescueFailed(f"GRUB did not boot the edited entry: {again[0].strip()}", "look at the console "
                               "(`sercon connect`) and boot an entry by hand", ExitStatus.PRECONDITION,
                               where="prompt")
        if self.watch.quiet_for(0.3) and LOGIN.search(text):
            raise RescueFailed(f"the machine booted to its login prompt: '{self.plan.parameter}' did not stop "
                               "the boot", "try another --mode (docs/user-guide.md says which fits which "
                               "distribution)", ExitStatus.PRECONDITION, where="prompt")

    # -- GRUB's state

    def _at_menu(self) -> bool:
        return grub.menu_showing(self.screen) and not grub.editor_showing(self.screen)

    def _discard_edit(self) -> None:
        """Leave GRUB's editor without changes (Esc), and say whether the menu came back."""
        self.editing = False
        self.transport.write(grub.ESC)
        if self.watch.read_until(self._at_menu, 5):
            self.progress.step("closed GRUB's editor without changes (Esc): GRUB's menu is on the console")
        else:
            self.progress.step("sent Esc to close GRUB's editor; its menu did not show again: look at the console")
