"""Building the ARM client for a run: the cloud, the credential chain, the trace."""

from __future__ import annotations

from collections.abc import Callable

from sercon.azure.arm import ArmClient
from sercon.azure.auth import build_chain
from sercon.azure.clouds import cloud_for


def arm_client(environ: dict[str, str], cloud: str | None = None, identity: bool = False,
               trace: Callable[[str], None] | None = None, notify: Callable[[str], None] | None = None) -> ArmClient:
    where = cloud_for(cloud, environ)
    return ArmClient(where.arm_endpoint, build_chain(where, environ, identity, notify), where.arm_scope, trace, notify,
                     trust=where.trust)
