"""An emulated VM's serial port: a command (by default a login prompt and a shell) in a pseudo-terminal.

The command runs in a Sandbox (sandbox.py): never as root, in a throw-away HOME. Runs in the
emulator's asyncio loop. The gateway attaches one WebSocket at a time; output with
nobody attached is dropped, as on a real serial line, but for what the console printed before its
first session attached: the console starts at the first connect call, so its first session watches
the machine boot from its first byte (`held` until then). Admin commands have visible effects:
SysRq and NMI print what a Linux kernel prints, reset restarts the command.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import os
import signal
import struct
import subprocess
import termios
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from sercon_emulator.sandbox import Sandbox, description, with_controlling_tty

HELD_LIMIT = 65536  # what the console printed before its first session attached: its last bytes are kept


def account_record(user: str, password: str) -> bytes:
    """One line of the accounts pipe that login.py reads."""
    return json.dumps({"user": user, "password": password}).encode() + b"\n"

SYSRQ_TEXT = {
    "h": "sysrq: HELP : loglevel(0-9) reboot(b) crash(c) terminate-all-tasks(e) memory-full-oom-kill(f) "
         "kill-all-tasks(i) thaw-filesystems(j) sak(k) show-backtrace-all-active-cpus(l) show-memory-usage(m) "
         "nice-all-RT-tasks(n) poweroff(o) show-registers(p) show-all-timers(q) unraw(r) sync(s) "
         "show-task-states(t) unmount(u) show-blocked-tasks(w) dump-ftrace-buffer(z)",
    "s": "sysrq: Emergency Sync", "u": "sysrq: Emergency Remount R/O", "b": "sysrq: Resetting",
    "m": "sysrq: Show Memory", "t": "sysrq: Show State", "w": "sysrq: Show Blocked State",
    "e": "sysrq: Terminate All Tasks", "i": "sysrq: Kill All Tasks", "c": "sysrq: Trigger a crash",
}


@dataclass(frozen=True)
class Login:
    """The default program of a VM's serial port: the login prompt of login.py, then a shell."""

    hostname: str
    user: str = "azureuser"
    password: str | None = field(default=None, repr=False)  # none (or empty): every login is refused...
    allow_empty_password: bool = False  # ...unless this lets an empty password in
    accounts: dict[str, str] = field(default_factory=dict, repr=False)  # users set by the VM access extension


class VmConsole:
    """*argv* (or, when it is None, the *login* prompt) in a pty, run in a Sandbox as the VM's user."""

    def __init__(self, argv: list[str] | None = None, login: Login | None = None, rows: int = 24,
                 cols: int = 80) -> None:
        if (argv is None) == (login is None):
            raise ValueError("a VM console runs either a command or the login prompt")
        self.argv, self.login = argv, login
        self.rows, self.cols = rows, cols
        self._listener: Callable[[bytes], None] | None = None
        self._held: bytearray | None = bytearray()  # None once a first session has attached
        self.sandbox: Sandbox | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._master: int | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.accounts = dict(login.accounts) if login else {}
        self._accounts_pipe: int | None = None  # the write end: new accounts reach a waiting login prompt
        self._pending = bytearray()
        self._started = time.monotonic()

    @property
    def listener(self) -> Callable[[bytes], None] | None:
        """Where the console's output goes: the attached session's queue, or None (then it is dropped)."""
        return self._listener

    @listener.setter
    def listener(self, listener: Callable[[bytes], None] | None) -> None:
        self._listener = listener
        if listener is not None and self._held is not None:
            held, self._held = bytes(self._held), None
            if held:
                listener(held)

    @property
    def held(self) -> bytes:
        """What the console printed before its first session attached (b"" once one has)."""
        return bytes(self._held or b"")

    def _output(self, data: bytes) -> None:
        if self._listener is not None:
            self._listener(data)
        elif self._held is not None:
            self._held += data
            del self._held[:-HELD_LIMIT]

    def start(self) -> None:
        if self.sandbox is None:  # one throw-away HOME for the VM's life: it outlives resets, as a disk does
            self.sandbox = Sandbox()
        argv, fds = self._command()
        master, slave = os.openpty()
        try:
            fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", self.rows, self.cols, 0, 0))
            self.sandbox.give_terminal(slave)
            self._process = subprocess.Popen(
                with_controlling_tty(argv), stdin=slave, stdout=slave, stderr=slave, env=self.sandbox.environment(),
                pass_fds=fds, **self.sandbox.popen_options())
        except BaseException:
            os.close(master)
            self._close_accounts()
            raise
        finally:
            os.close(slave)
            for fd in fds:
                os.close(fd)
        os.set_blocking(master, False)
        self._master = master
        self._loop = asyncio.get_running_loop()
        self._loop.add_reader(master, self._readable)

    def _command(self) -> tuple[list[str], tuple[int, ...]]:
        """The argv to run, and the read ends of the pipes it gets: the password of the VM's own user (if it
        has one), and the accounts of the VM access extension (a pipe that stays open for new ones)."""
        if self.login is None:
            return list(self.argv), ()
        login = self.login
        argv = [*self.sandbox.login_argv(), "--hostname", login.hostname, "--user", login.user,
                "--note", description(self.sandbox.user)]
        if login.allow_empty_password:
            argv.append("--allow-empty-password")
        self._close_accounts()
        accounts, self._accounts_pipe = os.pipe()
        os.set_blocking(self._accounts_pipe, False)
        for user, password in self.accounts.items():  # at most 16 small records (arm_updates.py): never blocks
            os.write(self._accounts_pipe, account_record(user, password))
        argv += ["--accounts-fd", str(accounts)]
        if not login.password:
            return argv, (accounts,)
        read, write = os.pipe()
        os.write(write, login.password.encode())  # at most PASSWORD_LIMIT bytes (world.py): never blocks
        os.close(write)
        return [*argv, "--password-fd", str(read)], (accounts, read)

    def set_account(self, user: str, password: str) -> None:
        """A user created or reset by the VM access extension: the login prompt takes it at its next check.

        A login prompt that has started a shell has closed its end (the write fails: the next prompt gets
        every account when it starts). One that cannot take the record now is restarted, as a getty is.
        """
        self.accounts[user] = password
        if self._accounts_pipe is None:
            return
        record = account_record(user, password)
        try:
            written = os.write(self._accounts_pipe, record)
        except BrokenPipeError:
            self._close_accounts()
            return
        except BlockingIOError:
            written = 0
        if written != len(record) and self._master is not None:
            self._end_program()
            self.start()

    def _close_accounts(self) -> None:
        if self._accounts_pipe is not None:
            os.close(self._accounts_pipe)
            self._accounts_pipe = None

    def _readable(self) -> None:
        try:
            data = os.read(self._master, 65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:  # the command exited: the port goes quiet, like a halted machine
            data = b""
        if not data:  # the getty's shell exited: a new getty starts, as systemd restarts one
            self._loop.remove_reader(self._master)
            if self._master is not None:
                os.close(self._master)
                self._master = None
            self._loop.call_later(0.2, self._respawn)
            return
        self._output(data)

    def _respawn(self) -> None:
        if self._master is None and self._process is not None:
            self._process.wait()
            self.start()

    def write(self, data: bytes) -> None:
        """Queue input for the guest; what its terminal cannot take yet waits (nothing is dropped)."""
        if self._master is None:
            return
        if not self._pending:
            self._loop.add_writer(self._master, self._writable)
        self._pending += data

    def _writable(self) -> None:
        try:
            sent = os.write(self._master, self._pending[:65536]) if self._pending else 0
        except BlockingIOError:
            return
        except OSError:
            sent = len(self._pending)
        del self._pending[:sent]
        if not self._pending:
            self._loop.remove_writer(self._master)

    def emit(self, text: str) -> None:
        """Print as the kernel would: straight onto the console, between whatever the shell prints."""
        stamp = time.monotonic() - self._started
        self._output(f"\r\n[{stamp:12.6f}] {text}\r\n".encode())

    def sysrq(self, keys: str) -> None:
        for key in keys:
            self.emit(SYSRQ_TEXT.get(key, f"sysrq: key {key!r}"))
            if key == "b":
                self.reset(announce=False)

    def nmi(self) -> None:
        self.emit("Uhhuh. NMI received for unknown reason 30 on CPU 0.")
        self.emit("Dazed and confused, but trying to continue")

    def reset(self, announce: bool = True) -> None:
        if announce:
            self.emit("reset requested by the serial console")
        self._end_program()
        self._output(b"\r\n[    0.000000] Linux version 6.1.0-emulated (sercon emulator)\r\n")
        self._started = time.monotonic()
        self.start()

    def stop(self) -> None:
        """Power off for good: the program ends and the throw-away HOME goes."""
        self._end_program()
        if self.sandbox is not None:
            self.sandbox.remove()
            self.sandbox = None

    def _end_program(self) -> None:
        self._close_accounts()
        if self._master is not None:
            with contextlib.suppress(ValueError, OSError, RuntimeError):
                self._loop.remove_reader(self._master)
                self._loop.remove_writer(self._master)
            self._pending.clear()
            os.close(self._master)
            self._master = None
        process, self._process = self._process, None  # no respawn after a stop
        if process is not None and process.poll() is None:
            with contextlib.suppress(ProcessLookupError):  # its session's processes (pgid = pid after setsid)
                os.killpg(process.pid, signal.SIGKILL)
            process.kill()  # setsid may not have run yet
            process.wait()
