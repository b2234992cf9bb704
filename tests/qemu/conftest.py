"""Real Linux guests under QEMU, built by the tests: Debian's cloud kernel and a busybox initramfs,
and a whole Debian 12 (systemd, GRUB on the disk) made with debootstrap as Debian's Azure images are.

Need qemu-system-x86, busybox-static, lz4 and apt (for the kernel package), and for Debian 12
debootstrap, fdisk and root; .ci/run installs them and sets SERCON_REQUIRE_ALL=1, which turns a
missing tool into a failure instead of a skip.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from sercon_emulator.debian_guest import build_debian_image, missing_debian_tools
from sercon_emulator.grub_image import build_grub_image, missing_grub_tools
from sercon_emulator.qemu import QemuGuest, build_image, missing_tools
from tests.conftest import REQUIRE_ALL

PASSWORD = "guest-password"
DEBIAN_PASSWORD = "azure-guest-password"
CACHE = Path(os.environ.get("SERCON_GUEST_CACHE", Path.home() / ".cache" / "sercon-test-guest"))


@pytest.fixture(scope="session")
def guest_image():
    require("QEMU tests", missing_tools(), "qemu-system-x86 busybox-static lz4")
    started = time.monotonic()
    image = build_image(CACHE, PASSWORD)
    print(f"guest image ready in {time.monotonic() - started:.1f} s: {image.kernel.name}")
    return image


@pytest.fixture(scope="module")
def guest(guest_image, tmp_path_factory):
    started = time.monotonic()
    vm = QemuGuest(guest_image, tmp_path_factory.mktemp("guest")).start()
    vm.wait_for(b"login: ", timeout=90)
    print(f"guest booted to its login prompt in {time.monotonic() - started:.1f} s")
    yield vm
    vm.stop()


@pytest.fixture
def grub_guest(request, guest_image, tmp_path):
    """The guest behind a real GRUB: "menu" (visible, 30 s) or "hidden" (1 s); "not-linux": a default
    entry with no `linux` line; "password": entries edit only with GRUB's password; "nobash": a guest
    without /bin/bash; "none": no boot loader at all (QEMU loads the kernel), as an image whose GRUB
    never shows on the serial line.

    Function-scoped and killed at the end: GRUB spins a CPU while it waits at its menu."""
    require_grub_tools()
    iso = None
    if request.param != "none":
        hidden, timeout = {"menu": (False, 30), "hidden": (True, 1)}.get(request.param, (False, 30))
        variant = request.param if request.param in ("not-linux", "password", "nobash") else ""
        iso = build_grub_image(guest_image, CACHE, hidden, timeout, variant)
    vm = QemuGuest(guest_image, tmp_path / "grub-guest", boot_iso=iso).start()
    yield vm
    vm.stop()


@pytest.fixture(scope="session")
def debian_image():
    """Debian 12 as on Azure, built once (a few minutes, as root) and then taken from the cache."""
    require("Debian guest tests", missing_debian_tools(), "debootstrap fdisk qemu-system-x86, and run as root")
    started = time.monotonic()
    image = build_debian_image(CACHE, DEBIAN_PASSWORD)
    print(f"Debian 12 image ready in {time.monotonic() - started:.1f} s: {image.disk.name}")
    return image


@pytest.fixture
def debian_guest(debian_image, tmp_path):
    """Debian 12 booting from the power-on (SeaBIOS, GRUB, systemd); telnet serial and QMP, as `guest`.
    `.debian` is its image (user, password, host name). Function-scoped: each test boots it afresh."""
    vm = QemuGuest(None, tmp_path / "debian-guest", disk=debian_image.disk)
    vm.debian = debian_image
    vm.start()
    yield vm
    vm.stop()


def require_grub_tools() -> None:
    require("GRUB tests", missing_grub_tools(), "grub-pc-bin xorriso")


def require(what: str, missing: list[str], packages: str) -> None:
    """Skip loudly without the tools, or fail where SERCON_REQUIRE_ALL=1 (CI) forbids skipping."""
    if missing:
        message = f"{what} need {', '.join(missing)} (apt-get install {packages})"
        if REQUIRE_ALL:
            pytest.fail(message + " -- SERCON_REQUIRE_ALL=1 forbids skipping")
        pytest.skip("SKIPPED LOUDLY: " + message)
