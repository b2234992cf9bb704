"""`sercon demo`: try sercon with no account and no hardware, against the embedded Azure emulator.

The demo VM is safe to offer on a shared machine: the emulator is on loopback with secrets of this
run only, and the VM's shell is never root's (an unprivileged user in a throw-away home). The
session opens the same control socket as `sercon connect`, so `sercon sysrq`, `nmi`, `reset` and
`send` work on the demo VM from another window, after `. demo.env` (written in the user's runtime
folder, mode 0600, removed when the demo ends).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import click

from sercon.cli.env import Env
from sercon.errors import UsageError

if TYPE_CHECKING:
    from sercon.targets import AzureTarget
    from sercon_emulator.server import Emulator
    from sercon_emulator.world import World

DEMO_SUBSCRIPTION = "00000000-0000-4000-8000-00000000de40"
DEMO_GROUP, DEMO_VM = "demo-rg", "demo-vm"
RESOURCE_ID = (f"/subscriptions/{DEMO_SUBSCRIPTION}/resourceGroups/{DEMO_GROUP}/providers/Microsoft.Compute/"
               f"virtualMachines/{DEMO_VM}")
ENV_FILE = "demo.env"


@click.command()
@click.option("--local", is_flag=True, help="Skip Azure: a shell on a pseudo-terminal serial line instead.")
@click.option("--qemu", "use_qemu", is_flag=True,
              help="Back the VM with a real Linux guest under QEMU (Debian's cloud kernel, busybox).")
@click.option("--grub", is_flag=True, help="With --qemu: boot the guest through a real GRUB on its serial line, "
              "so `sercon rescue` can be tried on it (from another window).")
@click.option("--resize", type=click.Choice(["auto", "off"]), default="auto", show_default=True,
              help="auto: type `stty rows R cols C` at the shell prompt, after your Enter, when the window size "
                   "changes (as `sercon connect --resize auto`, which is off unless asked).")
@click.pass_obj
def demo(env: Env, local: bool, use_qemu: bool, grub: bool, resize: str) -> int:
    """Try sercon with no account: an emulated Azure VM (a login prompt and a shell on this machine).

    sercon starts its Azure emulator, signs in to it, runs doctor's checks and connects. The VM's
    shell runs as an unprivileged user in a throw-away home. Another window can use the session:
    `. $XDG_RUNTIME_DIR/sercon/demo.env`, then `sercon sysrq h -g demo-rg demo-vm`. With --qemu
    the VM is a real kernel booted under QEMU, so SysRq, NMI and reset act on it for real; with
    --grub too, it boots through GRUB, and `sercon rescue -g demo-rg demo-vm` in another window
    reboots it into a root shell through this session. The demo shows `--resize auto` at work (it
    says so first); `--resize off` types nothing.
    """
    if local:
        if use_qemu or grub:
            raise UsageError("--local has no VM to boot", "drop --local to use --qemu or --grub")
        return _local_demo(env, resize == "auto")
    return _azure_demo(env, use_qemu or grub, grub, resize == "auto")


def _azure_demo(env: Env, use_qemu: bool, grub: bool = False, resize: bool = True) -> int:
    import secrets

    from sercon_emulator import require_extra

    require_extra()  # before any work: `pip install sercon` leaves the emulator's packages out

    from sercon.cli.context import check_rows
    from sercon.cli.render import render_checks
    from sercon.targets import AzureTarget
    from sercon_emulator.server import Emulator

    _refuse_a_second_demo(env)  # before an emulator, a password and a doctor table that would go unused
    password = secrets.token_hex(6)
    user, world = _demo_world(password, _qemu_image(env, password, grub) if use_qemu else None)
    with Emulator(world) as emulator:
        # The emulator's CA is trusted through this run's environment only (sercon/trust.py):
        # os.environ is left alone.
        demo_env = Env(env.stdin, env.stdout, env.stderr, {**env.environ, **emulator.environment()})
        target = AzureTarget(DEMO_VM, DEMO_GROUP, DEMO_SUBSCRIPTION)
        env.info(f"demo: Azure emulated at {emulator.base_url}; VM {DEMO_VM}, user {user}, password {password}")
        for line in [*_what_the_vm_is(use_qemu), *_resize_note(resize)]:
            env.info(f"demo: {line}")
        render_checks(demo_env, target.label, check_rows(demo_env, target, False)[0], False)
        with _second_window(demo_env, emulator) as env_file:
            command = "rescue" if grub else "sysrq h"
            env.info(f"demo: in another window: . {env_file} && {_sercon()} {command} -g {DEMO_GROUP} {DEMO_VM}")
            return _connect(env, demo_env, target, resize)


def _demo_world(password: str, qemu_files: dict[str, str] | None = None) -> tuple[str, World]:
    """The user to log in as, and a world of one VM: the login prompt, or a QEMU guest (*qemu_files*).

    The VM's admin user is the one its console lets in, so doctor's password-user row names it too.
    """
    from sercon_emulator.qemu import USER as GUEST_USER
    from sercon_emulator.world import World

    user = GUEST_USER if qemu_files else "azureuser"
    vm: dict = {"name": DEMO_VM, "password": password, "admin_username": user}
    if qemu_files:
        vm["qemu"] = qemu_files
    return user, World({"subscriptions": [{"id": DEMO_SUBSCRIPTION, "name": "sercon demo", "resource_groups": {
        DEMO_GROUP: {"vms": [vm]}}}]})


def _connect(env: Env, demo_env: Env, target: AzureTarget, resize: bool) -> int:
    """`sercon connect` to the demo VM, control socket included (other windows go through it).

    Nothing is typed to ask for a login prompt: the VM's console starts at this connect, and its
    first session sees it from its first byte (an Enter would give a second prompt)."""
    from sercon.cli.transport import OpenOptions, open_transport
    from sercon.terminal.session import Session, SessionOptions
    from sercon.transport.control import socket_path

    transport = open_transport(target, demo_env, options=OpenOptions(share=False))
    options = SessionOptions(reconnect=True, resize=resize,
                             control_path=socket_path(transport.key, demo_env.environ))
    return Session(transport, env.stdin, env.stdout_fd, options).run()


def _what_the_vm_is(use_qemu: bool) -> list[str]:
    from sercon_emulator.qemu import missing_tools
    from sercon_emulator.sandbox import description, vm_user

    if use_qemu:
        return ["the VM is a real Linux kernel booted under QEMU on this machine"]
    if missing_tools():
        return [description(vm_user())]
    return [description(vm_user()), "`sercon demo --qemu` boots a real kernel instead"]


def _resize_note(resize: bool) -> list[str]:
    """Said before it happens: sercon types into the guest's shell only when the user knows it will."""
    if not resize:
        return []
    return ["--resize auto is on: at the shell prompt, after your Enter, sercon types `stty rows R cols C` "
            "when the window size changes (`sercon demo --resize off` types nothing)"]


@contextlib.contextmanager
def _second_window(demo_env: Env, emulator: Emulator) -> Iterator[Path]:
    """The environment another window needs to reach the demo (`. FILE`), private, gone with the demo."""
    from sercon.transport.control import runtime_dir
    from sercon_emulator.envfile import export_lines, write_private

    path = runtime_dir(demo_env.environ) / ENV_FILE
    _refuse_a_second_demo(demo_env)  # again: one may have started meanwhile; its file stays its own
    write_private(path, export_lines(emulator.environment()))
    try:
        yield path
    finally:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def _refuse_a_second_demo(env: Env) -> None:
    from sercon.errors import DeviceBusy
    from sercon.transport.control import find_session, runtime_dir

    running = find_session(RESOURCE_ID, env.environ)
    if running is not None:
        running.close()
        raise DeviceBusy("a sercon demo of yours is already running",
                         f"use it from here: . {runtime_dir(env.environ) / ENV_FILE} && {_sercon()} send -g "
                         f"{DEMO_GROUP} {DEMO_VM} ... (or sysrq, nmi, reset); or quit it first")


def _sercon() -> str:
    """sercon as another window can run it: a fresh shell may not have the venv's bin on its PATH."""
    import shlex
    import sys

    program = Path(sys.argv[0])
    if program.name == "sercon" and program.exists():
        return shlex.quote(str(program.resolve()))
    return f"{shlex.quote(sys.executable)} -m sercon"


def _qemu_image(env: Env, password: str, grub: bool) -> dict[str, str]:
    from sercon.errors import PreconditionFailed
    from sercon_emulator.qemu import build_image, missing_tools

    missing = missing_tools()
    if missing:
        raise PreconditionFailed(f"--qemu needs {', '.join(missing)}",
                                 "sudo apt-get install qemu-system-x86 busybox-static lz4 (or run `sercon demo`)")
    from sercon.paths import cache_dir

    cache = cache_dir(env.environ) / "guest"
    env.info(f"demo: preparing the guest in {cache} (the first time downloads Debian's cloud kernel)")
    image = build_image(cache, password)
    files = {"kernel": str(image.kernel), "initrd": str(image.initrd)}
    if grub:
        from sercon_emulator.grub_image import build_grub_image, missing_grub_tools

        if missing_grub_tools():
            raise PreconditionFailed(f"--grub needs {', '.join(missing_grub_tools())}",
                                     "sudo apt-get install grub-pc-bin xorriso")
        files["iso"] = str(build_grub_image(image, cache, hidden=False, timeout=5))  # a visible 5 s menu
    return files


def _local_demo(env: Env, resize: bool = True) -> int:
    import shutil

    from sercon.cli.transport import open_transport
    from sercon.targets import SerialTarget
    from sercon.terminal.session import Session, SessionOptions
    from sercon_emulator.ptyconsole import PtyConsole
    from sercon_emulator.sandbox import description

    program = shutil.which("bash") or "/bin/sh"
    argv = [program, "--norc", "-i"] if program.endswith("bash") else [program, "-i"]
    environ = {"PS1": "demo$ ", "TERM": env.environ.get("TERM", "vt100")}
    with PtyConsole(argv, env=environ, sandboxed=True) as pty:
        env.info(f"demo: a shell on the pseudo-terminal {pty.device_path}, standing in for a serial device "
                 f"({description(pty.sandbox.user)})")
        for line in _resize_note(resize):
            env.info(f"demo: {line}")
        transport = open_transport(SerialTarget(pty.device_path), env)
        transport.write(b"\r")  # opening the port discarded the first prompt: ask for a fresh one
        return Session(transport, env.stdin, env.stdout_fd, SessionOptions(reconnect=False, resize=resize)).run()


COMMANDS = (demo,)
