"""The README's main job: `sercon demo`, the whole Azure flow against the embedded emulator."""

from __future__ import annotations

import os
import re
from pathlib import Path

from sercon_emulator.qemu import missing_tools
from tests.conftest import Terminal, cli_env, run_cli, sourced

SANDBOX = rb"emulated VM: a shell as user (\S+) in a throw-away home on this machine"




def demo_env(tmp_path: Path) -> dict[str, str]:
    runtime = tmp_path / "run"
    runtime.mkdir(mode=0o700)
    return cli_env(HOME=str(tmp_path), XDG_RUNTIME_DIR=str(runtime), XDG_CACHE_HOME=str(tmp_path / "cache"))


def test_demo_signs_in_checks_and_connects_and_a_second_window_uses_it(tmp_path):
    env = demo_env(tmp_path)
    term = Terminal(["demo"], env=env, cols=160, rows=40, cwd=str(tmp_path))
    try:
        password = term.wait_raw(rb"user azureuser, password (\S+)", timeout=30).group(1)
        term.wait_raw(SANDBOX)
        term.wait_text("permission")  # doctor's table, printed after what the demo says of its VM
        assert (b"--qemu` boots a real kernel" in term.raw) == (not missing_tools())
        assert "fail" not in term.text()
        found = term.wait_raw(rb"in another window: \. (\S+/demo\.env) && (/\S+)")  # an absolute path:
        env_file = Path(found.group(1).decode())  # a fresh shell may not have the venv on its PATH
        assert env_file.stat().st_mode & 0o777 == 0o600
        term.wait_raw(rb"\[sercon\] connected to demo-rg/demo-vm", timeout=30)
        term.wait_raw(rb"demo-vm login: $", timeout=30)
        term.send(b"\x03")  # Ctrl-C at the login prompt: a new prompt, no traceback
        term.wait_raw(rb"\r\ndemo-vm login: $", timeout=10)
        term.send(b"azureuser\r")
        term.wait_raw(rb"Password: ")
        term.send(password + b"\r")
        term.wait_raw(rb"azureuser@demo-vm:~\$ $", timeout=15)
        term.send(b"echo sum=$((40+2))\r")
        term.wait_screen(lambda t: re.search(rb"sum=42", bytes(t.raw)), 15, "sum=42")

        window2 = {**env, **sourced(env_file)}  # another terminal of the same user, after `. demo.env`
        sysrq = run_cli("sysrq", "h", "-g", "demo-rg", "demo-vm", env=window2)
        assert sysrq.returncode == 0, sysrq.stderr
        assert b"using the running `sercon connect`" in sysrq.stderr
        term.wait_raw(rb"sysrq: HELP", timeout=10)
        sent = run_cli("send", "-g", "demo-rg", "demo-vm", "echo uid=$(id -u)", "--expect", r"uid=\d+\r?\n",
                       env=window2)
        assert sent.returncode == 0, sent.stderr
        uid = int(re.findall(rb"uid=(\d+)\r?\n", sent.stdout)[-1])
        assert uid != 0 and (os.geteuid() == 0 or uid == os.getuid())  # never root; else the user's own

        again = run_cli("demo", env=env)  # one demo per user: a second one must not take over this one's file
        assert again.returncode == 9, again.stderr
        assert b"already running" in again.stderr and env_file.exists()
        assert b"password" not in again.stderr and b"emulated at" not in again.stderr  # checked first
        assert re.search(rb"fix: use it from here: \. \S+ && /\S+", again.stderr)  # an absolute sercon

        term.send(b"\x1dq")
        assert term.wait_exit() == 0
        assert b"Traceback" not in term.raw
        assert not env_file.exists()  # its secret dies with the demo
    finally:
        term.close()


def test_local_demo(tmp_path):
    term = Terminal(["demo", "--local"], env=cli_env(HOME=str(tmp_path)), cols=120)
    try:
        term.wait_raw(SANDBOX, timeout=20)
        term.wait_raw(rb"demo\$ ", timeout=20)
        term.send(b"echo local-$((1+1)) uid=$(id -u) home=$HOME\r")
        found = term.wait_raw(rb"local-2 uid=(\d+) home=(\S+)", timeout=10)
        uid = int(found[1])
        assert uid != 0 and (os.geteuid() == 0 or uid == os.getuid())
        assert found[2].decode() != str(tmp_path)  # a throw-away home, not the user's
        term.send(b"\r~.")
        assert term.wait_exit() == 0
        assert not Path(found[2].decode()).exists()
    finally:
        term.close()


def test_the_demo_shows_one_login_prompt_and_says_it_types_the_window_size(tmp_path):
    term = Terminal(["demo"], env=demo_env(tmp_path), cols=160, rows=40, cwd=str(tmp_path))
    try:
        password = term.wait_raw(rb"user azureuser, password (\S+)", timeout=30).group(1)
        # Said before it happens, with the way out: the demo types `stty rows R cols C` into the shell.
        term.wait_raw(rb"demo: --resize auto is on: [^\r\n]*stty rows R cols C[^\r\n]*`sercon demo --resize off`")
        term.wait_raw(rb"demo-vm login: $", timeout=30)
        term.send(b"azureuser\r")  # after anything the demo sent: a second prompt would come before this
        term.wait_raw(rb"Password: $")
        assert term.text().count("login:") == 1, term.text()
        term.send(password + b"\r")
        term.wait_raw(rb"azureuser@demo-vm:~\$ +stty rows 40 cols 160\r\n", timeout=15)  # resize is on
        term.send(b"\x1dq")
        assert term.wait_exit() == 0
    finally:
        term.close()


def test_demo_resize_off_types_nothing(tmp_path):
    term = Terminal(["demo", "--resize", "off"], env=demo_env(tmp_path), cols=160, rows=40, cwd=str(tmp_path))
    try:
        password = term.wait_raw(rb"user azureuser, password (\S+)", timeout=30).group(1)
        term.wait_raw(rb"demo-vm login: $", timeout=30)
        assert b"--resize auto is on" not in term.raw
        term.send(b"azureuser\r")
        term.wait_raw(rb"Password: $")
        term.send(password + b"\r")
        term.wait_raw(rb"azureuser@demo-vm:~\$ $", timeout=15)
        term.send(b"echo typed-$((1+1))\r")
        term.wait_raw(rb"typed-2\r\n")
        assert b"stty" not in term.raw
        term.send(b"\x1dq")
        assert term.wait_exit() == 0
    finally:
        term.close()


def test_doctor_names_the_qemu_guests_own_user(tmp_path):
    """`demo --qemu` logs in as the busybox guest's user: doctor's password-user row must name that one."""
    from sercon.cli.demo import DEMO_GROUP, DEMO_VM, _demo_world
    from sercon_emulator import qemu
    from sercon_emulator.server import Emulator

    user, world = _demo_world("pw", {"kernel": str(tmp_path / "k"), "initrd": str(tmp_path / "i")})
    assert user == qemu.USER
    with Emulator(world) as emulator:  # doctor reads ARM only: no guest is booted
        doctor = run_cli("doctor", "-g", DEMO_GROUP, DEMO_VM, env=cli_env(**emulator.environment()))
    assert doctor.returncode == 0, doctor.stderr
    assert f"password user: password sign-in allowed ({qemu.USER})".encode() in doctor.stdout, doctor.stdout
    assert b"azureuser" not in doctor.stdout
