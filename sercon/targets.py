"""Target resolution: the TARGET argument, SERCON_TARGET, or the config default, through profiles.

Pure functions over the arguments, the environment and the config; no device or network I/O
(but a stat of /dev/NAME for a bare NAME, to say "did you mean /dev/NAME?").
Precedence for settings: built-in defaults < profile < command line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sercon.azure_names import valid, valid_vm_spec
from sercon.choices import FLOWS, PARITIES, STANDARD_BAUDS
from sercon.errors import TargetNotFound, UsageError

if TYPE_CHECKING:
    from sercon.config import Config
LINE_KEYS = ("baud", "databits", "parity", "stopbits", "flow", "qmp")
AZURE_KEYS = ("resource_group", "name", "subscription", "instance_id", "cloud")

# Patterns are compiled on first use (re caches them), so `sercon --help` does not pay for them.
_URL = r"(?i)^[a-z][a-z0-9+.-]*://"
_COM = r"(?i)^COM\d+$"
# HOST:PORT with no scheme (`127.0.0.1:4555`, `[::1]:4555`): a URL whose scheme was left out.
_HOST_PORT = r"^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?):\d{1,5}\Z"
# The names serial drivers give their devices: a bare one is the device, plugged in or not.
_SERIAL_NAME = r"^(?:tty(?:USB|ACM|S|AMA|THS|SAC|mxc|XRUSB|GS|LP|O)\d+|rfcomm\d+|cu\.[\w.-]+)\Z"
TYPO_CUTOFF = 0.8  # difflib ratio: boardd~board 0.91, baord~board 0.8; web2~web1 (0.75) is another name
_RESOURCE_ID = (
    r"(?i)^/subscriptions/(?P<sub>[^/\s]+)/resourceGroups/(?P<rg>[^/\s]+)/providers/Microsoft\.Compute/"
    r"(?:virtualMachines/(?P<vm>[^/\s]+)|virtualMachineScaleSets/(?P<set>[^/\s]+)/virtualMachines/(?P<iid>[^/\s]+))\Z"
)


@dataclass(frozen=True)
class LineSettings:
    baud: int = 115200
    databits: int = 8
    parity: str = "N"
    stopbits: float = 1
    flow: str = "none"

    def describe(self) -> str:
        stop = int(self.stopbits) if float(self.stopbits).is_integer() else self.stopbits
        flow = "" if self.flow == "none" else f" {self.flow}"
        return f"{self.baud} {self.databits}{self.parity}{stop}{flow}"


@dataclass(frozen=True)
class SerialTarget:
    """A local device path, COM port, or pyserial URL."""

    url: str
    line: LineSettings = field(default_factory=LineSettings)
    profile: str | None = None
    qmp: str | None = None  # a local QEMU VM's QMP socket: NMI, reset, and BREAK when the line cannot

    @property
    def label(self) -> str:
        return self.url


@dataclass(frozen=True)
class AzureTarget:
    """An Azure VM or scale-set instance, as named by the user (resolved against ARM later)."""

    name: str
    resource_group: str | None = None
    subscription: str | None = None
    instance_id: str | None = None
    cloud: str | None = None
    profile: str | None = None

    @property
    def label(self) -> str:
        suffix = f"/{self.instance_id}" if self.instance_id else ""
        return f"{self.resource_group + '/' if self.resource_group else ''}{self.name}{suffix}"


Target = SerialTarget | AzureTarget


def is_local(spec: str) -> bool:
    """A device path, a COM port or a URL (as opposed to a profile or an Azure name)."""
    if spec.startswith("/"):
        return not spec.lower().startswith("/subscriptions/")
    return spec.startswith(("./", "../")) or bool(re.match(_URL, spec) or re.match(_COM, spec))


def default_target(environ: dict[str, str], config: Config) -> str | None:
    """SERCON_TARGET, else `default` in the config file."""
    return environ.get("SERCON_TARGET") or config.default


def names_a_target(word: str, config: Config) -> bool:
    """A device, URL, profile or resource ID: certainly a TARGET, never TEXT."""
    return is_local(word) or word in config.profiles or bool(re.match(_RESOURCE_ID, word))


def split_send_args(
    args: tuple[str, ...], options: dict[str, Any], environ: dict[str, str], config: Config
) -> tuple[str | None, tuple[str, ...]]:
    """`sercon send [TARGET] [TEXT...]`: which positional is the TARGET (docs/commands.md, "send").

    -t/--target or -n/--name name the target: every positional is TEXT. Else the first positional
    is the TARGET when it is a device, URL, profile or resource ID, or, with no default target, when
    it is anything at all. With a default target (SERCON_TARGET, `default`), a first positional that
    cannot be a VM name (`uname -a`, `-`) makes every positional TEXT; a plausible VM name stays the
    TARGET, so a mistake ends in "not found" and never types a word into the default console.
    """
    if options.get("target") or options.get("name"):
        return options.get("target"), args
    if not args:
        return None, ()
    first, rest = args[0], args[1:]
    _check_host_port(first)  # never typed into the default console either: it was meant as the target
    if first != "-" and (names_a_target(first, config) or valid_vm_spec(first)):
        return first, rest
    if default_target(environ, config):
        return None, args
    if first == "-":
        return None, args  # resolve_target says that no target was given
    raise UsageError(
        f"no target given: {first!r} is not a device, URL, profile or VM name",
        f"name the target first (sercon send /dev/ttyUSB0 {_quote(first)}) or with -t TARGET, "
        "or set SERCON_TARGET or `default = \"NAME\"` in the config file",
    )


def _quote(text: str) -> str:
    import shlex

    return shlex.quote(text)


def resolve_target(
    spec: str | None, options: dict[str, Any], environ: dict[str, str], config: Config
) -> tuple[Target, dict[str, Any]]:
    """Pick the target and return it with the profile's session preferences (escape, log, ...)."""
    if not spec and not options.get("name"):
        spec = default_target(environ, config)
    named_as_azure = any(options.get(k) for k in AZURE_KEYS) and not (spec and is_local(spec))
    spec = spec or options.get("name")
    if not spec:
        raise UsageError(
            "no target given",
            "name one: `sercon connect /dev/ttyUSB0` (or a URL, a profile, an Azure VM), "
            "or set SERCON_TARGET, or `default = \"NAME\"` in the config file",
        )
    profile: dict[str, Any] = {}
    profile_name = None
    if not is_local(spec) and spec in config.profiles:
        profile_name, profile = spec, dict(config.profiles[spec])
        spec = profile.pop("device", None) or profile.pop("url", None)
        if spec is None and "name" not in profile:
            raise UsageError(
                f"profile {profile_name!r} names no device, url or Azure VM",
                f"add `device = \"/dev/ttyUSB0\"` or `name = \"vm\"` under [profiles.{profile_name}]",
            )
    elif spec and not is_local(spec) and not named_as_azure:
        _check_typo(spec, config)
        _check_device_name(spec)
        _check_host_port(spec)
    merged = {**profile, **{k: v for k, v in options.items() if v is not None}}
    prefs = {k: v for k, v in merged.items() if k not in LINE_KEYS + AZURE_KEYS}
    if spec is not None and is_local(spec):
        return SerialTarget(spec, _line_settings(merged), profile_name, merged.get("qmp")), prefs
    return _azure_target(spec, merged, profile_name), prefs


def _check_typo(spec: str, config: Config) -> None:
    """A bare name close to a profile's is a typo, not an Azure VM (say `-n NAME` for the VM)."""
    if "/" in spec or not config.profiles:
        return
    lowered = {name.lower(): name for name in config.profiles}
    import difflib  # only for a name that matched nothing

    close = difflib.get_close_matches(spec.lower(), list(lowered), n=1, cutoff=TYPO_CUTOFF)
    if close:
        raise TargetNotFound(
            f"no profile or device named {spec!r}; did you mean {lowered[close[0]]!r}?",
            f"profiles are in {config.path or 'the config file'}; if {spec!r} is an Azure VM, "
            f"name it with -n {spec} (and -g RESOURCE_GROUP)",
        )


def _check_device_name(spec: str) -> None:
    """`ttyUSB0` for /dev/ttyUSB0 (a terminal there, or a serial driver's usual name): the device, not
    an Azure VM (one of that name is named with -n). A stat of /dev/NAME, nothing opened."""
    from sercon.lines import tty_kind

    path = f"/dev/{spec}"
    there = tty_kind(path) in ("serial", "pty", "other")
    if not there and not re.match(_SERIAL_NAME, spec):
        return
    raise TargetNotFound(
        f"no profile or device named {spec!r}; did you mean {path!r}?" + ("" if there else " (it is not there now)"),
        ("" if there else "plug it in and check `sercon list`; ") + f"a device is named by its path: {path}; "
        f"if {spec!r} is an Azure VM, name it with -n {spec} (and -g RESOURCE_GROUP)",
    )


def _check_host_port(spec: str) -> None:
    if re.match(_HOST_PORT, spec):
        raise UsageError(
            f"{spec!r} is not a target: a URL needs its scheme; did you mean telnet://{spec}?",
            f"a console server, ser2net or QEMU's `-serial telnet:...` is telnet://{spec}; "
            f"a raw TCP port that speaks no telnet is socket://{spec}",
        )


def _line_settings(values: dict[str, Any]) -> LineSettings:
    parity = str(values.get("parity", "N"))
    parity = PARITIES.get(parity.lower(), parity.upper())
    if parity not in PARITIES.values():
        raise UsageError(f"unknown parity {values['parity']!r}", f"use one of {', '.join(PARITIES)}")
    flow = values.get("flow", "none")
    if flow not in FLOWS:
        raise UsageError(f"unknown flow control {flow!r}", f"use one of {', '.join(FLOWS)}")
    databits = int(values.get("databits", 8))
    if databits not in (5, 6, 7, 8):
        raise UsageError(f"data bits must be 5, 6, 7 or 8, not {databits}")
    stopbits = float(values.get("stopbits", 1))
    if stopbits not in (1, 1.5, 2):
        raise UsageError(f"stop bits must be 1, 1.5 or 2, not {values['stopbits']}")
    baud = int(values.get("baud", 115200))
    if baud <= 0:
        raise UsageError(f"baud rate must be positive, not {baud}")
    return LineSettings(baud, databits, parity, stopbits, flow)


def baud_warning(baud: int) -> str | None:
    """The warning for a rate that is no standard one (None for a standard one), naming the rate it
    most likely mistypes (a digit missing, extra, wrong or swapped), else the nearest."""
    if baud in STANDARD_BAUDS:
        return None
    import math

    typed = str(baud)
    typos = [rate for rate in STANDARD_BAUDS if _one_edit(typed, str(rate))]
    nearest = min(typos or STANDARD_BAUDS, key=lambda rate: abs(math.log(baud / rate)))
    return (f"{baud} baud is not a standard rate; did you mean {nearest}? (it is used as given; --baud-exact, or "
            "baud_exact = true in the profile, says it is meant)")


def _one_edit(a: str, b: str) -> bool:
    """*a* and *b* differ by one inserted, deleted or changed character, or two neighbours swapped."""
    if abs(len(a) - len(b)) > 1 or a == b:
        return False
    if len(a) == len(b):
        diff = [i for i in range(len(a)) if a[i] != b[i]]
        return len(diff) == 1 or (len(diff) == 2 and diff[1] == diff[0] + 1 and a[diff[0]] == b[diff[1]]
                                  and a[diff[1]] == b[diff[0]])
    short, long = sorted((a, b), key=len)
    return any(long[:i] + long[i + 1:] == short for i in range(len(long)))


def _azure_target(spec: str | None, values: dict[str, Any], profile: str | None) -> AzureTarget:
    """The VM (NAME, SET/ID, or a resource ID), its names checked by Azure's rules (sercon.azure_names)."""
    name = spec or values.get("name")
    instance_id = values.get("instance_id")
    subscription, resource_group = values.get("subscription"), values.get("resource_group")
    if name and (match := re.match(_RESOURCE_ID, name)):
        name, instance_id = match["vm"] or match["set"], match["iid"]
        subscription, resource_group = match["sub"], match["rg"]
    elif name and "/" in name:
        name, _, instance_id = name.partition("/")
    if not name or not valid("VM or scale-set name", name) or (
            instance_id is not None and not valid("instance id", str(instance_id))):
        raise UsageError(
            f"{spec!r} is not a device, URL, profile, VM name or resource ID",
            "devices start with /dev/ (or ./ for a path here), URLs with SCHEME://, scale-set instances are SET/ID",
        )
    return AzureTarget(
        name=name,
        resource_group=resource_group,
        subscription=subscription,
        instance_id=str(instance_id) if instance_id is not None else None,
        cloud=values.get("cloud"),
        profile=profile,
    )
