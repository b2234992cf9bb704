"""The rescue parameters `sercon rescue --mode` adds to the kernel's command line, and the order
in which `--mode auto` (the default) tries them.

Azure's marketplace images lock root, so the modes that ask for root's password (emergency,
single) come last; init=/bin/bash needs none and works on every systemd distribution. The
initramfs's own shell comes next, chosen by the initrd GRUB loads: initramfs-tools (Debian,
Ubuntu: `initrd.img-*`, `break=premount`) or dracut (RHEL and relatives, SUSE: `initramfs-*`,
`rd.break`). docs/user-guide.md says what each shell has mounted.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from sercon.errors import UsageError

MODES: dict[str, tuple[str, str]] = {
    "init": ("init=/bin/bash", "bash as PID 1 instead of systemd: no password asked, root mounted read-only"),
    "premount": ("break=premount", "initramfs-tools' shell (Debian, Ubuntu) before root is mounted: no password"),
    "rd.break": ("rd.break", "dracut's shell before the root switch (RHEL and relatives): root at /sysroot"),
    "emergency": ("systemd.unit=emergency.target",
                  "systemd's emergency shell: root file system read-only, nothing else mounted; needs root's password"),
    "single": ("single", "single-user (rescue) mode: local file systems mounted; needs root's password"),
}
AUTO = "auto"
DEFAULT_MODE = AUTO
_PARAMETERS = re.compile(r"[A-Za-z0-9=.,/:_+@%-]+(?: +[A-Za-z0-9=.,/:_+@%-]+)*")
_INITRD = re.compile(r"^\s*initrd(?:16|efi)?\s+(.*)$")


def rescue_parameter(mode: str | None, append: str | None) -> str | None:
    """The text to add to the `linux` line: a named mode's, --append's (checked: it is typed into
    GRUB), or None for `auto` (chosen once GRUB's editor shows the entry)."""
    if append is None:
        return None if mode in (None, AUTO) else MODES[mode][0]
    if mode is not None:
        raise UsageError("--mode and --append both name the rescue parameter", "give one of them")
    text = append.strip(" ")
    if not _PARAMETERS.fullmatch(text):
        raise UsageError(f"--append {append!r} is not kernel parameters sercon can type into GRUB",
                         "letters, digits, spaces and = . , / : _ + @ % - only (GRUB reads $ ; # { } quotes and "
                         "backslashes as its own syntax); e.g. --append 'rd.break enforcing=0'")
    return text


# Distributions by the name GRUB's menu gives them, when the editor does not show the initrd line
# (Debian's entry is 15 rows in a 12-row box).
_DISTRIBUTIONS = {"initramfs-tools": ("Debian", "Ubuntu"),
                  "dracut": ("Red Hat", "CentOS", "Rocky", "AlmaLinux", "Oracle", "Fedora", "SUSE", "SLES",
                             "Mariner", "Azure Linux")}


def initramfs_kind(entry_lines: Iterable[str], title: str = "") -> str | None:
    """'initramfs-tools' or 'dracut': from the initrd GRUB's entry loads, else from the entry's name;
    None when neither says."""
    for line in entry_lines:
        found = _INITRD.match(line)
        words = found[1].split() if found else []
        name = words[0].rsplit("/", 1)[-1] if words else ""
        if name.startswith("initrd.img"):
            return "initramfs-tools"
        if name.startswith("initramfs-"):
            return "dracut"
    return next((kind for kind, names in _DISTRIBUTIONS.items() if any(n.lower() in title.lower() for n in names)),
                None)


def auto_modes(entry_lines: Iterable[str], title: str = "") -> list[str]:
    """The modes `auto` tries, in order, for the GRUB entry whose lines (and name) these are."""
    kind = initramfs_kind(entry_lines, title)
    initramfs = {"initramfs-tools": ["premount"], "dracut": ["rd.break"]}.get(kind or "", [])
    return ["init", *initramfs, "emergency"]


def mode_of(parameter: str) -> str | None:
    return next((name for name, (text, _) in MODES.items() if text == parameter), None)


def next_mode(chain: list[str], parameter: str) -> str | None:
    """The mode after *parameter*'s in *chain* (for a hint, or auto's next boot)."""
    mode = mode_of(parameter)
    if mode not in chain:
        return chain[0] if chain and MODES[chain[0]][0] != parameter else None
    index = chain.index(mode)
    return chain[index + 1] if index + 1 < len(chain) else None
