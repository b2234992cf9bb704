"""Shared test parts: real pseudo-terminals as devices, the real CLI in a real pty, a pyte screen."""

from __future__ import annotations

import contextlib
import os
import re
import select
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import tty
from pathlib import Path

import pexpect
import pyte
import pytest

ROOT = Path(__file__).resolve().parent.parent
SERCON = [sys.executable, "-m", "sercon"]
# CI sets this: a test that needs a component that is missing fails instead of skipping.
REQUIRE_ALL = os.environ.get("SERCON_REQUIRE_ALL") == "1"
# CI sets this too: the tests marked slow (real time spent on purpose) run; by default they are skipped.
RUN_SLOW = os.environ.get("SERCON_SLOW") == "1"
# Control sockets of this test run, apart from the user's own sessions and from any other test run.
RUNTIME_DIR = tempfile.mkdtemp(prefix="sercon-tests-run-")
# Journals of this test run (sercon/journal/), never in the user's own ~/.local/state.
STATE_DIR = tempfile.mkdtemp(prefix="sercon-tests-state-")


def need_program(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        message = f"{name} is not installed (apt-get install {name}); .ci/run installs it"
        if REQUIRE_ALL:
            pytest.fail(message + " -- SERCON_REQUIRE_ALL=1 forbids skipping")
        pytest.skip("SKIPPED LOUDLY: " + message)
    return path


def sourced(env_file: Path) -> dict[str, str]:
    """What `. env_file` sets (a demo's or an emulator's environment file): `export KEY=VALUE` lines."""
    import shlex

    values = {}
    for line in env_file.read_text().splitlines():
        key, _, value = line.removeprefix("export ").partition("=")
        values[key] = shlex.split(value)[0]
    return values


def cli_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SERCON_")}
    env.update({"SERCON_CONFIG": "/nonexistent/sercon.toml", "PYTHONPATH": str(ROOT), "TERM": "xterm",
                "XDG_RUNTIME_DIR": RUNTIME_DIR, "XDG_STATE_HOME": STATE_DIR})
    env.update(extra)
    return env


class PtyDevice:
    """A pseudo-terminal standing in for a serial device: sercon opens ``path``, the test is the far end."""

    def __init__(self) -> None:
        self.master, self.slave = os.openpty()
        tty.setraw(self.slave)
        self.path = os.ttyname(self.slave)
        self.buffer = bytearray()
        self.pos = 0
        self._cond = threading.Condition()
        self._closed = False
        self._thread = threading.Thread(target=self._pump, daemon=True)
        self._thread.start()

    def _pump(self) -> None:
        while not self._closed:
            try:
                ready, _, _ = select.select([self.master], [], [], 0.1)
                data = os.read(self.master, 65536) if ready else b""
            except OSError:
                if self._closed:
                    return
                time.sleep(0.05)
                continue
            if data:
                with self._cond:
                    self.buffer += data
                    self._cond.notify_all()

    def write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            view = view[os.write(self.master, view):]

    def expect(self, pattern: bytes, timeout: float = 10.0) -> re.Match[bytes]:
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                match = regex.search(self.buffer, self.pos)
                if match:
                    self.pos = match.end()
                    return match
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"device never received {pattern!r}; got {bytes(self.buffer[-300:])!r}")
                self._cond.wait(remaining)

    def wait_for_size(self, size: int, timeout: float) -> bytes:
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self.buffer) < size and time.monotonic() < deadline:
                self._cond.wait(0.5)
            return bytes(self.buffer)

    def close(self) -> None:
        self._closed = True
        self._thread.join()  # before the fds close: a reused fd number must not feed a dead reader
        for fd in (self.master, self.slave):
            with contextlib.suppress(OSError):
                os.close(fd)


@pytest.fixture
def socat_device(tmp_path):
    """A device that can vanish and come back at the same path, as a USB adapter does: (device path,
    peer path, the socat processes, start() to plug it in again)."""
    from tests.support.waiting import wait_for

    socat = need_program("socat")
    dev, peer = tmp_path / "ttyDEV", tmp_path / "ttyPEER"

    def start() -> subprocess.Popen[bytes]:
        proc = subprocess.Popen([socat, f"pty,raw,echo=0,link={dev}", f"pty,raw,echo=0,link={peer}"])
        wait_for(lambda: dev.exists() and peer.exists(), 10, "socat's ptys")
        return proc

    procs = [start()]
    yield dev, peer, procs, start
    for proc in procs:
        proc.terminate()
        proc.wait()


@pytest.fixture
def tiny_disk(tmp_path):
    """A real 64 KiB file system (tmpfs; mounting needs root, as .ci/run has): a disk that fills up."""
    mount = tmp_path / "tiny"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount)], capture_output=True)
    if done.returncode:
        message = f"cannot mount a small tmpfs ({done.stderr.decode().strip()}): the full-disk tests need root"
        if REQUIRE_ALL:
            pytest.fail(message + " -- SERCON_REQUIRE_ALL=1 forbids skipping")
        pytest.skip("SKIPPED LOUDLY: " + message)
    yield mount
    subprocess.run(["umount", str(mount)], check=False)


@pytest.fixture
def device():
    dev = PtyDevice()
    yield dev
    dev.close()


class Terminal:
    """The real CLI in a real pty, its screen kept by pyte."""

    def __init__(self, args: list[str], env: dict[str, str] | None = None, rows: int = 24, cols: int = 80,
                 command: list[str] | None = None, cwd: str | None = None) -> None:
        argv = command or [*SERCON, *args]
        self.child = pexpect.spawn(argv[0], argv[1:], env=env or cli_env(), dimensions=(rows, cols),
                                   timeout=10, cwd=cwd or str(ROOT))
        self.screen = pyte.Screen(cols, rows)
        self.stream = pyte.ByteStream(self.screen)
        self.raw = bytearray()

    def pump(self, timeout: float = 0.1) -> bool:
        """Read what the terminal has within *timeout*; False when nothing came (or it ended)."""
        try:
            data = self.child.read_nonblocking(65536, timeout=timeout)
        except (pexpect.TIMEOUT, pexpect.EOF):
            return False
        self.raw += data
        self.stream.feed(data)
        return True

    def text(self) -> str:
        return "\n".join(line.rstrip() for line in self.screen.display)

    def wait_screen(self, predicate, timeout: float = 10.0, what: str = "") -> None:
        deadline = time.monotonic() + timeout
        while not predicate(self):
            if time.monotonic() > deadline:
                raise AssertionError(f"screen never showed {what}:\n{self.text()}")
            self.pump()

    def wait_text(self, needle: str, timeout: float = 10.0) -> None:
        self.wait_screen(lambda t: needle in t.text(), timeout, repr(needle))

    def send(self, data: bytes | str) -> None:
        self.child.send(data)

    def wait_raw(self, pattern: bytes, timeout: float = 10.0) -> re.Match[bytes]:
        """Wait for bytes in everything the terminal received (pyte drops what it does not draw)."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while not (match := regex.search(self.raw)):
            if time.monotonic() > deadline:
                raise AssertionError(f"terminal never received {pattern!r}:\n{bytes(self.raw[-500:])!r}")
            self.pump()
        return match

    def connected(self) -> Terminal:
        self.wait_text("[sercon] connected to")
        return self

    def wait_exit(self, timeout: float = 10.0) -> int:
        deadline = time.monotonic() + timeout
        while self.child.isalive():
            if time.monotonic() > deadline:
                raise AssertionError(f"sercon did not exit:\n{self.text()}")
            self.pump()
        while self.pump(0.05):  # its last bytes (a restored cursor, say) may still be in the pty
            pass
        self.child.close()
        return self.child.exitstatus if self.child.exitstatus is not None else 128 + self.child.signalstatus

    def close(self) -> None:
        if self.child.isalive():
            self.child.terminate(force=True)
        self.child.close()


@pytest.fixture
def terminal():
    opened: list[Terminal] = []

    def start(*args: str, **kwargs) -> Terminal:
        term = Terminal(list(args), **kwargs)
        opened.append(term)
        return term

    yield start
    for term in opened:
        term.close()


REAL_GUESTS = "tests/qemu/"


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    """xdist hands out work a test file at a time, but the real guests (tests/qemu) all at once, to one
    worker, one after another: they share a built image and each keeps a CPU busy. (xdist's own
    `--dist loadgroup` does not group under pytest 9: the group goes into a node id pytest no longer reads.)"""
    from xdist.scheduler import LoadScopeScheduling

    class RealGuestsTogether(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return REAL_GUESTS if nodeid.startswith(REAL_GUESTS) else nodeid.split("::", 1)[0]

    return RealGuestsTogether(config, log)


def pytest_collection_modifyitems(config, items):
    """The real guests come last: the workers take files in this order, so the guests do not boot while
    three other workers load the same two cores (a guest slowed that much misses its timeouts). The
    slow tests are skipped unless SERCON_SLOW=1 (as .ci/run sets) or `-m` names them."""
    guests = [item for item in items if item.nodeid.startswith(REAL_GUESTS)]
    items[:] = [item for item in items if not item.nodeid.startswith(REAL_GUESTS)] + guests
    if RUN_SLOW or "slow" in (config.getoption("markexpr") or ""):
        return
    skip = pytest.mark.skip(reason="slow on purpose: SERCON_SLOW=1 (as .ci/run sets) or -m slow runs it")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


def run_cli(*args: str, input: bytes | None = None, env: dict[str, str] | None = None,
            timeout: float = 30) -> subprocess.CompletedProcess[bytes]:
    """sercon as a plain subprocess with pipes (no terminal), as in a shell pipeline: for a test that
    needs a real process (signals, closed stdio, a pipe another process writes, a timeout)."""
    return subprocess.run([*SERCON, *args], input=input, capture_output=True, env=env or cli_env(),
                          timeout=timeout, cwd=str(ROOT))


def call_cli(*args: str, input: bytes | None = None, env: dict[str, str] | None = None
             ) -> subprocess.CompletedProcess[bytes]:
    """sercon in this process, `sercon.cli.main(argv, Env(...))`, for a call that needs no terminal:
    stdin, stdout and stderr are real files (no terminal, as with pipes; sys.std* too while it runs),
    the environment goes through Env (os.environ is not touched), and the signal handlers main sets
    are put back. The same result
    as run_cli, without starting a Python (~0.5 s each on a loaded machine)."""
    import signal

    from sercon.cli import main
    from sercon.cli.env import Env
    from sercon.terminal.signals import EXIT_SIGNALS

    handlers = {signum: signal.getsignal(signum) for signum in EXIT_SIGNALS}
    with tempfile.TemporaryDirectory(prefix="sercon-call-") as folder:
        streams = Path(folder)
        (streams / "stdin").write_bytes(input or b"")
        with open(streams / "stdin", encoding="utf-8") as stdin, \
                open(streams / "stdout", "w", encoding="utf-8") as stdout, \
                open(streams / "stderr", "w", encoding="utf-8", errors="backslashreplace") as stderr:
            saved = sys.stdin, sys.stdout, sys.stderr  # click writes some of its own (--version) there
            sys.stdin, sys.stdout, sys.stderr = stdin, stdout, stderr
            try:
                status = main(list(args), Env(stdin, stdout, stderr, dict(env or cli_env())))
            finally:
                sys.stdin, sys.stdout, sys.stderr = saved
                for signum, handler in handlers.items():
                    signal.signal(signum, handler)
        out, err = (streams / "stdout").read_bytes(), (streams / "stderr").read_bytes()
    return subprocess.CompletedProcess(["sercon", *args], status, out, err)


def pytest_terminal_summary(terminalreporter):
    """Say how long the real-kernel tests took (the aim: under 3 minutes on the CI machine)."""
    seconds = sum(report.duration for key in ("passed", "failed") for report in terminalreporter.stats.get(key, [])
                  if "tests/qemu/" in report.nodeid)
    if seconds:
        terminalreporter.write_line(f"QEMU guest tests: {seconds:.1f} s of test time")
