"""`sercon rescue` against a real GRUB under QEMU, over the telnet serial port with QMP for the reset.

GRUB 2.06 from Debian's grub-pc-bin, built into a BIOS image by grub-mkrescue (xorriso), in front
of the test kernel and initramfs; `rdinit=/bin/sh` turns that initramfs into a root shell.
"""

from __future__ import annotations

import re
import time

import pytest

from sercon_emulator.qemu import QemuGuest
from tests.conftest import Terminal, run_cli
from tests.support.rescue import PARAMETER, assert_root_at, assert_root_shell_with_parameter


def rescue(guest: QemuGuest, *args: str) -> Terminal:
    return Terminal(["rescue", guest.telnet_url, "--qmp", guest.qmp_path, "--append", PARAMETER, "--yes", *args],
                    cols=100, rows=30)


def refused_rescue(guest: QemuGuest) -> tuple[int, str]:
    """sercon rescue without a terminal, expected to stop with exit 6: where the guest's log was, stderr."""
    mark = guest.serial_log.stat().st_size if guest.serial_log.exists() else 0
    result = run_cli("rescue", guest.telnet_url, "--qmp", guest.qmp_path, "--append", PARAMETER, "--yes",
                     timeout=120)
    assert result.returncode == 6, result.stderr
    return mark, result.stderr.decode()


@pytest.mark.parametrize("grub_guest", ["menu", "hidden"], indirect=True)
def test_rescue_reaches_a_root_shell_through_grub(grub_guest):
    started = time.monotonic()
    term = rescue(grub_guest)
    try:
        assert_root_shell_with_parameter(term, started)
        text = term.raw.decode(errors="replace")
        assert "GRUB's menu showed" in text and f"added '{PARAMETER}' to the linux line" in text
    finally:
        term.child.close(force=True)


@pytest.mark.parametrize("grub_guest", ["none"], indirect=True)
def test_a_machine_whose_grub_never_shows_on_the_serial_line_fails_clearly(grub_guest):
    # (GRUB's hidden menu with a zero timeout still took the Esc pressed during the reset, here; and
    # SeaBIOS copies a screen-only GRUB onto the serial line. So: no GRUB at all.)
    result = run_cli("rescue", grub_guest.telnet_url, "--qmp", grub_guest.qmp_path, "--append", PARAMETER,
                     "--yes", "--timeout", "60", timeout=120)
    assert result.returncode == 6, result.stderr
    err = result.stderr.decode()
    assert "GRUB's menu never showed" in err and "proactive GRUB configuration" in err
    assert "Traceback" not in err
    assert re.search(r"fix: .*GRUB_TIMEOUT", err)


@pytest.mark.parametrize("grub_guest", ["not-linux"], indirect=True)
def test_no_linux_line_closes_the_editor_unchanged_and_says_so(grub_guest):
    mark, err = refused_rescue(grub_guest)
    assert "no `linux` line in 'Memory test (no linux line)'" in err
    assert "closed GRUB's editor without changes (Esc)" in err
    assert "booted GRUB's highlighted entry unchanged (Enter)" in err  # no one at a terminal to take over
    printed = grub_guest.serial_log.read_bytes()[mark:]
    assert PARAMETER.encode() not in printed  # nothing was typed into the editor
    grub_guest.wait_for(b"not a Linux entry", timeout=20, after=mark)  # the entry ran as it was


@pytest.mark.parametrize("grub_guest", ["hidden"], indirect=True)
def test_no_reset_waits_for_the_users_own_reboot(grub_guest):
    from sercon.transport.qmp import qmp

    grub_guest.wait_for(b"login: ", timeout=90)  # booted through GRUB on its own
    term = Terminal(["rescue", grub_guest.telnet_url, "--no-reset", "--append", PARAMETER], cols=100, rows=30)
    try:
        term.wait_raw(rb"waiting for telnet://\S+ to reboot", timeout=20)
        assert b"reset sent" not in term.raw
        started = time.monotonic()
        qmp(grub_guest.qmp_path, "system_reset")  # the user's own reboot
        assert_root_shell_with_parameter(term, started)
    finally:
        term.child.close(force=True)


@pytest.mark.parametrize("grub_guest", ["password"], indirect=True)
def test_a_password_protected_grub_is_left_booting_normally(grub_guest):
    mark, err = refused_rescue(grub_guest)
    assert "password protected" in err and "booted GRUB's highlighted entry unchanged (Enter)" in err
    grub_guest.wait_for(b"login: ", timeout=90, after=mark)  # it booted as it would have without sercon
    assert PARAMETER.encode() not in grub_guest.serial_log.read_bytes()[mark:]


@pytest.mark.parametrize("grub_guest", ["menu"], indirect=True)
def test_ctrl_c_in_the_editor_discards_the_edit_and_boots_as_before(grub_guest):
    import signal

    term = rescue(grub_guest)
    try:
        term.wait_raw(rb"editing '", timeout=60)
        mark = grub_guest.serial_log.stat().st_size
        grub_guest.wait_for(b"Minimum Emacs-like screen editing", timeout=20, after=max(0, mark - 200))  # in the editor
        term.child.kill(signal.SIGINT)
        assert term.wait_exit(30) == 130
        text = term.raw.decode(errors="replace")
        assert "closed GRUB's editor without changes (Esc)" in text, text
        assert "booted GRUB's highlighted entry unchanged (Enter)" in text and "Traceback" not in text, text
        try:
            grub_guest.wait_for(b"login: ", timeout=90, after=mark)  # not left spinning at GRUB's menu
        except TimeoutError as exc:
            raise AssertionError(f"{text}\n---\n{grub_guest.serial_log.read_bytes()[mark:][-800:]!r}") from exc
    finally:
        term.child.close(force=True)


@pytest.mark.parametrize("grub_guest", ["menu"], indirect=True)
def test_a_bare_rescue_picks_a_mode_that_needs_no_password(grub_guest):
    started = time.monotonic()
    term = Terminal(["rescue", grub_guest.telnet_url, "--qmp", grub_guest.qmp_path, "--yes"], cols=100, rows=30)
    try:
        assert_root_shell_with_parameter(term, started, "init=/bin/bash")
        text = term.raw.decode(errors="replace")
        assert "mode auto: 'init=/bin/bash' first" in text and "refuses it: 'break=premount', then" in text
        assert text.count("reset sent") == 1
    finally:
        term.child.close(force=True)


@pytest.mark.parametrize("grub_guest", ["nobash"], indirect=True)
def test_auto_goes_on_to_the_next_mode_when_the_guest_refuses_one(grub_guest):
    started = time.monotonic()
    term = Terminal(["rescue", grub_guest.telnet_url, "--qmp", grub_guest.qmp_path, "--yes"], cols=100, rows=30)
    try:
        term.wait_raw(rb"the kernel panicked after booting with 'init=/bin/bash': Attempted to kill init", timeout=120)
        term.wait_raw(rb"trying 'break=premount' next \(boot 2 of at most 3", timeout=10)
        assert_root_shell_with_parameter(term, started, "break=premount", timeout=180)
        assert term.raw.count(b"reset sent") == 2
    finally:
        term.child.close(force=True)


@pytest.mark.parametrize("grub_guest", ["menu"], indirect=True)
def test_a_panic_after_ctrl_x_is_named_with_the_next_mode(grub_guest):
    result = run_cli("rescue", grub_guest.telnet_url, "--qmp", grub_guest.qmp_path, "--append", "init=/bin/false",
                     "--yes", timeout=180)
    err = result.stderr.decode()
    assert result.returncode == 6, err
    assert "the kernel panicked after booting with 'init=/bin/false'" in err
    assert re.search(r"fix: sercon rescue again with --mode init", err) and "Traceback" not in err


@pytest.mark.parametrize("grub_guest", ["menu"], indirect=True)
def test_rescue_goes_through_a_running_session(grub_guest):
    session = Terminal(["connect", grub_guest.telnet_url, "--qmp", grub_guest.qmp_path], cols=100, rows=30)
    try:
        session.wait_text("[sercon] connected to", timeout=20)
        result = run_cli("rescue", grub_guest.telnet_url, "--qmp", grub_guest.qmp_path, "--append", PARAMETER,
                         "--yes", timeout=180)
        err = result.stderr.decode()
        assert result.returncode == 0, err
        assert "through the running sercon connect" in err and "in your running `sercon connect`" in err
        assert_root_at(session, PARAMETER)  # the shell is in the session that was there
    finally:
        session.child.close(force=True)
