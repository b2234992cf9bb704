"""An emulated Azure VM backed by a real QEMU guest: the gateway bridged to its telnet serial port,
admin commands done for real (SysRq = BREAK then the key, NMI and reset through QMP)."""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
from collections.abc import Callable
from pathlib import Path

from sercon.transport.qmp import qmp
from sercon.transport.telnet import BRK, IAC, TelnetParser, escape
from sercon_emulator.qemu import GuestImage, QemuGuest


class QemuConsole:
    """Same interface as VmConsole: start, write, listener, sysrq, nmi, reset, stop."""

    def __init__(self, image: GuestImage | None, boot_iso: Path | None = None, disk: Path | None = None) -> None:
        self.folder = tempfile.TemporaryDirectory(prefix="sercon-qemu-vm-")
        self.guest = QemuGuest(image, Path(self.folder.name), boot_iso=boot_iso, disk=disk)
        self.listener: Callable[[bytes], None] | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._parser = TelnetParser()
        self._task: asyncio.Task | None = None
        self.reconnects = 0  # telnet connections to QEMU opened again (for tests that look)

    def start(self) -> None:
        self.guest.start()
        self._task = asyncio.get_running_loop().create_task(self._pump())

    async def _pump(self) -> None:
        """The guest's serial port to the listener, for as long as QEMU runs: a telnet connection that
        ends or fails is opened again (QEMU serves one client at a time, and the readiness probe in
        QemuGuest.start was one), so the console never falls silent for good."""
        while self.guest.process is not None and self.guest.process.poll() is None:
            try:
                reader, self._writer = await asyncio.open_connection("127.0.0.1", self.guest.port)
                self._parser = TelnetParser()
                self._writer.write(self._parser.hello())
                while data := await reader.read(65536):
                    text, replies = self._parser.feed(data)
                    if replies:
                        self._writer.write(replies)
                    if text and self.listener is not None:
                        self.listener(text)
            except OSError:
                pass
            self.reconnects += 1
            await asyncio.sleep(0.1)

    def write(self, data: bytes) -> None:
        if self._writer is not None:
            self._writer.write(escape(data, self._parser.binary_out))

    def sysrq(self, keys: str) -> None:
        for key in keys:
            if self._writer is not None:
                self._writer.write(bytes([IAC, BRK]) + key.encode())

    def nmi(self) -> None:
        qmp(self.guest.qmp_path, "inject-nmi")

    def reset(self) -> None:
        qmp(self.guest.qmp_path, "system_reset")

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
        with contextlib.suppress(Exception):
            if self._writer is not None:
                self._writer.close()
        self.guest.stop()
        self.folder.cleanup()
