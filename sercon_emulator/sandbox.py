"""Where an emulated VM's programs run: as whom, in which throw-away folder, with which environment.

An emulated VM's shell is a real shell on this machine. Run by root, it must not be root's: its
programs run as an unprivileged user (`sercon-vm` when the machine has one, else `nobody`), with no
supplementary groups, in a throw-away HOME removed when the VM stops, with a minimal environment.
Run by anyone else, they run as that user, still in a throw-away HOME.

The privileges are dropped by subprocess itself (`user=`, `group=`, `extra_groups=[]`), never in a
preexec_fn (unsafe in a threaded process); util-linux's `setsid --ctty` gives the program its own
session with the pty as controlling terminal (what a getty's terminal is).
"""

from __future__ import annotations

import functools
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from sercon.errors import PreconditionFailed

VM_USERS = ("sercon-vm", "nobody")  # a dedicated user when the machine has one, else nobody
SAFE_PATH = "/usr/local/bin:/usr/bin:/bin"
LOGIN_PROGRAM = Path(__file__).with_name("login.py")


class SandboxError(PreconditionFailed):
    """An emulated VM's program cannot be run safely here (no unprivileged user, no setsid, no Python)."""


@dataclass(frozen=True)
class VmUser:
    name: str
    uid: int
    gid: int

    @property
    def is_other(self) -> bool:
        """Another user than the one running the emulator: privileges are dropped to it."""
        return self.uid != os.geteuid()


def vm_user() -> VmUser:
    """Who an emulated VM's programs run as: the emulator's own user, or an unprivileged one for root."""
    if os.geteuid() != 0:
        entry = pwd.getpwuid(os.geteuid())
        return VmUser(entry.pw_name, entry.pw_uid, os.getegid())
    for name in VM_USERS:
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            continue
        if entry.pw_uid != 0 and entry.pw_gid != 0:
            return VmUser(entry.pw_name, entry.pw_uid, entry.pw_gid)
    raise SandboxError(f"no unprivileged user ({' or '.join(VM_USERS)}) to run emulated VMs as",
                       "create a user sercon-vm (useradd --system sercon-vm)")


def description(user: VmUser) -> str:
    """What an emulated VM is, for its banner and the demo's."""
    return f"emulated VM: a shell as user {user.name} in a throw-away home on this machine"


def with_controlling_tty(argv: list[str]) -> list[str]:
    """*argv* in a session of its own whose controlling terminal is its stdin (a pty)."""
    setsid = shutil.which("setsid", path=SAFE_PATH)
    if setsid is None:
        raise SandboxError("emulated VMs need setsid", "apt-get install util-linux")
    return [setsid, "--ctty", *argv]


@functools.cache
def python_for(user: VmUser) -> str:
    """An interpreter *user* can run: this one, or the system's when this one is out of its reach
    (a pyenv or virtualenv under /root). The login program needs the standard library only."""
    candidates = [sys.executable, os.path.realpath(sys.executable), getattr(sys, "_base_executable", ""),
                  shutil.which("python3", path=SAFE_PATH) or ""]
    if not user.is_other:
        return sys.executable
    for candidate in dict.fromkeys(c for c in candidates if c):
        try:
            subprocess.run([candidate, "-I", "-S", "-c", ""], check=True, timeout=30, capture_output=True,
                           cwd="/", env={"PATH": SAFE_PATH}, user=user.uid, group=user.gid, extra_groups=[])
        except (OSError, subprocess.SubprocessError):
            continue
        return candidate
    raise SandboxError(f"no Python that user {user.name} may run for the emulated login prompt",
                       "install the system's python3 (apt-get install python3-minimal)")


class Sandbox:
    """One emulated machine's throw-away folder: a HOME owned by the VM user, and the login program.

    The folder (mode 0755, owned by the emulator's user) holds `login.py`, which the VM user may
    read but not change, and `home/` (mode 0700, owned by the VM user). `remove()` deletes it all.
    """

    def __init__(self, user: VmUser | None = None) -> None:
        self.user = user or vm_user()
        self.root = Path(tempfile.mkdtemp(prefix="sercon-vm-"))
        self.root.chmod(0o755)
        self.home = self.root / "home"
        self.home.mkdir(mode=0o700)
        if self.user.is_other:
            os.chown(self.home, self.user.uid, self.user.gid)
        self._login: Path | None = None

    def environment(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        """A minimal environment: nothing of the emulator's own (no secrets, no PATH into /root)."""
        return {"PATH": SAFE_PATH, "HOME": str(self.home), "LANG": "C.UTF-8", "TERM": "vt220", **(extra or {})}

    def popen_options(self) -> dict:
        """Popen keywords that run a program as the VM user, in its HOME."""
        options: dict = {"cwd": str(self.home), "close_fds": True}
        if self.user.is_other:
            options.update(user=self.user.uid, group=self.user.gid, extra_groups=[])
        return options

    def give_terminal(self, fd: int) -> None:
        """The pty the program runs on stays the emulator's own, mode 0600: not handed to the VM user as
        login(1) hands a user their tty. The program needs no more: it holds the pty open (its stdin,
        stdout, stderr and controlling terminal, which /dev/tty reaches too). Handed over, any other
        process of that user (`nobody` is shared) could open it by name and read what is typed at the
        login prompt, the password root's `sercon send` types included."""
        os.fchown(fd, os.geteuid(), -1)
        os.fchmod(fd, 0o600)

    def login_argv(self) -> list[str]:
        """The login program, run by an interpreter the VM user can run, from a copy it can read."""
        if self._login is None:
            self._login = self.root / "login.py"
            self._login.write_bytes(LOGIN_PROGRAM.read_bytes())
            self._login.chmod(0o644)
        return [python_for(self.user), "-I", "-S", str(self._login)]

    def remove(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)
