"""A command running behind a pseudo-terminal "serial device", like a getty at the far end of a cable.

Two pseudo-terminals and a bridge between their master sides: the command runs on one as its
controlling terminal (cooked, echoing, as a getty's tty is); the other's slave path is the device a
client opens. Used by `sercon demo --local` and by the tests as a console with a real shell on it.

With *sandboxed*, the command runs as an emulated VM's does (sandbox.py): never as root, in a
throw-away HOME, with a minimal environment (*env* goes on top of it). The device node is the
caller's alone (mode 0600): whoever may write to it types into the shell.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import select
import signal
import struct
import subprocess
import termios
import threading
import tty

from sercon_emulator.sandbox import Sandbox, with_controlling_tty


class PtyConsole:
    def __init__(self, argv: list[str], env: dict[str, str] | None = None, rows: int = 24, cols: int = 80,
                 sandboxed: bool = False) -> None:
        self.argv = argv
        self.env = env
        self.rows, self.cols = rows, cols
        self.sandboxed = sandboxed
        self.sandbox: Sandbox | None = None  # made by start()
        self.device_path = ""
        self._process: subprocess.Popen[bytes] | None = None
        self._fds: list[int] = []
        self._stop_r, self._stop_w = os.pipe()
        self._thread: threading.Thread | None = None

    def start(self) -> PtyConsole:
        if self.sandboxed:
            self.sandbox = Sandbox()
        device_master, device_slave = os.openpty()
        tty.setraw(device_slave)  # a serial line: no echo, no line editing on the client's side
        os.fchmod(device_slave, 0o600)
        shell_master, shell_slave = os.openpty()
        fcntl.ioctl(shell_slave, termios.TIOCSWINSZ, struct.pack("HHHH", self.rows, self.cols, 0, 0))
        self.device_path = os.ttyname(device_slave)
        options: dict = {"env": self.env, "close_fds": True}
        if self.sandbox is not None:
            self.sandbox.give_terminal(shell_slave)
            options.update(self.sandbox.popen_options(), env=self.sandbox.environment(self.env))
        try:
            self._process = subprocess.Popen(with_controlling_tty(self.argv), stdin=shell_slave, stdout=shell_slave,
                                             stderr=shell_slave, **options)
        except BaseException:
            for fd in (device_master, device_slave, shell_master):
                os.close(fd)
            if self.sandbox is not None:
                self.sandbox.remove()
            raise
        finally:
            os.close(shell_slave)
        # Keep the device slave open: a pty whose slave nobody holds reports EIO to its master.
        self._fds = [device_master, device_slave, shell_master]
        self._thread = threading.Thread(target=self._bridge, args=(device_master, shell_master), daemon=True)
        self._thread.start()
        return self

    def _bridge(self, device: int, shell: int) -> None:
        peers = {device: shell, shell: device}
        while True:
            ready, _, _ = select.select([device, shell, self._stop_r], [], [])
            if self._stop_r in ready:
                return
            for fd in ready:
                try:
                    data = os.read(fd, 65536)
                except OSError:  # the command exited (EIO), or the device side hung up
                    return
                if not data:
                    return
                with contextlib.suppress(OSError):
                    os.write(peers[fd], data)

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def stop(self) -> None:
        os.write(self._stop_w, b"x")
        if self._process is not None and self._process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self._process.pid, signal.SIGHUP)
            try:
                self._process.wait(timeout=3)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self._process.pid, signal.SIGKILL)
                self._process.kill()  # setsid may not have made its group yet
                self._process.wait()
        if self._thread is not None:
            self._thread.join(timeout=2)
        for fd in [*self._fds, self._stop_r, self._stop_w]:
            with contextlib.suppress(OSError):
                os.close(fd)
        self._fds = []
        if self.sandbox is not None:
            self.sandbox.remove()
            self.sandbox = None

    def __enter__(self) -> PtyConsole:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
