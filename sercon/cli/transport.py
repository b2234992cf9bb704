"""The one place that picks a transport for a resolved target."""

from __future__ import annotations

from sercon.errors import NotSupported
from sercon.targets import AzureTarget, Target
from sercon.transport.base import Transport


def open_transport(target: Target) -> Transport:
    """Build and open the transport for *target*."""
    if isinstance(target, AzureTarget):
        raise NotSupported(
            f"{target.label!r} looks like an Azure VM, and this build of sercon cannot reach Azure yet",
            "use a local device (/dev/ttyUSB0), a pyserial URL, or a profile that names one",
        )
    from sercon.transport.serial import SerialTransport

    transport = SerialTransport(target.url, target.line)
    transport.open()
    return transport
