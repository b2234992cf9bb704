"""What the console shows after GRUB booted the edited entry: a root shell, or why there is none.

Real kernels go on printing after a shell drew its prompt (clocksource, crng, NMI and driver
lines), on the prompt's own line when it has no newline yet. So the kernel's lines, and systemd's
status lines, are taken out before a prompt is looked for at the end of the output. When a
prompt-shaped line is followed by something else, the driver may press Enter once: a fresh prompt
decides (`in_doubt`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

KERNEL_LINE = re.compile(r"\[\s*\d+\.\d+\][^\n]*(?:\n|$)")
SYSTEMD_STATUS = re.compile(r"\[\s*(?:OK|FAILED|DEPEND|TIME|\*{1,3})\s*\] [^\n]*(?:\n|$)")
# A `#` that ends a short line, not one of a row of them (a banner's `#####`); \Z, not $: the very
# end, not before a last newline.
ROOT_PROMPT = re.compile(r"(?:^|\n)(?!\[\s*\d+\.\d+\])(?![^\n]*##)[^\n]{0,60}# ?\Z|\(initramfs\) ?\Z")
_PROMPT_LINE = re.compile(r"^(?:(?![^\n]*##)[^\n]{0,60}# ?|\(initramfs\) ?)$")
_ASKS = re.compile(r"(?i)(password|passphrase|unlock|pin)\b[^\n]*$|:\s*$")
MAINTENANCE = re.compile(r"Give root password for maintenance|Press Enter for maintenance"
                         r"|\(or press Control-D to continue\)")
LOCKED = re.compile(r"root account is locked")
PANIC = re.compile(r"Kernel panic - not syncing: ?([^\n]*)\n?")
# The kernel's and initramfs-tools' own words (systemd and udev also say "Failed to execute ...", of
# their units: that is no refusal).
INIT_MISSING = re.compile(r"Target filesystem doesn't have requested (\S+?)\.?\n"
                          r"|Failed to execute (\S+) \(error -\d+\)|Requested init (\S+) failed \(error")
STARTED = re.compile(r"Linux version \d|\[\s*\d+\.\d+\] |Booting the kernel")
# A reboot as the kernel or the firmware says it (console.py reads the same words in raw bytes).
REBOOT_WORDS = r"reboot: Restarting system|reboot: machine restart|SeaBIOS|Booting from |GNU GRUB  version"
RESTARTED = re.compile(REBOOT_WORDS)
GRUB_ERROR = re.compile(r"(?m)Press any key to continue|^error: [^\n]*")
LOGIN = re.compile(r"login:\s?$")
_TAIL = 8192


def without_log_lines(text: str) -> str:
    """The console's text with the kernel's and systemd's status lines taken out."""
    return SYSTEMD_STATUS.sub("", KERNEL_LINE.sub("", text[-_TAIL:]))


def prompt_at_end(text: str) -> bool:
    """A root shell's prompt is the last thing printed, kernel and systemd lines apart."""
    return ROOT_PROMPT.search(without_log_lines(text)) is not None


def in_doubt(text: str) -> bool:
    """A prompt-shaped line among the last few, with something other than log lines after it."""
    lines = without_log_lines(text).split("\n")
    if _ASKS.search(lines[-1]):  # a passphrase or password prompt: an Enter would answer it
        return False
    return any(_PROMPT_LINE.match(line) for line in lines[-6:-1]) and not prompt_at_end(text)


@dataclass(frozen=True)
class Refusal:
    """The boot will not reach a shell with this parameter. *retry*: another mode may get past it."""

    message: str
    retry: bool
    where: str | None = "prompt"


def dead_end(text: str, parameter: str, quiet: bool) -> Refusal | None:
    """Why the edited boot reaches no shell, as soon as the console shows it; None while it may."""
    panic = PANIC.search(text)
    if panic and (panic[0].endswith("\n") or quiet):  # the reason's line whole, not cut by a read
        return Refusal(f"the kernel panicked after booting with '{parameter}': {panic[1].strip() or 'panic'}", True,
                       None)
    missing = INIT_MISSING.search(text)
    if missing:
        name = next(group for group in missing.groups() if group)
        return Refusal(f"the guest has no {name} to run as init ('{parameter}')", True)
    if LOCKED.search(text):
        return Refusal("the emergency shell refused: the root account is locked (as on most cloud images)", True)
    started = STARTED.search(text)
    if started and RESTARTED.search(text, started.end()):
        return Refusal(f"the machine restarted while booting with '{parameter}'", True, None)
    if not started:
        error = GRUB_ERROR.search(text)
        if error:
            return Refusal(f"GRUB did not boot the edited entry: {error[0].strip()}", False)
    if quiet and LOGIN.search(without_log_lines(text)):
        return Refusal(f"the machine booted to its login prompt: '{parameter}' did not stop the boot", True)
    return None
