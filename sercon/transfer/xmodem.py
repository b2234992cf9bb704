"""XMODEM (CRC, 1K, and the checksum fallback) and YMODEM batch senders, as boot loaders and lrzsz receive them.

The receiver drives: it asks with 'C' (CRC-16) or NAK (8-bit checksum), ACKs or NAKs each block, and
cancels with CAN CAN. Nothing is sent before a receiver has asked, so a console without one gets no bytes.
Why this is sercon's own code and not a PyPI package: docs/transfer.md.
"""

from __future__ import annotations

import binascii
import contextlib
import signal
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from sercon.errors import ExpectTimeout, Interrupted, SerconError
from sercon.transfer.link import ByteLink

SOH, STX, EOT, ACK, NAK, CAN, SUB, CRC_START = 0x01, 0x02, 0x04, 0x06, 0x15, 0x18, 0x1A, ord("C")
ABORT = bytes([CAN, CAN])
Progress = Callable[[int, int], object]
Cancel = Callable[[], bool]
FAR_SIDE = ("start the receiver on the far side first, then send: `loadx` (XMODEM) or `loady` (YMODEM) "
            "in U-Boot, `rx -c FILE` (XMODEM) or `rb` (YMODEM) in a shell")
_SLICE = 0.2  # longest wait between looks at `cancel`
_SETTLE = 0.3  # lrzsz flushes its input right after it sends 'C' or ACK: a reply sent at once can be lost
# A receiver may exit as it sends its last ACK and flush it from the line (lrzsz on a tty does): silence this
# long after EOT means done. A receiver still there NAKs sooner: lrzsz's rx/rb wait 5 s or 13 s per block.
END_SILENCE = 15.0
_LAST_WORD = 2.0  # and rb never ACKs the batch's empty block 0: this long for a NAK, not a full timeout
_QUIET = 0.1  # a start request is a 'C' or NAK on a line of its own, then quiet (not the C of "Connecting")


class TransferFailed(SerconError):
    """The transfer stopped before the receiver had everything."""


class ReceiverCancelled(TransferFailed):
    """The receiver said CAN CAN."""


class NoReceiver(ExpectTimeout):
    """Nobody asked for the file: no receiver runs on the far side."""


class TransferCancelled(Interrupted):
    """The user stopped the transfer (Ctrl-C or ``cancel``); the receiver was told with CAN CAN."""

    def __init__(self, sent: int, total: int) -> None:
        super().__init__(int(signal.SIGINT), "Ctrl-C")
        self.message = f"transfer cancelled after {sent} of {total} bytes; the receiver was told to stop (CAN CAN)"
        self.args = (self.message,)


@dataclass
class SendReport:
    """What went over: for a progress line at the end, and for `--json`."""

    protocol: str
    total: int
    bytes_sent: int = 0
    blocks: int = 0
    retransmits: int = 0
    crc: bool = True
    files: list[str] = field(default_factory=list)
    #: False when an EOT met silence, not an ACK: the receiver had every block (each one ACKed) and then left.
    end_acknowledged: bool = True
    seconds: float = 0.0


def block_check(payload: bytes, crc: bool) -> bytes:
    """CRC-16/XMODEM (binascii's crc_hqx from 0), big-endian, or the 8-bit sum of the checksum variant."""
    if crc:
        return binascii.crc_hqx(payload, 0).to_bytes(2, "big")
    return bytes([sum(payload) & 0xFF])


def frame(seq: int, payload: bytes, size: int, crc: bool, pad: int = SUB) -> bytes:
    """One block: SOH (128) or STX (1024), the sequence number and its complement, the padded data, the check."""
    data = payload.ljust(size, bytes([pad]))
    return bytes([SOH if size == 128 else STX, seq & 0xFF, 0xFF - (seq & 0xFF)]) + data + block_check(data, crc)


class _Sender:
    """The sender's state machine over one link; the public functions below wrap it."""

    def __init__(self, link: ByteLink, report: SendReport, progress: Progress | None, cancel: Cancel | None,
                 timeout: float, retries: int) -> None:
        self.link, self.report, self.progress, self.cancel = link, report, progress, cancel
        self.timeout, self.retries = timeout, retries
        self.silent = False  # the last wait for an answer heard nothing at all
        self.receiver_seen = False  # only then may CAN CAN go out: before, the far end may be a shell

    def check_cancel(self) -> None:
        if self.cancel is not None and self.cancel():
            raise KeyboardInterrupt

    def abort(self) -> None:
        """Tell the receiver to stop, if one is there; the link may be gone already."""
        if self.receiver_seen:
            with contextlib.suppress(OSError, SerconError):
                self.link.read(256, _SETTLE)  # lrzsz flushes its input just after an ACK: CANs sent then are lost
                self.link.write(ABORT)

    def wait_start(self, timeout: float, checksum_ok: bool) -> None:
        """Wait for the receiver's first 'C' (or NAK): one on a line of its own, or one sent alone between two
        pauses (``rb`` prints "rb waiting to receive." and, a second later, its C on that line). The C of a
        console's text ("Connecting") comes amid other bytes and does not count."""
        deadline = time.monotonic() + timeout
        line, burst = bytearray(), bytearray()
        while (remaining := deadline - time.monotonic()) > 0:
            self.check_cancel()
            chunk = self.link.read(256, min(_QUIET, remaining))
            burst += chunk
            for byte in chunk:
                if byte == ord("\n"):
                    line.clear()
                elif byte != ord("\r"):
                    line.append(byte)
            if line.endswith(ABORT):
                raise ReceiverCancelled("the receiver cancelled before the transfer began (CAN CAN)", FAR_SIDE)
            if chunk:
                continue
            request = next((bytes(b) for b in (line, burst) if b and all(x in (CRC_START, NAK) for x in b)), None)
            burst.clear()
            if request is not None:
                self.started(CRC_START in request, checksum_ok)
                return
        raise NoReceiver(f"no XMODEM/YMODEM receiver asked for the file within {timeout:g} s", FAR_SIDE)

    def started(self, crc: bool, checksum_ok: bool) -> None:
        self.receiver_seen, self.report.crc = True, crc
        if not crc and not checksum_ok:
            self.abort()
            raise TransferFailed("the receiver asks for checksum XMODEM (NAK); YMODEM needs CRC ('C')",
                                 "start a YMODEM receiver: `loady` in U-Boot, `rb` in a shell")

    def answer(self, wait: float | None = None) -> bool:
        """True on ACK; False on NAK or silence. Other bytes (a late 'C', line noise) are not answers."""
        deadline = time.monotonic() + (self.timeout if wait is None else wait)
        last = None
        self.silent = True
        while (remaining := deadline - time.monotonic()) > 0:
            self.check_cancel()
            got = self.link.read(1, min(_SLICE, remaining))
            if not got:
                continue
            self.silent = False
            if got[0] in (ACK, NAK):
                return got[0] == ACK
            if got[0] == CAN and last == CAN:
                raise ReceiverCancelled(
                    f"the receiver cancelled the transfer (CAN CAN) after {self.report.bytes_sent} of "
                    f"{self.report.total} bytes", "see the far side for why (a file that exists, a full disk, "
                    "Ctrl-C there), then start the receiver and send again")
            last = got[0]
        return False

    def wait_c(self) -> None:
        """YMODEM: the receiver's 'C' that opens a file's data, or the next file's header."""
        deadline = time.monotonic() + self.timeout * self.retries
        last = None
        while (remaining := deadline - time.monotonic()) > 0:
            self.check_cancel()
            got = self.link.read(1, min(_SLICE, remaining))
            if got == b"C":
                self.settle()
                return
            if got and got[0] == CAN and last == CAN:
                raise ReceiverCancelled("the receiver cancelled the transfer (CAN CAN)", FAR_SIDE)
            last = got[0] if got else last
        raise TransferFailed(f"the receiver stopped asking for blocks (no 'C' within {self.timeout * self.retries:g}"
                             " s)", FAR_SIDE)

    def settle(self) -> None:
        """Let the receiver get ready to read (see _SETTLE); what comes meanwhile is a repeated 'C' at most."""
        deadline = time.monotonic() + _SETTLE
        while (remaining := deadline - time.monotonic()) > 0:
            self.check_cancel()
            if self.link.read(64, min(_SLICE, remaining)).endswith(ABORT):
                raise ReceiverCancelled("the receiver cancelled the transfer (CAN CAN)", FAR_SIDE)

    def send(self, packet: bytes, what: str, silence_ends: float | None = None) -> bool:
        """Send until ACKed (True), at most ``retries`` times; then the transfer ends (CAN CAN) with an error.

        ``silence_ends``: that long without any answer means the receiver is done (False): see END_SILENCE."""
        for attempt in range(self.retries):
            if attempt:
                self.report.retransmits += 1
                self.settle()  # right after its NAK the receiver flushes its input: a resend at once is lost
            self.check_cancel()
            self.link.write(packet)
            if self.answer(silence_ends):
                return True
            if silence_ends is not None and self.silent:
                return False
        self.abort()
        raise TransferFailed(f"{what} was refused {self.retries} times in a row (NAK or no answer within "
                             f"{self.timeout:g} s); the receiver was told to stop",
                             "check the line: speed, 8 data bits, no parity, no XON/XOFF flow control "
                             "(it eats bytes of binary data); then start the receiver and send again")

    def send_data(self, data: bytes, big: bool) -> None:
        """The file's blocks from sequence 1; 1 KiB ones while more than 896 bytes remain (less padding)."""
        offset, seq, before = 0, 1, self.report.bytes_sent
        while offset < len(data):
            size = 1024 if big and self.report.crc and len(data) - offset > 896 else 128
            chunk = data[offset:offset + size]
            what = f"block {seq} (bytes {offset} to {offset + len(chunk)})"
            self.send(frame(seq, chunk, size, self.report.crc), what)
            offset, seq = offset + len(chunk), seq + 1
            self.report.blocks += 1
            self.report.bytes_sent = before + offset
            if self.progress is not None:
                self.progress(self.report.bytes_sent, self.report.total)

    def send_eot(self) -> None:
        """EOT until ACKed: lrzsz's receivers (and the YMODEM spec) NAK the first one to be sure."""
        self.settle()
        acked = self.send(bytes([EOT]), "the end of file (EOT)", silence_ends=max(self.timeout, END_SILENCE))
        self.report.end_acknowledged = self.report.end_acknowledged and acked


def _run(sender: _Sender, body: Callable[[], None]) -> SendReport:
    started = time.monotonic()
    try:
        body()
    except KeyboardInterrupt:
        sender.abort()
        raise TransferCancelled(sender.report.bytes_sent, sender.report.total) from None
    except Interrupted:
        sender.abort()
        raise
    sender.report.seconds = time.monotonic() - started
    return sender.report


def send_xmodem(port: ByteLink, data: bytes, *, mode: Literal["crc", "1k"] = "1k", progress: Progress | None = None,
                cancel: Cancel | None = None, start_timeout: float = 60.0, timeout: float = 10.0,
                retries: int = 10) -> SendReport:
    """Send *data* to an XMODEM receiver: 1 KiB blocks ("1k") or 128-byte ones ("crc"), both with CRC-16.

    A receiver that asks with NAK gets 128-byte checksum blocks. XMODEM carries no length: the receiver
    keeps the last block's padding (up to 127 SUB bytes). ``progress(sent, total)`` follows each ACK;
    ``cancel()`` returning True, or Ctrl-C, sends CAN CAN and raises TransferCancelled.
    """
    if mode not in ("crc", "1k"):
        raise ValueError(f"mode must be 'crc' or '1k', not {mode!r}")
    report = SendReport("xmodem", len(data))
    sender = _Sender(port, report, progress, cancel, timeout, retries)

    def body() -> None:
        sender.wait_start(start_timeout, checksum_ok=True)
        sender.send_data(data, big=mode == "1k")
        sender.send_eot()

    return _run(sender, body)


def ymodem_header(name: str, data: bytes, mtime: float | None = None) -> bytes:
    """Block 0's payload: the name, NUL, then the length in decimal and the time in octal (as sz sends them)."""
    if not name or "\0" in name or name.startswith("/"):
        raise ValueError(f"a YMODEM file name must be relative and non-empty: {name!r}")
    stamp = int(time.time() if mtime is None else mtime)
    header = name.encode() + b"\0" + f"{len(data)} {stamp:o}".encode()
    if len(header) > 1024:
        raise ValueError(f"file name too long for YMODEM's block 0: {name[:40]!r}...")
    return header


def send_ymodem(port: ByteLink, files: Sequence[tuple[str, bytes]] | tuple[str, bytes], *,
                progress: Progress | None = None, cancel: Cancel | None = None, start_timeout: float = 60.0,
                timeout: float = 10.0, retries: int = 10) -> SendReport:
    """Send one file or a batch as YMODEM: block 0 with name and length, 1 KiB CRC blocks, EOT, and the
    empty block 0 that ends the batch. The receiver truncates to the length, so files arrive byte-exact."""
    batch = [files] if isinstance(files, tuple) and len(files) == 2 and isinstance(files[0], str) else list(files)
    headers = [ymodem_header(name, data) for name, data in batch]  # bad names fail before anything is sent
    report = SendReport("ymodem", sum(len(data) for _, data in batch))
    sender = _Sender(port, report, progress, cancel, timeout, retries)

    def body() -> None:
        sender.wait_start(start_timeout, checksum_ok=False)
        for (name, data), header in zip(batch, headers, strict=True):
            size = 128 if len(header) <= 128 else 1024
            sender.send(frame(0, header, size, True, pad=0), f"the header of {name}")
            report.files.append(name)
            sender.wait_c()
            sender.send_data(data, big=True)
            sender.send_eot()
            sender.wait_c()
        sender.send(frame(0, b"", 128, True, pad=0), "the end of the batch (empty block 0)", silence_ends=_LAST_WORD)

    return _run(sender, body)
