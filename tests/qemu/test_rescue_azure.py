"""`sercon rescue` on an emulated Azure VM backed by the QEMU guest behind a real GRUB (hidden menu,
1 s, as Azure's images ship): the reset goes through the gateway's admin command."""

from __future__ import annotations

import time

import pytest

from sercon.emulator.grub_image import build_grub_image
from sercon.emulator.server import Emulator
from sercon.emulator.world import World
from tests.conftest import Terminal, cli_env
from tests.qemu.conftest import CACHE, PASSWORD, require_grub_tools
from tests.qemu.test_rescue_local import PARAMETER, assert_root_shell_with_parameter

SUB = "00000000-0000-4000-8000-00000000e011"


@pytest.fixture
def azure_grub_vm(guest_image, tmp_path):
    require_grub_tools()
    iso = build_grub_image(guest_image, CACHE, hidden=True, timeout=1)
    world = World({"subscriptions": [{"id": SUB, "resource_groups": {"rg": {"vms": [
        {"name": "gvm", "password": PASSWORD,
         "qemu": {"kernel": str(guest_image.kernel), "initrd": str(guest_image.initrd), "iso": str(iso)}}]}}}]})
    with Emulator(world) as emulator:  # stopping it stops QEMU: GRUB must not sit spinning
        yield cli_env(**emulator.environment(), HOME=str(tmp_path), XDG_RUNTIME_DIR=str(tmp_path))


def test_rescue_of_an_azure_vm_through_the_gateway(azure_grub_vm):
    started = time.monotonic()
    term = Terminal(["rescue", "-g", "rg", "gvm", "--append", PARAMETER, "--yes"], env=azure_grub_vm,
                    cols=100, rows=30)
    try:
        assert_root_shell_with_parameter(term, started)
        assert b"reset sent to rg/gvm" in term.raw
    finally:
        term.child.close(force=True)
