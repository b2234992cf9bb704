"""An emulated VM's serial port: a command (by default a login prompt and a shell) in a pseudo-terminal.

The command runs in a Sandbox (sandbox.py): never as root, in a throw-away HOME. Runs in the
emulator's asyncio loop. The gateway attaches one WebSocket at a time; output with
nobody attached is dropped, as on a real serial line. Admin commands have visible effects:
SysRq and NMI print what a Linux kernel prints, reset restarts the command.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import signal
import struct
import subprocess
import termios
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from sercon.emulator.sandbox import Sandbox, description, with_controlling_tty

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


class VmConsole:
    """*argv* (or, when it is None, the *login* prompt) in a pty, run in a Sandbox as the VM's user."""

    def __init__(self, argv: list[str] | None = None, login: Login | None = None, rows: int = 24,
                 cols: int = 80) -> None:
        if (argv is None) == (login is None):
            raise ValueError("a VM console runs either a command or the login prompt")
        self.argv, self.login = argv, login
        self.rows, self.cols = rows, cols
        self.listener: Callable[[bytes], None] | None = None
        self.sandbox: Sandbox | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._master: int | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pending = bytearray()
        self._started = time.monotonic()

    def start(self) -> None:
        if self.sandbox is None:  # one throw-away HOME for the VM's life: it outlives resets, as a disk does
            self.sandbox = Sandbox()
        argv, password_fd = self._command()
        master, slave = os.openpty()
        try:
            fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", self.rows, self.cols, 0, 0))
            self.sandbox.give_terminal(slave)
            self._process = subprocess.Popen(
                with_controlling_tty(argv), stdin=slave, stdout=slave, stderr=slave, env=self.sandbox.environment(),
                pass_fds=() if password_fd is None else (password_fd,), **self.sandbox.popen_options())
        except BaseException:
            os.close(master)
            raise
        finally:
            os.close(slave)
            if password_fd is not None:
                os.close(password_fd)
        os.set_blocking(master, False)
        self._master = master
        self._loop = asyncio.get_running_loop()
        self._loop.add_reader(master, self._readable)

    def _command(self) -> tuple[list[str], int | None]:
        """The argv to run, and the read end of a pipe holding the login's password (if it has one)."""
        if self.login is None:
            return list(self.argv), None
        login = self.login
        argv = [*self.sandbox.login_argv(), "--hostname", login.hostname, "--user", login.user,
                "--note", description(self.sandbox.user)]
        if login.allow_empty_password:
            argv.append("--allow-empty-password")
        if not login.password:
            return argv, None
        read, write = os.pipe()
        os.write(write, login.password.encode())  # at most PASSWORD_LIMIT bytes (world.py): never blocks
        os.close(write)
        return [*argv, "--password-fd", str(read)], read

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
        if self.listener is not None:
            self.listener(data)

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
        if self.listener is not None:
            self.listener(f"\r\n[{stamp:12.6f}] {text}\r\n".encode())

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
        if self.listener is not None:
            self.listener(b"\r\n[    0.000000] Linux version 6.1.0-emulated (sercon emulator)\r\n")
        self._started = time.monotonic()
        self.start()

    def stop(self) -> None:
        """Power off for good: the program ends and the throw-away HOME goes."""
        self._end_program()
        if self.sandbox is not None:
            self.sandbox.remove()
            self.sandbox = None

    def _end_program(self) -> None:
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
