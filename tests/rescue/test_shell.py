"""Telling a root shell from what real kernels print around it, and naming why a boot reaches none."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sercon.rescue.console import strip_controls
from sercon.rescue.shell import dead_end, in_doubt, prompt_at_end, without_log_lines

PROMPTS = ["root@(none):/# ", "bash-5.2# ", "(initramfs) ", "switch_root:/# ", "sh-4.4#", "~ # "]
# What real kernels print after userspace drew a prompt (recorded on Debian 12's cloud kernel under QEMU).
KERNEL_LINES = [
    "[   45.123456] Uhhuh. NMI received for unknown reason 30 on CPU 0.\r\n",
    "[   45.123789] Dazed and confused, but trying to continue\r\n",
    "[    6.501234] clocksource: Switched to clocksource tsc\r\n",
    "[    7.000001] random: crng init done\r\n",
    "[   12.345678] virtio_net virtio0 enp0s3: renamed from eth0\r\n",
]


@pytest.mark.parametrize("prompt", PROMPTS)
@pytest.mark.parametrize("after", [0, 1, 2, 5])
def test_a_prompt_followed_only_by_kernel_lines_is_a_prompt(prompt, after):
    text = strip_controls(("bash: no job control in this shell\r\n" + prompt + "".join(KERNEL_LINES[:after])).encode())
    assert prompt_at_end(text), text
    assert not in_doubt(text)


def test_a_kernel_line_cut_short_is_waited_for():
    assert not prompt_at_end("root@(none):/# [   45.12")
    assert prompt_at_end("root@(none):/# [   45.123456] Dazed and confused\n")


@pytest.mark.parametrize("text", [
    "[    1.234567] foo: #\n", "login: ", "azureuser@sercon-debian:~$ ",
    "Give root password for maintenance\n(or press Control-D to continue): ",
    "root@(none):/# ls\nbin  boot  dev\n",
    "##########################################\n# Authorized use only #\n##############", "#####",
])
def test_other_endings_are_no_prompt(text):
    assert not prompt_at_end(text)


def test_no_enter_for_a_passphrase_or_password_prompt():
    assert not in_doubt("web1 # \nPlease unlock disk sda3_crypt: ")
    assert not in_doubt("root@(none):/# \nsomething\nPassword: ")
    assert not prompt_at_end("/dev/sda1: clean\n#\n")  # a lone # and a newline is no prompt


def test_only_the_kernels_words_for_a_missing_init_are_a_refusal():
    unit = "[    5.1] systemd[1]: foo.service: Failed to execute /usr/local/bin/foo: No such file or directory\n"
    udev = "[    3.2] systemd-udevd[99]: Failed to execute '/lib/udev/bar' 'bar': No such file or directory\n"
    assert dead_end(unit + udev, "init=/bin/bash", False) is None
    kernel = "[    2.3] Failed to execute /bin/bash (error -2)\n"
    refusal = dead_end(kernel, "init=/bin/bash", False)
    assert refusal is not None and "/bin/bash" in refusal.message and refusal.retry


def test_a_prompt_with_other_output_after_it_is_in_doubt():
    text = "root@(none):/# \nsome driver said this without a timestamp\n"
    assert in_doubt(text) and not prompt_at_end(text)
    assert not in_doubt("Loading, please wait...\nBegin: Running /scripts/init-top ... done.\n")


def test_systemd_status_lines_are_log_lines():
    assert without_log_lines("[  OK  ] Reached target Emergency Mode.\n:/# ") == ":/# "
    assert prompt_at_end("switch_root:/# [  OK  ] Stopped Journal Service.\n")


@given(st.lists(st.binary(max_size=64), max_size=12), st.sampled_from(PROMPTS),
       st.lists(st.sampled_from(KERNEL_LINES), max_size=4))
@settings(max_examples=300, deadline=None)
def test_any_bytes_before_a_prompt_and_kernel_lines_after_it(noise, prompt, kernel):
    raw = b"".join(noise) + b"\r\n" + prompt.encode() + "".join(kernel).encode()
    assert prompt_at_end(strip_controls(raw))


@given(st.binary(max_size=2048), st.booleans())
@settings(max_examples=300, deadline=None)
def test_the_detectors_take_any_bytes(raw, quiet):
    text = strip_controls(raw)
    assert isinstance(prompt_at_end(text), bool) and isinstance(in_doubt(text), bool)
    assert len(without_log_lines(text)) <= len(text)
    refusal = dead_end(text, "init=/bin/bash", quiet)
    assert refusal is None or refusal.message


@pytest.mark.parametrize(("text", "words", "retry"), [
    ("[    2.1] Kernel panic - not syncing: Attempted to kill init! exitcode=0x00000100\n",
     "the kernel panicked after booting with 'init=/bin/bash': Attempted to kill init!", True),
    ("[    2.1] Run /bin/bash as init process\n[    2.2] Kernel panic - not syncing: Requested init /bin/bash "
     "failed (error -2).\n", "the kernel panicked", True),
    ("Target filesystem doesn't have requested /bin/bash.\n", "the guest has no /bin/bash to run as init", True),
    ("Cannot open access to console, the root account is locked.\n", "root account is locked", True),
    ("[    1.0] Linux version 6.1\n[   3.0] reboot: Restarting system\nSeaBIOS (version 1.16)\n",
     "the machine restarted while booting", True),
    ("error: file `/boot/vmlinuz' not found.\n\nPress any key to continue...", "GRUB did not boot", False),
    ("[    5.0] systemd[1]: Started x\n\nDebian GNU/Linux 12 sercon-debian ttyS0\n\nsercon-debian login: ",
     "booted to its login prompt", True),
])
def test_dead_ends_are_named(text, words, retry):
    refusal = dead_end(text, "init=/bin/bash", True)
    assert refusal is not None and words in refusal.message and refusal.retry is retry


def test_a_panic_is_named_with_its_whole_reason():
    cut = "[    2.1] Kernel panic - not syncing: Attempted to kil"
    assert dead_end(cut, "init=/bin/false", quiet=False) is None  # the rest of the line is on its way
    assert "Attempted to kil" in dead_end(cut, "init=/bin/false", quiet=True).message
    whole = dead_end(cut + "l init! exitcode=0x00000100\n", "init=/bin/false", quiet=False)
    assert whole.message.endswith("Attempted to kill init! exitcode=0x00000100")


def test_a_kernel_error_line_after_the_boot_is_no_grub_error():
    assert dead_end("[    1.0] Linux version 6.1\n[   2.0] ACPI error: something\n", "init=/bin/bash", True) is None
    assert dead_end("sercon-debian login: ", "x", quiet=False) is None  # a login prompt still being drawn
