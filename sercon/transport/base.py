"""The one small interface every byte pipe (serial device, telnet, Azure gateway) offers."""

from __future__ import annotations

import time

from sercon.errors import NotSupported

# Control actions a transport may support; the escape menu and subcommands ask for these.
BREAK, SYSRQ, NMI, RESET = "break", "sysrq", "nmi", "reset"


class Transport:
    """A bidirectional byte pipe to a console.

    ``read`` returns b"" on timeout and raises ``ConnectionLost`` when the other end is gone.
    ``controls`` says which control actions work, so callers never probe with hasattr.
    """

    controls: frozenset[str] = frozenset()  # a device's depend on its line, so each instance may set its own
    #: Largest write the far end accepts at once (the Azure gateway takes 2048 bytes a frame).
    max_write: int | None = None
    label: str = "?"
    #: Names the console for the control socket: the device's real path, the VM's resource id.
    key: str = ""
    #: Waits between reconnect attempts: the first, and the longest (a local device comes back fast;
    #: each Azure attempt is an ARM call and takes the console from whoever holds it).
    reconnect_first_delay: float = 0.1
    reconnect_backoff: float = 1.0
    #: A Windows guest (Azure knows): no SysRq, and sercon never types shell commands into its SAC.
    windows: bool = False
    #: Refusals in a row (closed before the console answered) after which reconnecting stops; None: never.
    max_refusals: int | None = None

    def open(self) -> None:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def read(self, timeout: float | None) -> bytes:
        raise NotImplementedError

    def write(self, data: bytes) -> None:
        raise NotImplementedError

    def try_write(self, data: bytes) -> int:
        """Write what goes without blocking and return how many bytes went (0: use ``write``).

        Lets the input loop send a keystroke itself, skipping a thread hand-off."""
        return 0

    def drain(self) -> None:
        """Block until written data has left (flow control for paced pastes)."""

    def discard_input(self) -> None:
        """Drop console output that arrived before now (a stale prompt would fool --expect)."""

    def cancel_read(self) -> None:
        """Wake a ``read`` blocked in another thread."""

    @property
    def read_can_wait(self) -> bool:
        """True when ``read(None)`` may block for good: ``cancel_read`` always wakes it, and any
        keep-alive runs on its own deadline. Otherwise the caller polls (an idle wake-up a second)."""
        return False

    def reopen(self) -> None:
        """Reconnect after ``ConnectionLost``; raises while the console is not back yet."""
        raise NotSupported(f"{self.label} cannot reconnect")

    def send_break(self, duration: float = 0.25) -> None:
        raise NotSupported(f"{self.label} cannot send BREAK")

    def sysrq(self, key: str) -> None:
        """Magic SysRq as the Linux serial driver expects it: BREAK, then the key within 5 s."""
        self.send_break()
        time.sleep(0.05)
        self.write(key.encode("ascii"))

    def nmi(self) -> None:
        raise NotSupported(f"{self.label} cannot send an NMI")

    def reset(self) -> None:
        raise NotSupported(f"{self.label} cannot reset the machine")

    def __enter__(self) -> Transport:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
