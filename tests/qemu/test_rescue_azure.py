"""`sercon rescue` on an emulated Azure VM backed by the QEMU guest behind a real GRUB (hidden menu,
1 s, as Azure's images ship): the reset goes through the gateway's admin command."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from sercon_emulator.grub_image import build_grub_image
from sercon_emulator.server import Emulator
from sercon_emulator.world import World
from tests.conftest import Terminal, cli_env, run_cli, sourced
from tests.qemu.conftest import CACHE, PASSWORD, require_grub_tools
from tests.support.rescue import PARAMETER, assert_root_at, assert_root_shell_with_parameter

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


def test_the_demo_with_grub_is_rescued_from_a_second_window(guest_image, tmp_path):
    """The README's way to try rescue without Azure: `sercon demo --qemu --grub`, then `sercon rescue`
    in another window goes through the demo's session, and the root shell shows in the demo."""
    require_grub_tools()
    runtime = tmp_path / "run"
    runtime.mkdir(mode=0o700)
    env = cli_env(HOME=str(tmp_path), XDG_RUNTIME_DIR=str(runtime), XDG_CACHE_HOME=str(CACHE / "demo-cache"))
    term = Terminal(["demo", "--qemu", "--grub"], env=env, cols=160, rows=40, cwd=str(tmp_path))
    try:
        found = term.wait_raw(rb"in another window: \. (\S+/demo\.env) && /.* rescue -g demo-rg demo-vm",
                              timeout=180)
        term.wait_raw(rb"\[sercon\] connected to demo-rg/demo-vm", timeout=30)
        window2 = {**env, **sourced(Path(found.group(1).decode()))}
        result = run_cli("rescue", "-g", "demo-rg", "demo-vm", "--yes", env=window2, timeout=240)
        err = result.stderr.decode()
        assert result.returncode == 0, err
        assert "through the running sercon connect" in err and "in your running `sercon connect`" in err
        assert_root_at(term, "init=/bin/bash")
        term.send(b"\x1dq")
        assert term.wait_exit() == 0
    finally:
        term.close()
