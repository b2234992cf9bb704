"""The patterns that tell a rescue's stages apart, on what real consoles print."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sercon.rescue.console import KERNEL, REBOOTING, RESTARTED, reboot_shown
from sercon.rescue.shell import GRUB_ERROR, LOCKED, MAINTENANCE, ROOT_PROMPT


@pytest.mark.parametrize("tail", [
    "/bin/sh: can't access tty; job control turned off\n~ # ",
    "bash: no job control in this shell\nroot@(none):/# ",
    "bash-5.1# ",
    "Entering emergency mode.\nswitch_root:/# ",
    "sh-4.4#",
    "BusyBox v1.30.1 (Ubuntu 1:1.30.1-7ubuntu3) built-in shell (ash)\n(initramfs) ",
    "[  OK  ] Reached target Emergency Mode.\n:/# ",
])
def test_root_prompts_are_recognised(tail):
    assert ROOT_PROMPT.search(tail)


@pytest.mark.parametrize("tail", [
    "[    1.234567] foo: #\n",
    "[    1.234567] systemd[1]: #",
    "login: ",
    "guest@sercon-guest:~$ ",
    "Give root password for maintenance\n(or press Control-D to continue): ",
])
def test_other_lines_are_not_root_prompts(tail):
    assert not ROOT_PROMPT.search(tail)


def test_the_boot_stages():
    assert MAINTENANCE.search("Give root password for maintenance\n(or press Control-D to continue): ")
    assert MAINTENANCE.search("Press Enter for maintenance\n(or press Control-D to continue):")
    assert LOCKED.search("Cannot open access to console, the root account is locked.\n")
    assert KERNEL.search("[    0.000000] Linux version 6.1.0-57-cloud-amd64")
    assert not KERNEL.search("[  123.456789] reboot: Restarting system")
    assert REBOOTING.search(b"[  123.456789] reboot: Restarting system")
    assert not REBOOTING.search(b"\x1b[H\x1b[2J$ ")  # a program clearing its screen is no reboot
    assert RESTARTED.search(b"\x1bc\x1b[?7l\x1b[2JSeaBIOS")
    assert GRUB_ERROR.search("error: file `/boot/vmlinuz' not found.\n\nPress any key to continue...")


def test_a_reboot_is_the_kernels_or_the_firmwares_not_a_log_line_in_a_shell():
    kernel = b"[  123.456789] reboot: Restarting system\r\n"
    assert reboot_shown(kernel, quiet=True)
    assert not reboot_shown(kernel, quiet=False)  # a moment of silence, or the firmware, must follow
    assert reboot_shown(kernel + b"\x1bc\x1b[2JSeaBIOS (version 1.16.2)\r\nBooting from Hard Disk...", quiet=False)
    shown_by_a_shell = b"$ dmesg | grep reboot\r\n" + kernel + b"azureuser@web1:~$ "
    assert not reboot_shown(shown_by_a_shell, quiet=True)
    assert not reboot_shown(b"journalctl: reboot: Restarting system\r\nroot@web1:~# ", quiet=True)
    assert reboot_shown(shown_by_a_shell + b"sudo reboot\r\n" + kernel, quiet=True)  # then the real one
    assert not reboot_shown(b"$ sudo dmidecode -s bios-vendor\r\nSeaBIOS\r\n", quiet=True)  # no banner
    assert not reboot_shown(kernel + b"lines 1-20/20 (END)", quiet=True)  # a pager showing a log
    assert not reboot_shown(b"[  123.456789] reboot: Restarting system\r\n", quiet=False)


@given(st.binary(max_size=2048), st.booleans())
@settings(max_examples=300, deadline=None)
def test_the_reboot_reader_takes_any_bytes(raw, quiet):
    assert isinstance(reboot_shown(raw, quiet), bool)
    assert not reboot_shown(raw + b"\r\nazureuser@web1:~$ ", quiet)  # a prompt after it: a shell printed it
