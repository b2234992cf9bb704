"""The rescue parameters `sercon rescue --mode` adds to the kernel's command line, and what each is for.

docs/user-guide.md ("Rescue a VM that does not boot") says which fits which distribution.
"""

from __future__ import annotations

import re

from sercon.errors import UsageError

MODES: dict[str, tuple[str, str]] = {
    "emergency": ("systemd.unit=emergency.target",
                  "systemd's emergency shell: root file system read-only, nothing else mounted; needs root's password"),
    "single": ("single", "single-user (rescue) mode: local file systems mounted; needs root's password"),
    "init": ("init=/bin/bash", "bash as PID 1 instead of systemd: no password asked, root read-only"),
    "rd.break": ("rd.break", "dracut's shell before the root switch (RHEL and relatives): root at /sysroot"),
}
DEFAULT_MODE = "emergency"
_PARAMETERS = re.compile(r"[A-Za-z0-9=.,/:_+@%-]+(?: +[A-Za-z0-9=.,/:_+@%-]+)*")


def rescue_parameter(mode: str | None, append: str | None) -> str:
    """The text to add to the `linux` line: a named mode's, or --append's (checked: it is typed into GRUB)."""
    if append is None:
        return MODES[mode or DEFAULT_MODE][0]
    if mode is not None:
        raise UsageError("--mode and --append both name the rescue parameter", "give one of them")
    text = append.strip(" ")
    if not _PARAMETERS.fullmatch(text):
        raise UsageError(f"--append {append!r} is not kernel parameters sercon can type into GRUB",
                         "letters, digits, spaces and = . , / : _ + @ % - only (GRUB reads $ ; # { } quotes and "
                         "backslashes as its own syntax); e.g. --append 'rd.break enforcing=0'")
    return text
