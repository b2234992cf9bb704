"""The rescue steps, each with a deadline: reset, stop in GRUB, edit the linux line, boot, find the shell.

Nothing is typed on a guess: Esc only between the reset (or the reboot the user started) and
GRUB's menu; keys in the editor only after the screen shows where the cursor is; and if a step
fails inside the editor, Esc discards the edit and the error says where it stopped.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Protocol

from sercon.errors import ExitStatus, SerconError
from sercon.rescue import grub
from sercon.rescue.screen import Screen
from sercon.transport.base import Transport

PROACTIVE_HINT = ("make GRUB's menu show on the serial console (GRUB_TIMEOUT_STYLE=countdown or menu, "
                  "GRUB_TIMEOUT=5, GRUB_TERMINAL=\"serial console\"; see Azure's \"proactive GRUB "
                  "configuration\" page and docs/user-guide.md), or attach the disk to a rescue VM")
_STRIP = re.compile(rb"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_c]")
_KERNEL = re.compile(r"Linux version \d|\[\s*0\.0+\] ")
_REBOOTING = re.compile(r"Restarting system|reboot: |Rebooting|SeaBIOS|Booting from|GNU GRUB")
_ROOT_PROMPT = re.compile(r"(?:^|\n)[^\n]{0,80}#\s?$")
_MAINTENANCE = re.compile(r"Give root password for maintenance|Press Enter for maintenance"
                          r"|\(or press Control-D to continue\)")
_LOCKED = re.compile(r"root account is locked")
_LOGIN = re.compile(r"login:\s?$")


class Outcome(Enum):
    ROOT_SHELL = "a root shell"
    MAINTENANCE = "the maintenance prompt (root's password, or Enter)"


class RescueFailed(SerconError):
    """A step did not happen in time or cannot happen on this machine; *where* says what GRUB shows."""

    def __init__(self, message: str, hint: str | None, status: ExitStatus, in_grub: bool = False) -> None:
        super().__init__(message, hint)
        self.exit_status = status
        self.in_grub = in_grub  # GRUB's menu is on the console: a person can take it from there


class Progress(Protocol):
    def step(self, message: str) -> None: ...

    def output(self, data: bytes) -> None: ...


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
        self.screen = Screen()
        self.raw = b""  # recent output since the last mark, for the text patterns
        self.editing = False
        self.started = self.last_data = clock()
        self.linux_row = 0

    def run(self) -> Outcome:
        """From the reset to a shell; raises RescueFailed (GRUB's editor closed unchanged first)."""
        try:
            self._start_boot()
            entry = self._stop_in_grub()
            self._edit(entry)
            self._boot()
            return self._wait_for_shell()
        except BaseException:
            if self.editing:
                self._discard_edit()
            raise

    # -- the steps

    def _start_boot(self) -> None:
        if self.plan.reset:
            self.transport.reset()
            self.started = self.clock()
            self.progress.step(f"reset sent to {self.transport.label}; pressing Esc until GRUB's menu shows")
            return
        self.progress.step(f"waiting for {self.transport.label} to reboot (reboot it now; "
                           f"sercon presses Esc once the reboot shows on the console)")
        self._read_until(lambda: _REBOOTING.search(self.text()) is not None, self.plan.reboot_timeout,
                         "the machine did not reboot", "reboot it from the guest or the portal, or drop --no-reset")
        self.started = self.clock()
        self.progress.step("the machine is rebooting; pressing Esc until GRUB's menu shows")

    def _stop_in_grub(self) -> str:
        self._mark()
        last_esc = [0.0]

        def shown() -> bool:
            if grub.menu_showing(self.screen) or grub.at_command_line(self.screen):
                return True
            if _KERNEL.search(self.text()) or (self.clock() - self.started > 1 and _LOGIN.search(self.text())):
                raise RescueFailed("GRUB's menu never showed: the kernel started booting while sercon pressed Esc, "
                                   "so this image hides GRUB (a zero timeout) or draws it elsewhere",
                                   PROACTIVE_HINT, ExitStatus.PRECONDITION)
            if self.clock() - last_esc[0] >= self.plan.esc_interval:
                self.transport.write(grub.ESC)
                last_esc[0] = self.clock()
            return False

        self._read_until(shown, self.plan.step_timeout, "GRUB's menu never showed on the serial console",
                         PROACTIVE_HINT, tick=self.plan.esc_interval)
        self._settle(0.5)  # a stray Esc still in flight must land before `e`
        if grub.at_command_line(self.screen) or not grub.menu_showing(self.screen):
            raise RescueFailed("GRUB is at its command line (grub>), not its menu", "type `normal` there, or "
                               "`exit`, to get the menu back; then rescue by hand", ExitStatus.PRECONDITION)
        entry = grub.highlighted_entry(self.screen) or "the default entry"
        self.progress.step(f"GRUB's menu showed {self.clock() - self.started:.1f} s after the reset; editing "
                           f"'{entry}'")
        return entry

    def _edit(self, entry: str) -> None:
        self.editing = True
        self.transport.write(grub.EDIT)
        self._read_until(lambda: grub.editor_showing(self.screen) or self.screen.contains(grub.PASSWORD_ANCHOR),
                         10, "GRUB's editor did not open", None)
        if self.screen.contains(grub.PASSWORD_ANCHOR):
            self.editing = False
            raise RescueFailed("GRUB asks for a user name: its menu is password protected", "rescue by hand with "
                               "`sercon connect`, or attach the disk to a rescue VM", ExitStatus.PRECONDITION,
                               in_grub=True)
        self._settle(0.3)
        self._go_to_linux_line(entry)
        self.transport.write(grub.END_OF_LINE)
        self._settle(0.3)
        self.transport.write(b" " + self.plan.parameter.encode())
        wanted = self.plan.parameter
        self._read_until(lambda: grub.logical_line(self.screen, self.linux_row).rstrip().endswith(" " + wanted),
                         10, f"'{wanted}' did not show up on the linux line", None)
        self.progress.step(f"added '{wanted}' to the linux line")

    def _go_to_linux_line(self, entry: str) -> None:
        for _ in range(64):
            if grub.cursor_on_linux_line(self.screen):
                self.linux_row = self.screen.row
                return
            before = (self.screen.row, self.screen.col)
            self.transport.write(grub.DOWN)
            moved = self._read_until(lambda at=before: (self.screen.row, self.screen.col) != at, 3, None, None)
            self._settle(0.2)
            if not moved:
                break
        raise RescueFailed(f"no `linux` line in '{entry}' (is it a Linux entry?)", "pick the entry by hand with "
                           "`sercon connect`; the editor was closed without changes", ExitStatus.PRECONDITION,
                           in_grub=True)

    def _boot(self) -> None:
        self._mark()
        self.transport.write(grub.BOOT)
        self.editing = False
        self.progress.step("booting it (Ctrl-X); waiting for the shell")
        self._read_until(lambda: grub.BOOTING_ANCHOR in self.text(), 10, None, None)

    def _wait_for_shell(self) -> Outcome:
        self._mark()
        found: list[Outcome] = []

        def arrived() -> bool:
            text = self.text()
            if _LOCKED.search(text):
                raise RescueFailed("the emergency shell refused: the root account is locked (as on most cloud "
                                   "images)", "sercon rescue again with --mode init (init=/bin/bash needs no root "
                                   "password), or --mode rd.break on RHEL-like images", ExitStatus.PRECONDITION)
            if _MAINTENANCE.search(text):
                found.append(Outcome.MAINTENANCE)
            elif self._quiet_for(0.3) and _ROOT_PROMPT.search(text):
                found.append(Outcome.ROOT_SHELL)
            elif self._quiet_for(0.3) and _LOGIN.search(text):
                raise RescueFailed(f"the machine booted to its login prompt: '{self.plan.parameter}' did not stop "
                                   "the boot", "try another --mode (docs/user-guide.md says which fits which "
                                   "distribution)", ExitStatus.PRECONDITION)
            return bool(found)

        self._read_until(arrived, self.plan.step_timeout, "no shell appeared after the boot",
                         "the console is still attached: `sercon connect` to see what it shows", show=True,
                         tick=0.1)
        return found[0]

    # -- reading

    def _read_until(self, done: Callable[[], bool], timeout: float, failure: str | None, hint: str | None,
                    show: bool = False, tick: float = 0.05) -> bool:
        """Read and follow the console until *done*; on the deadline, raise *failure* (or return False)."""
        deadline = self.clock() + timeout
        while not done():
            remaining = deadline - self.clock()
            if remaining <= 0:
                if failure is None:
                    return False
                raise RescueFailed(f"{failure} (waited {timeout:.0f} s)", hint, ExitStatus.TIMEOUT,
                                   in_grub=self.editing or grub.menu_showing(self.screen))
            data = self.transport.read(min(tick, remaining))
            if data:
                self._take(data, show)
        return True

    def _settle(self, quiet: float) -> None:
        """Read until the console has been quiet for *quiet* seconds (GRUB is done drawing)."""
        limit = self.clock() + 5
        while self.clock() < limit:
            data = self.transport.read(quiet)
            if not data:
                return
            self._take(data, False)

    def _take(self, data: bytes, show: bool) -> None:
        self.screen.feed(data)
        self.raw = (self.raw + data)[-16384:]
        self.last_data = self.clock()
        if show:
            self.progress.output(data)

    def _quiet_for(self, seconds: float) -> bool:
        return self.clock() - self.last_data >= seconds

    def _mark(self) -> None:
        self.raw = b""

    def text(self) -> str:
        return _STRIP.sub(b"", self.raw).decode("utf-8", "replace").replace("\r", "")

    def _discard_edit(self) -> None:
        """Leave GRUB's editor without changes (Esc), and say so."""
        self.editing = False
        try:
            self.transport.write(grub.ESC)
            self._read_until(lambda: grub.menu_showing(self.screen) and not grub.editor_showing(self.screen), 5,
                             None, None)
        except SerconError:
            self.progress.step("could not close GRUB's editor: it may still hold an unfinished edit")
            return
        self.progress.step("closed GRUB's editor without changes (Esc): GRUB's menu is on the console")
