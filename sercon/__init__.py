"""sercon: one serial console client for Azure VMs and local serial devices."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sercon.trace import Tracer

__version__ = "0.1.0"

# The wire trace (--trace, SERCON_TRACE) while one is open, set by sercon.trace.start: every hook is
# `if sercon.TRACE is not None: ...`, so with tracing off nothing is imported, formatted or written.
TRACE: Tracer | None = None
