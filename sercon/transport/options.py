"""How a command wants its console opened: one value for devices and Azure VMs alike (its own small
module, so that a device's connect imports nothing of Azure to name it)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class OpenOptions:
    """How a command wants its console.

    *share*: use a `sercon connect` already running on the console (a second Azure session would
    take the console from it; a device would be locked). *force*: a new interactive session may end
    the user's own running one. *checks*: run the prerequisite checks first (`--no-checks` skips
    them). *one_shot*: a control command with no session behind it (admin commands retry refusals).
    """

    share: bool = True
    force: bool = False
    checks: bool = True
    one_shot: bool = False
    timeout: float | None = None  # the command's own deadline for the console to answer (send --timeout)
