"""The rescue steps, each with a deadline: reset, stop in GRUB, edit the linux line, boot, find the shell.

Nothing is typed on a guess: Esc only between the reset (or the reboot the user started) and
GRUB's menu; keys in the editor only after the screen shows where the cursor is. If sercon stops
early, `restore_boot` leaves GRUB as it would have been: the edit discarded, the entry booted.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from functools import partial

from sercon.errors import ConnectionLost, ExitStatus
from sercon.rescue import grub
from sercon.rescue.console import KERNEL, LOGIN, RESTARTED, ConsoleWatch, Progress, RescueFailed, reboot_shown
from sercon.rescue.modes import MODES, auto_modes, next_mode
from sercon.rescue.screen import Screen
from sercon.rescue.shell import MAINTENANCE, Refusal, dead_end, in_doubt, prompt_at_end, without_log_lines
from sercon.stream.sinks import Sink
from sercon.transport.base import Transport

PROACTIVE_HINT = ("make GRUB's menu show on the serial console (GRUB_TIMEOUT_STYLE=countdown or menu, "
                  "GRUB_TIMEOUT=5, GRUB_TERMINAL=\"serial console\"; see Azure's \"proactive GRUB "
                  "configuration\" page and docs/user-guide.md), or attach the disk to a rescue VM")
# The boot went on past GRUB (a quiet kernel prints no `Linux version`): Esc must stop before a
# passphrase or password prompt, or a UEFI setup page, takes it.
BOOTING_PAST = re.compile(r"Loading Linux|Loading initial ramdisk|EFI stub:|Please unlock|Give root password")
STALE = 5.0  # seconds after the reset in which kernel output may still be the old boot's
CHUNK = 4  # keys typed into GRUB's editor before waiting for their echo (a 16550 UART holds 16)


class Outcome(Enum):
    ROOT_SHELL = "a root shell"
    MAINTENANCE = "the maintenance prompt (root's password, or Enter)"


@dataclass
class RescuePlan:
    parameter: str | None  # None: `--mode auto`, chosen from GRUB's entry, with the next mode on a refusal
    reset: bool = True
    step_timeout: float = 120.0  # for GRUB's menu after the reset; of silence while the guest boots
    reboot_timeout: float = 600.0  # --no-reset: how long to wait for the user's own reboot
    esc_interval: float = 0.2  # GRUB takes a lone Esc after ~100 ms
    max_boots: int = 3  # auto: boots in all, the first included

    @property
    def key_wait(self) -> float:
        """Seconds of silence after a key before GRUB counts as not answering (it redraws whole lines)."""
        return max(10.0, self.step_timeout / 6)


class GrubDriver:
    def __init__(self, transport: Transport, plan: RescuePlan, progress: Progress,
                 clock: Callable[[], float] = time.monotonic, record: Sink | None = None) -> None:
        self.transport, self.plan, self.progress, self.clock = transport, plan, progress, clock
        self.watch = ConsoleWatch(transport, progress, clock, record)
        self.screen = self.watch.screen
        self.started = clock()
        self.esc_sent = self.editing = self.booted = self.submenu = False
        self.parameter = plan.parameter
        self.chain: list[str] = []  # the modes that fit this entry, in auto's order
        self.boots = 0

    def run(self) -> Outcome:
        """From the reset to a shell; raises RescueFailed (GRUB's editor closed unchanged first).
        In auto mode a refused parameter is followed by the next mode, after another reset."""
        while True:
            try:
                return self._attempt()
            except RescueFailed as exc:
                following = self._retry_with(exc)
                if following is None:
                    raise
                self.progress.step(f"{exc.message}; trying '{following}' next (boot {self.boots + 1} of at most "
                                   f"{self.plan.max_boots}: sercon resets {self.transport.label} again)")
                self.parameter = following

    def _attempt(self) -> Outcome:
        self.boots += 1
        self.esc_sent = self.booted = self.submenu = False
        self.watch.show = False
        try:
            self._start_boot()
            entry = self._stop_in_grub()
            self._edit(entry)
            self._boot()
            return self._wait_for_shell()
        except ConnectionLost as exc:
            if self.booted:
                exc.hint = (f"the machine is booting with '{self.parameter}': `sercon connect` reaches its "
                            "shell (sercon rescue again would reset it)")
            raise
        finally:
            if self.editing:
                self._discard_edit()

    def _may_retry(self) -> bool:
        """Auto mode, a reset at hand and boots left: a refusal is followed by the next mode."""
        return self.plan.parameter is None and self.plan.reset and self.boots < self.plan.max_boots

    def _retry_with(self, exc: RescueFailed) -> str | None:
        if not exc.refused or not self._may_retry() or self.parameter is None:
            return None
        following = next_mode(self.chain, self.parameter)
        return MODES[following][0] if following else None

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
        self.screen = self.watch.screen = Screen()  # nor is what the last boot drew
        self.watch.mark()
        if self.plan.reset:
            self.transport.reset()
            self.started = self.clock()
            self.progress.step(f"reset sent to {self.transport.label}; pressing Esc until GRUB's menu shows")
            return
        self.progress.step(f"waiting for {self.transport.label} to reboot (reboot it now; sercon presses Esc "
                           "once the console shows the reboot: `reboot: Restarting system` or the firmware)")
        self.watch.read_until(self._rebooting, self.plan.reboot_timeout,
                              "the console never showed a reboot", "reboot it from its shell (`reboot`), or let "
                              "sercon reset it (drop --no-reset)")
        self.started = self.clock()
        self.progress.step("the machine is rebooting; pressing Esc until GRUB's menu shows")

    def _rebooting(self) -> bool:
        return reboot_shown(self.watch.raw, self.watch.quiet_for(1.0))

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

        try:
            self.watch.read_until(shown, self.plan.step_timeout, "GRUB's menu never showed on the serial console",
                                  PROACTIVE_HINT, tick=self.plan.esc_interval)
        except RescueFailed as exc:
            exc.message += f"; {self._last_seen()}"
            raise
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

    def _last_seen(self) -> str:
        """What the console showed last, for a failure message: a person can tell a silent console
        from a screen sercon did not recognise."""
        lines = [line.strip() for line in self.screen.display() if line.strip()]
        if not self.watch.raw:
            return "the console printed nothing since the reset"
        return f"the console's last line: {lines[-1][:100]!r}" if lines else "the console's screen is blank"

    def _refuse_if_booting_past_grub(self) -> None:
        """Kernel output or a login prompt of the new boot while Esc is pressed: GRUB will not stop."""
        fresh = RESTARTED.search(self.watch.raw) is not None or self.clock() - self.started > STALE
        text = self.watch.text()
        if fresh and (KERNEL.search(text) or BOOTING_PAST.search(text) or LOGIN.search(text)):
            raise RescueFailed("GRUB's menu never showed: the kernel started booting while sercon pressed Esc, "
                               "so this image hides GRUB (a zero timeout) or draws it elsewhere",
                               PROACTIVE_HINT, ExitStatus.PRECONDITION)

    def _edit(self, entry: str) -> None:
        self.editing = True
        self.transport.write(grub.EDIT)
        self.watch.read_until(lambda: grub.editor_showing(self.screen) or self.screen.contains(grub.PASSWORD_ANCHOR),
                              self.plan.key_wait, "GRUB's editor did not open", None, where="menu", idle=True)
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
        self._choose_parameter(entry)
        self.transport.write(grub.END_OF_LINE)
        self.watch.settle(0.3)
        self._type(" " + str(self.parameter))
        self.progress.step(f"added '{self.parameter}' to the linux line")

    def _choose_parameter(self, entry: str) -> None:
        """The modes that fit this entry; auto takes the first, and says why in one line."""
        if not self.chain:
            self.chain = auto_modes(grub.editor_lines(self.screen), entry)
        if self.parameter is None:
            self.parameter = MODES[self.chain[0]][0]
            after = ", then ".join(f"'{MODES[mode][0]}'" for mode in self.chain[1:])
            self.progress.step(f"mode auto: '{self.parameter}' first, which needs no root password (cloud images "
                               f"lock root); if the guest refuses it: {after}")

    def _type(self, text: str) -> None:
        """Type *text* at the cursor a few keys at a time, each group after GRUB echoed the last: a
        GRUB busy redrawing (slow guest, or drawing on two terminals) drops keys sent faster."""
        typed = ""
        for start in range(0, len(text), CHUNK):
            chunk = text[start:start + CHUNK]
            typed += chunk
            self.transport.write(chunk.encode())
            shown = typed.rstrip()
            self.watch.read_until(partial(self._cursor_line_ends_with, shown), self.plan.key_wait,
                                  f"'{text.strip()}' did not show up on the linux line", None, where="menu", idle=True)

    def _cursor_line_ends_with(self, shown: str) -> bool:
        return grub.line_at_cursor(self.screen).rstrip().endswith(shown)

    def _cursor_moved_from(self, at: tuple[int, int]) -> bool:
        return (self.screen.row, self.screen.col) != at

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
                return
            before = (self.screen.row, self.screen.col)
            self.transport.write(grub.DOWN)
            moved = self.watch.read_until(partial(self._cursor_moved_from, before), self.plan.key_wait, idle=True)
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
        # GRUB's "Booting a command list" (English only): what follows is the boot's. Not seen (another
        # language, or a slow GRUB): everything since Ctrl-X is kept, so no prompt is thrown away.
        self.watch.read_until(lambda: grub.BOOTING_ANCHOR.encode() in self.watch.raw, 3)
        anchor = self.watch.raw.find(grub.BOOTING_ANCHOR.encode())
        if anchor >= 0:
            self.watch.raw = self.watch.raw[anchor + len(grub.BOOTING_ANCHOR):]
        self.watch.show = True

    def _wait_for_shell(self) -> Outcome:
        """Until a root prompt is the last thing printed (kernel lines apart) and stays so, or the
        maintenance prompt. One Enter at most, at a prompt-shaped line with other text after it."""
        found: list[Outcome] = []
        # The text without log lines, when it last changed, whether Enter was pressed.
        seen, changed, pressed = "", self.clock(), False

        def arrived() -> bool:
            nonlocal seen, changed, pressed
            text = self.watch.text()
            refusal = dead_end(text, str(self.parameter), self.watch.quiet_for(0.3))
            if refusal is not None:
                raise self._refused(refusal)
            cleaned = without_log_lines(text)
            if cleaned != seen:
                seen, changed = cleaned, self.clock()
            steady = self.clock() - changed
            if MAINTENANCE.search(text):
                found.append(Outcome.MAINTENANCE)
            elif steady >= 0.5 and prompt_at_end(text):
                found.append(Outcome.ROOT_SHELL)
            elif steady >= 2.0 and not pressed and in_doubt(text):
                self.progress.step("a prompt-shaped line with other output after it: pressing Enter once")
                self.transport.write(grub.ENTER)
                pressed = True
            return bool(found)

        self.watch.read_until(arrived, self.plan.step_timeout, "no shell appeared after the boot",
                              "look at the console (`sercon connect`): the guest may still be booting "
                              "(a longer --timeout waits longer in silence)", tick=0.1, where="prompt", idle=True)
        return found[0]

    def _refused(self, refusal: Refusal) -> RescueFailed:
        """The failure for a boot that reaches no shell, naming the mode to try next."""
        following = next_mode(self.chain, str(self.parameter))
        if following is not None and refusal.retry and self._may_retry():
            hint = f"sercon goes on with --mode {following}"
        else:
            following = following or next((mode for mode in self.chain if MODES[mode][0] != self.parameter), None)
            hint = (f"sercon rescue again with --mode {following} ({MODES[following][1]})" if following else
                    "look at the console (`sercon connect`); docs/user-guide.md says which mode fits where")
        return RescueFailed(refusal.message, hint, ExitStatus.PRECONDITION, refusal.where, refused=refusal.retry)

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
