"""The api-versions ARM accepts per resource provider, and ARM's two errors for a bad one.

The lists are the PUBLISHED versions (stable and preview) of each provider the emulator serves,
gathered from public sources (docs/emulator.md, "api-version"): a generous union over the
provider's resource types, because refusing a version Azure accepts would be worse than accepting
one it refuses only for some type. The Azure CLI's and sercon's own versions are all in them.
"""

from __future__ import annotations

import re

# Microsoft.SerialConsole: the folders of azure-rest-api-specs specification/serialconsole (azure-protocol.md §2).
SERIAL_CONSOLE = ("2018-05-01", "2018-07-01-preview", "2023-01-01", "2024-07-01")

# Microsoft.Compute: every version the azure-rest-api-specs compute folders, the generated Bicep types
# (Azure/bicep-types-az generated/compute) and learn.microsoft.com's "Microsoft.Compute resource types"
# list name, for VMs, scale sets, disks, galleries and cloud services together.
COMPUTE = (
    "2015-06-15", "2016-03-30", "2016-04-30-preview", "2017-03-30", "2017-09-01", "2017-10-15-preview",
    "2017-12-01", "2018-04-01", "2018-06-01", "2018-09-30", "2018-10-01", "2019-03-01", "2019-04-01",
    "2019-07-01", "2019-11-01", "2019-12-01", "2020-05-01", "2020-06-01", "2020-06-30", "2020-09-30",
    "2020-10-01-preview", "2020-12-01", "2021-03-01", "2021-04-01", "2021-07-01", "2021-08-01", "2021-10-01",
    "2021-11-01", "2021-12-01", "2022-01-03", "2022-03-01", "2022-03-02", "2022-03-03", "2022-04-04",
    "2022-07-02", "2022-08-01", "2022-08-03", "2022-09-04", "2022-11-01", "2023-01-02", "2023-03-01",
    "2023-04-02", "2023-07-01", "2023-07-03", "2023-09-01", "2023-10-02", "2024-03-01", "2024-03-01-preview",
    "2024-03-02", "2024-03-03", "2024-06-01-preview", "2024-07-01", "2024-11-01", "2024-11-04", "2025-01-02",
    "2025-02-01-preview", "2025-04-01",
)

# Microsoft.Storage: the generated Bicep types (Azure/bicep-types-az generated/storage).
STORAGE = (
    "2015-05-01-preview", "2015-06-15", "2016-01-01", "2016-05-01", "2016-12-01", "2017-06-01", "2017-10-01",
    "2018-02-01", "2018-03-01-preview", "2018-07-01", "2018-11-01", "2019-04-01", "2019-06-01",
    "2020-08-01-preview", "2021-01-01", "2021-02-01", "2021-04-01", "2021-06-01", "2021-08-01", "2021-09-01",
    "2022-05-01", "2022-09-01", "2023-01-01", "2023-04-01", "2023-05-01", "2024-01-01", "2025-01-01",
    "2025-06-01", "2025-08-01", "2026-04-01", "2026-06-01", "2026-09-01",
)

# Microsoft.Authorization (permissions, locks, and the rest of the namespace): the authorization and
# resources folders of the Bicep types, azure-mgmt-authorization's API list, and the 2014 preview the
# old permissions documentation used.
AUTHORIZATION = (
    "2014-07-01-preview", "2015-01-01", "2015-06-01", "2015-07-01", "2015-10-01-preview", "2015-11-01",
    "2016-04-01", "2016-09-01", "2016-12-01", "2017-04-01", "2017-06-01-preview", "2017-10-01-preview",
    "2018-01-01-preview", "2018-03-01", "2018-05-01", "2018-05-01-preview", "2018-07-01-preview",
    "2018-09-01-preview", "2019-01-01", "2019-06-01", "2019-09-01", "2020-03-01", "2020-03-01-preview",
    "2020-04-01-preview", "2020-05-01", "2020-07-01-preview", "2020-08-01-preview", "2020-09-01", "2020-10-01",
    "2020-10-01-preview", "2021-01-01-preview", "2021-03-01-preview", "2021-06-01", "2021-07-01",
    "2021-07-01-preview", "2021-11-16-preview", "2021-12-01-preview", "2022-04-01", "2022-04-01-preview",
    "2022-05-01-preview", "2022-06-01", "2022-07-01-preview", "2022-08-01-preview", "2023-04-01", "2024-02-01-preview",
    "2024-04-01", "2024-05-01", "2024-07-01-preview", "2024-09-01-preview", "2025-01-01", "2025-03-01",
    "2025-12-01-preview",
)

PUBLISHED: dict[str, tuple[str, ...]] = {
    "microsoft.serialconsole": SERIAL_CONSOLE,
    "microsoft.compute": COMPUTE,
    "microsoft.storage": STORAGE,
    "microsoft.authorization": AUTHORIZATION,
}

MISSING = ("MissingApiVersionParameter",
           "The api-version query parameter (?api-version=) is required for all requests.")
_PROVIDER = re.compile(r"/providers/([^/]+)", re.I)


def provider_of(path: str) -> str | None:
    """The namespace that serves a path: the last `/providers/<ns>` in it (a nested one wins)."""
    found = _PROVIDER.findall(path)
    return found[-1].lower() if found else None


def supported(provider: str, extra: dict[str, list[str]] | None = None) -> list[str] | None:
    """The versions a provider accepts, newest first; None for a provider the emulator has no list for."""
    extra_here = [v.lower() for k, vs in (extra or {}).items() if k.lower() == provider for v in vs]
    versions = {*PUBLISHED.get(provider, ()), *extra_here}
    return sorted(versions, reverse=True) if versions else None


def problem(path: str, version: str | None, extra: dict[str, list[str]] | None = None) -> tuple[str, str] | None:
    """ARM's (code, message) for a missing or unknown api-version on `path`, or None when it is fine."""
    if not version:
        return MISSING
    provider = provider_of(path)
    versions = supported(provider, extra) if provider else None
    if versions is None or version.lower() in versions:
        return None
    return ("InvalidApiVersionParameter",
            f"The api-version '{version}' is invalid. The supported versions are '{','.join(versions)}'. "
            "Please use one of the supported versions.")
