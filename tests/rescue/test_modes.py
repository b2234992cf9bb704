"""Rescue parameters, and the command's refusals before anything is sent."""

from __future__ import annotations

import pytest

from sercon.errors import UsageError
from sercon.rescue.modes import MODES, auto_modes, initramfs_kind, next_mode, rescue_parameter
from tests.conftest import run_cli


def test_modes_name_their_parameters():
    assert rescue_parameter(None, None) is None  # auto: chosen once GRUB's editor shows the entry
    assert rescue_parameter("auto", None) is None
    assert rescue_parameter("emergency", None) == "systemd.unit=emergency.target"
    assert rescue_parameter("init", None) == "init=/bin/bash"
    assert rescue_parameter(None, " rd.break enforcing=0 ") == "rd.break enforcing=0"
    assert rescue_parameter(None, "console=ttyS0,115200 root=/dev/sda1 x.y=a:b+c@d%e") == \
        "console=ttyS0,115200 root=/dev/sda1 x.y=a:b+c@d%e"
    assert set(MODES) == {"emergency", "single", "init", "premount", "rd.break"}


# The entries as GRUB's editor shows them, from Debian 12's update-grub and from RHEL 9's BLS.
DEBIAN = ["load_video", "insmod gzio", "search --no-floppy --fs-uuid --set=root 0b1c...",
          "echo 'Loading Linux 6.1.0-28-cloud-amd64 ...'",
          "linux /boot/vmlinuz-6.1.0-28-cloud-amd64 root=UUID=0b1c ro console=tty0 console=ttyS0,115200",
          "echo 'Loading initial ramdisk ...'", "initrd /boot/initrd.img-6.1.0-28-cloud-amd64"]
RHEL = ["load_video", "set gfxpayload=keep",
        "linux ($root)/vmlinuz-5.14.0-427.el9.x86_64 root=/dev/mapper/rootvg-rootlv",
        "initrd ($root)/initramfs-5.14.0-427.el9.x86_64.img $tuned_initrd"]


def test_auto_needs_no_password_first_and_follows_the_initramfs():
    assert initramfs_kind(DEBIAN) == "initramfs-tools" and initramfs_kind(RHEL) == "dracut"
    assert auto_modes(DEBIAN) == ["init", "premount", "emergency"]
    assert auto_modes(RHEL) == ["init", "rd.break", "emergency"]
    assert auto_modes(["linux /boot/vmlinuz root=/dev/sda1", "initrd /boot/initrd.gz"]) == ["init", "emergency"]
    scrolled = DEBIAN[:-1]  # the initrd line below the editor's box: the entry's name says
    assert auto_modes(scrolled, "Debian GNU/Linux") == ["init", "premount", "emergency"]
    assert auto_modes(scrolled, "Red Hat Enterprise Linux (5.14.0-427.el9.x86_64) 9.4") == ["init", "rd.break",
                                                                                          "emergency"]
    assert auto_modes(scrolled, "Some other Linux") == ["init", "emergency"]
    chain = auto_modes(DEBIAN)
    assert next_mode(chain, "init=/bin/bash") == "premount"
    assert next_mode(chain, "break=premount") == "emergency"
    assert next_mode(chain, "systemd.unit=emergency.target") is None
    assert next_mode(chain, "rdinit=/bin/sh") == "init"  # an --append of the user's: the first that fits


@pytest.mark.parametrize("text", ["", "   ", "rd.break\x18", "init=/bin/bash\r", "café", "a;halt", "x=$root",
                                  "init='/bin/sh'", "a{b}", "a#b", "a\\b"])
def test_append_must_be_printable_ascii(text):
    with pytest.raises(UsageError):
        rescue_parameter(None, text)


def test_mode_and_append_together_are_refused():
    with pytest.raises(UsageError):
        rescue_parameter("init", "single")


def test_a_target_sercon_cannot_reset_needs_no_reset(device):
    result = run_cli("rescue", device.path, "--yes")
    assert result.returncode == 2
    err = result.stderr.decode()
    assert "sercon cannot reset" in err and "--no-reset" in err and "Traceback" not in err
    assert bytes(device.buffer) == b""  # nothing was sent


def test_bad_append_is_a_usage_error_with_a_fix(device):
    result = run_cli("rescue", device.path, "--no-reset", "--append", "rd.break\x1b[A")
    assert result.returncode == 2
    assert b"fix:" in result.stderr and b"Traceback" not in result.stderr


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "1e308", "0.5"])
def test_a_timeout_that_is_no_deadline_is_refused(device, value):
    result = run_cli("rescue", device.path, "--no-reset", "--timeout", value)
    assert result.returncode == 2, result.stderr
    assert b"--timeout" in result.stderr and b"Traceback" not in result.stderr
    assert bytes(device.buffer) == b""
