"""What the commands share before they do their own work: the target resolved from the command line,
profile and environment; the ARM client and subscription for an Azure target; doctor's rows.

Its own module so that the command modules and cli/transport.py import it, never each other.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sercon.cli.env import Env
from sercon.cli.options import target_values
from sercon.errors import UsageError

if TYPE_CHECKING:
    from sercon.targets import Target


def resolve(env: Env, target: str | None, options: dict[str, Any]) -> tuple[Target, dict[str, Any]]:
    from sercon.targets import SerialTarget, baud_warning, resolve_target

    resolved, prefs = resolve_target(target, target_values(options), env.environ, env.config)
    if isinstance(resolved, SerialTarget) and not prefs.get("baud_exact") and (
            warning := baud_warning(resolved.line.baud)):
        env.info(f"warning: {warning}")  # a likely typo (11520), said and used: never refused on a guess
    return resolved, prefs


def arm_for(env: Env, cloud: str | None, identity: bool = False):
    from sercon.azure.client import arm_client

    return arm_client(env.environ, cloud, identity, trace=env.info if env.debug else None, notify=env.info)


def azure_vm_context(env: Env, target: Any, identity: bool):
    from sercon.azure.resolve import pick_subscription

    try:
        subscription = pick_subscription(target, env.environ)
    except UsageError as exc:
        if target.profile is None and target.resource_group is None:
            raise _taken_as_vm_name(env, target.name, exc) from exc
        raise
    return arm_for(env, target.cloud, identity), subscription


def _taken_as_vm_name(env: Env, name: str, exc: UsageError) -> UsageError:
    """A bare name and no Azure set up at all: most likely the user meant a device or a profile."""
    return UsageError(
        f"{name!r} is not a device, URL or profile, so it was taken as an Azure VM name, "
        f"and {exc.message}",
        f"a device is a path (/dev/ttyUSB0, ./{name}) or a URL (telnet://HOST:PORT); a profile is a "
        f"[profiles.{name}] table in {env.config.path}; for an Azure VM, {exc.hint}",
    )


def check_rows(env: Env, target: Any, identity: bool) -> tuple[list, Any]:
    """doctor's rows for any target, and the resolution error if the VM could not be found."""
    from sercon.targets import SerialTarget

    if isinstance(target, SerialTarget):
        from sercon.transport.serial import device_diagnosis

        return device_diagnosis(target.url, target.qmp)
    from sercon.azure.doctor import diagnose
    from sercon.azure.known_vms import remember

    arm, subscription = azure_vm_context(env, target, identity)
    report = diagnose(arm, target, subscription)
    if report.vm is not None:
        remember(env.environ, report.vm)  # for the shell's completion of VM names
    return report.rows, report.error
