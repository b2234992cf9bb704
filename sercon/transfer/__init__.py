"""File transfer to boot loaders and shells that take XMODEM/YMODEM (U-Boot ``loadx``/``loady``, lrzsz ``rx``/``rb``).

A library for ``sercon put --protocol``: it speaks the sender's side over any :class:`ByteLink`,
and :class:`TransportLink` makes one of a sercon Transport. Why sercon has its own: docs/transfer.md.
"""

from __future__ import annotations

from sercon.transfer.link import ByteLink, TransportLink
from sercon.transfer.xmodem import (
    NoReceiver,
    ReceiverCancelled,
    SendReport,
    TransferCancelled,
    TransferFailed,
    send_xmodem,
    send_ymodem,
)

__all__ = ["ByteLink", "NoReceiver", "ReceiverCancelled", "SendReport", "TransferCancelled", "TransferFailed",
           "TransportLink", "send_xmodem", "send_ymodem"]
