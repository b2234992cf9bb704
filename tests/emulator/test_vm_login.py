"""The emulated VM's login prompt and shell, driven over the real gateway as the official client does.

A VM without a password lets nobody in; as root the shell runs as an unprivileged user; its HOME is a
throw-away folder; Ctrl-C, Ctrl-D and a hang-up at the prompt behave as a getty does (no traceback).
"""

from __future__ import annotations

import getpass
import os
import pwd
import signal
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from sercon_emulator.ptyconsole import PtyConsole
from sercon_emulator.sandbox import python_for, vm_user
from sercon_emulator.world import World
from tests.conftest import Terminal, cli_env, need_program
from tests.emulator.conftest import Stream, world

PASSWORD = "box-password"
AS_ROOT = pytest.mark.skipif(os.geteuid() != 0, reason="only root has privileges to drop: run the suite as root")


def at_login_prompt(vm: Stream) -> None:
    vm.send("\r")  # the banner may have gone out before anyone was attached: ask for a prompt
    vm.expect(rb"login: ")


def log_in(vm: Stream, password: str) -> None:
    vm.send("azureuser\r")
    vm.expect(rb"Password: ")
    vm.send(password + "\r")
    vm.expect(rb":~\$ ")


def console(env, vm: str) -> Stream:
    return Stream(env.session(env.connect(vm)))


def expected_user() -> str:
    return vm_user().name if os.geteuid() == 0 else getpass.getuser()


@pytest.mark.parametrize("password", ["", "azureuser", "box-password"])
def test_a_vm_without_a_password_refuses_every_login(emu, password):
    env = emu(vms=[{"name": "nopw"}])
    vm = console(env, "nopw")
    at_login_prompt(vm)
    for _ in range(2):
        vm.send("azureuser\r")
        vm.expect(rb"Password: ")
        vm.send(password + "\r")
        refused = vm.expect(rb"(.*)nopw login: ")[1]
        assert b"Login incorrect" in refused and b"$ " not in refused


def test_allow_empty_password_lets_an_empty_password_in(emu):
    env = emu(vms=[{"name": "open", "allow_empty_password": True}])
    vm = console(env, "open")
    at_login_prompt(vm)
    log_in(vm, "")
    vm.send("echo in-$((1+1))\r")
    vm.expect(rb"\r\nin-2\r\n")


def test_the_right_password_logs_in_and_a_wrong_one_does_not(emu):
    env = emu(vms=[{"name": "box", "password": PASSWORD}])
    vm = console(env, "box")
    at_login_prompt(vm)
    vm.send("azureuser\r")
    vm.expect(rb"Password: ")
    vm.send("wrong\r")
    assert b"Login incorrect" in vm.expect(rb"(.*)box login: ")[1]
    log_in(vm, PASSWORD)


@AS_ROOT
def test_as_root_the_vm_shell_runs_as_an_unprivileged_user(emu):
    env = emu(vms=[{"name": "box", "password": PASSWORD}])
    vm = console(env, "box")
    at_login_prompt(vm)
    log_in(vm, PASSWORD)
    vm.send('echo "uid=$(id -u) gid=$(id -g) groups=$(id -G | tr " " ,) end"\r')
    found = vm.expect(rb"uid=(\d+) gid=(\d+) groups=([\d,]+) end")
    uid, gid, groups = int(found[1]), int(found[2]), found[3].decode().split(",")
    assert uid != 0 and gid != 0 and "0" not in groups
    assert pwd.getpwuid(uid).pw_name == expected_user()


SPY = """
import errno, os, sys
try:
    os.close(os.open(sys.argv[1], os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK))
    print("opened")
except OSError as exc:
    print("refused", errno.errorcode[exc.errno])
"""


def open_as_vm_user(path: str) -> str:
    """What another process of the VM's user (not one of the VM's own) gets opening *path*."""
    setpriv, user = need_program("setpriv"), vm_user()
    spy = subprocess.run([setpriv, f"--reuid={user.uid}", f"--regid={user.gid}", "--clear-groups",
                          python_for(user), "-I", "-S", "-c", SPY, path], capture_output=True, timeout=30, cwd="/")
    assert spy.returncode == 0, spy.stderr
    return spy.stdout.decode().strip()


def terminal_of(pid: int) -> str:
    path = os.readlink(f"/proc/{pid}/fd/0")
    assert path.startswith("/dev/pts/"), path
    return path


@AS_ROOT
def test_as_root_no_other_process_of_the_vm_user_can_open_the_vms_terminal(emu):
    """The password root's `sercon send` types at the login prompt goes through this terminal: a process
    of `nobody` that could open it could read the password (or type into the shell)."""
    env = emu(vms=[{"name": "box", "password": PASSWORD}])
    vm = console(env, "box")
    at_login_prompt(vm)
    [vm_console] = env.gateway.consoles.values()
    pty = terminal_of(vm_console._process.pid)
    assert open_as_vm_user(pty) == "refused EACCES"
    assert open_as_vm_user(f"/proc/{vm_console._process.pid}/fd/0").startswith("refused")  # nor through /proc
    info = os.stat(pty)
    assert (info.st_uid, stat.S_IMODE(info.st_mode)) == (os.geteuid(), 0o600)
    log_in(vm, PASSWORD)  # the VM's own programs still use it, as their controlling terminal
    vm.send("stty size; tty >/dev/null && echo tty-ok; echo via-dev-tty >/dev/tty\r")
    vm.expect(rb"24 80\r\ntty-ok\r\nvia-dev-tty\r\n")


@AS_ROOT
def test_as_root_no_other_process_of_the_vm_user_can_open_a_local_consoles_terminals():
    with PtyConsole(["/bin/sh", "-c", "sleep 60"], sandboxed=True) as local:
        for path in (local.device_path, terminal_of(local._process.pid)):
            assert open_as_vm_user(path) == "refused EACCES", path


def test_the_vm_home_is_a_throwaway_folder_removed_at_stop(emu):
    env = emu(vms=[{"name": "box", "password": PASSWORD}])
    vm = console(env, "box")
    at_login_prompt(vm)
    log_in(vm, PASSWORD)
    vm.send('echo "home=$HOME entries=$(ls -A "$HOME" | wc -l) path=$PATH end"\r')
    found = vm.expect(rb"home=(\S+) entries=\s*(\d+) path=(\S+) end")
    home = Path(found[1].decode())
    assert home != Path.home() and Path(tempfile.gettempdir()).resolve() in home.parents
    assert int(found[2]) == 0  # fresh: nothing from an earlier run or from the emulator's own user
    info = home.stat()
    assert stat.S_IMODE(info.st_mode) == 0o700
    assert info.st_uid == (vm_user().uid if os.geteuid() == 0 else os.getuid())
    assert found[3].decode() == "/usr/local/bin:/usr/bin:/bin"  # a minimal environment, not the emulator's
    env.emulator.stop()
    assert not home.exists()


def test_ctrl_c_at_the_prompts_prints_a_new_prompt_and_no_traceback(emu):
    env = emu(vms=[{"name": "box", "password": PASSWORD}])
    vm = console(env, "box")
    at_login_prompt(vm)
    vm.send("half-typed\x03")
    vm.expect(rb"\^C\r\nbox login: ")  # the tty echoes ^C (and drops what it had queued); a new prompt
    vm.send("azureuser\r")
    vm.expect(rb"Password: ")
    vm.send("\x03")  # at the password prompt, where echo is off: it must come back on
    vm.expect(rb"box login: ")
    vm.send("echoed\r")
    vm.expect(rb"echoed\r\nPassword: ")
    vm.send(PASSWORD + "\r")  # the user name was "echoed", not azureuser
    vm.expect(rb"Login incorrect\r\n(\r\n)?box login: ")
    log_in(vm, PASSWORD)
    assert b"Traceback" not in vm.seen and b"KeyboardInterrupt" not in vm.seen


def test_ctrl_d_at_the_prompt_ends_the_getty_quietly_and_a_new_one_says_what_it_is(emu):
    env = emu(vms=[{"name": "box", "password": PASSWORD}])
    vm = console(env, "box")
    at_login_prompt(vm)  # any banner that came after attaching is behind us now
    vm.send("\x04")  # EOF: this getty exits, a new one starts (as systemd respawns one)
    found = vm.expect(rb"(.*)Ubuntu 22\.04\.4 LTS box ttyS0\r\n(.*?)\r\n\r\nbox login: ")
    assert b"Traceback" not in found[1]
    assert found[2].decode() == f"emulated VM: a shell as user {expected_user()} in a throw-away home on this machine"


@pytest.mark.parametrize("how", ["hangup", "eof"])
def test_the_login_program_ends_quietly_on_a_hangup_or_eof(tmp_path, how):
    """The login program on its own terminal: a hang-up or EOF ends it with no traceback."""
    term = Terminal([], command=[sys.executable, "-m", "sercon_emulator.login", "--hostname", "h1"],
                    env=cli_env(HOME=str(tmp_path)))
    try:
        term.wait_raw(rb"h1 login: $")
        if how == "hangup":
            term.child.kill(signal.SIGHUP)
        else:
            term.send(b"\x04")
        status = term.wait_exit()
        assert status in (0, 128 + signal.SIGHUP), status
        assert b"Traceback" not in term.raw
    finally:
        term.close()


@pytest.mark.parametrize("vm", [{"name": "box", "allow_empty_password": "false"},
                                {"name": "box", "allow_empty_password": 1},
                                {"name": "box", "password": 1234},
                                {"name": "box", "password": "x" * 5000}])
def test_a_login_key_of_the_wrong_type_fails_at_load(vm):
    """"false" in quotes would be true: an unsafe key must be a real boolean, a password a short string."""
    with pytest.raises(ValueError):
        World(world(vms=[vm]))
    with pytest.raises(ValueError):
        World(world(scale_sets=[{"name": "set1", "instances": [{"id": "0", **vm}]}]))
