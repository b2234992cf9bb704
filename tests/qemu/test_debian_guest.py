"""The Debian 12 guest itself (sercon_emulator/debian_guest.py): it boots through its own GRUB to a
serial login, and its user logs in, is in group sudo, and sudo asks for the password, as on Azure."""

from __future__ import annotations

import time

from tests.conftest import run_cli

BOOT = 300  # seconds to the login prompt: TCG takes under a minute, KVM less; a slow CI machine more


def test_boots_through_update_grubs_menu_entry_to_a_serial_login(debian_guest):
    started = time.monotonic()
    end = debian_guest.wait_for(b"sercon-debian login: ", timeout=BOOT)
    print(f"Debian 12 booted to its login prompt in {time.monotonic() - started:.1f} s")
    log = debian_guest.serial_log.read_bytes()[:end]
    assert b"Booting `Debian GNU/Linux'" in log  # GRUB drew on the serial line
    command_line = log[log.index(b"Command line: "):].split(b"\r\n", 1)[0]
    assert b"root=UUID=" in command_line and b"console=ttyS0,115200" in command_line
    assert b"Debian GNU/Linux 12 sercon-debian ttyS0" in log  # systemd's serial getty (agetty)


def test_azureuser_logs_in_is_in_group_sudo_and_sudo_wants_the_password(debian_guest):
    image = debian_guest.debian
    debian_guest.wait_for(b"sercon-debian login: ", timeout=BOOT)

    def send(text: str, expect: str) -> bytes:
        result = run_cli("send", debian_guest.telnet_url, text, "--expect", expect, "--timeout", "60", timeout=90)
        assert result.returncode == 0, (result.stdout[-500:], result.stderr[-500:])
        return result.stdout

    send(image.user, "Password: $")
    send(image.password, rf"{image.user}@{image.hostname}:~\$ $")
    assert b"groups=1000(azureuser),27(sudo)" in send("id", r"\$ $")
    out = send("sudo -n true; echo status=$?", r"status=\d+")
    assert b"a password is required" in out and out.endswith(b"status=1")
