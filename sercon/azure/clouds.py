"""Azure clouds: where to sign in and where ARM is, per cloud, with the environment's overrides."""

from __future__ import annotations

from dataclasses import dataclass, field

from sercon.errors import UsageError
from sercon.trust import Trust


@dataclass(frozen=True)
class Cloud:
    name: str
    authority_host: str
    arm_endpoint: str
    arm_resource: str
    trust: Trust = field(default_factory=Trust)  # the CAs every connection to this cloud verifies against

    @property
    def arm_scope(self) -> str:
        # The resource plus "/.default": the public cloud's resource ends in "/", hence the "//" the CLI sends.
        return self.arm_resource + "/.default"

    @property
    def is_microsoft_authority(self) -> bool:
        return self.authority_host in {c.authority_host for c in CLOUDS.values()}


CLOUDS = {
    "AzureCloud": Cloud("AzureCloud", "https://login.microsoftonline.com", "https://management.azure.com",
                        "https://management.core.windows.net/"),
    "AzureUSGovernment": Cloud("AzureUSGovernment", "https://login.microsoftonline.us",
                               "https://management.usgovcloudapi.net", "https://management.core.usgovcloudapi.net/"),
    "AzureChinaCloud": Cloud("AzureChinaCloud", "https://login.chinacloudapi.cn", "https://management.chinacloudapi.cn",
                             "https://management.core.chinacloudapi.cn/"),
}


def cloud_for(name: str | None, environ: dict[str, str]) -> Cloud:
    """The named cloud (default AzureCloud), with AZURE_AUTHORITY_HOST and SERCON_ARM_ENDPOINT applied."""
    base = CLOUDS.get(name or environ.get("SERCON_CLOUD") or "AzureCloud")
    if base is None:
        raise UsageError(f"unknown cloud {name!r}", f"use one of {', '.join(CLOUDS)}")
    authority = environ.get("AZURE_AUTHORITY_HOST", base.authority_host).rstrip("/")
    if not authority.startswith("https://"):
        authority = "https://" + authority
    arm = environ.get("SERCON_ARM_ENDPOINT", base.arm_endpoint).rstrip("/")
    return Cloud(base.name, authority, arm, base.arm_resource, Trust.from_environ(environ))
