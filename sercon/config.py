"""The TOML config file: default target and named profiles. Pure: no I/O beyond reading the file."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sercon.choices import (
    CLOUDS,
    FLOWS,
    LOG_FORMATS,
    PARITIES,
    PASTE_CHUNK_MIN,
    RESIZE,
    TYPED_KEYS,
    parse_escape_key,
)
from sercon.errors import UsageError

# Keys a profile may set, with the type each must have.
PROFILE_KEYS: dict[str, type | tuple[type, ...]] = {
    "device": str,
    "url": str,
    "baud": int,
    "databits": int,
    "parity": str,
    "stopbits": (int, float),
    "flow": str,
    "escape": str,
    "log": str,
    "log_format": str,
    "timestamps": bool,
    "paste_chunk": int,
    "reconnect": bool,
    "resize": str,
    "qmp": str,
    "logout_on_exit": bool,
    "logout_sequence": str,
    "baud_exact": bool,
    "resource_group": str,
    "name": str,
    "subscription": str,
    "instance_id": str,
    "cloud": str,
    "journal": bool,
    "journal_input": bool,
    "journal_size": (str, int),
    "replay": int,
}


@dataclass(frozen=True)
class Config:
    path: Path | None = None
    default: str | None = None
    profiles: dict[str, dict[str, Any]] = field(default_factory=dict)


def config_path(environ: dict[str, str]) -> Path:
    """$SERCON_CONFIG, else $XDG_CONFIG_HOME/sercon/config.toml (sercon/paths.py)."""
    from sercon.paths import config_file

    return config_file(environ)


def load_config(path: Path) -> Config:
    """Read and check the config file; a missing file is an empty config."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return Config(path=path)  # no file: no TOML parser to import (a shorter way to the first byte)
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(
            f"cannot read the config file {path}: {exc}",
            "fix the file (it is TOML: see docs/user-guide.md) or point SERCON_CONFIG elsewhere",
        ) from exc
    tomllib = toml_module()
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(
            f"cannot read the config file {path}: {exc}",
            "fix the file (it is TOML: see docs/user-guide.md) or point SERCON_CONFIG elsewhere",
        ) from exc
    default = raw.pop("default", None)
    profiles = raw.pop("profiles", {})
    if raw:
        raise UsageError(
            f"unknown key(s) {', '.join(sorted(raw))} in {path}",
            "the top level takes only `default` and `[profiles.NAME]` tables",
        )
    if default is not None and not isinstance(default, str):
        raise UsageError(f"`default` in {path} must be a string", 'write e.g. default = "board"')
    if not isinstance(profiles, dict):
        raise UsageError(f"`profiles` in {path} must be a table", "write [profiles.NAME] sections")
    for name, profile in profiles.items():
        _check_profile(path, name, profile)
    return Config(path=path, default=default, profiles=profiles)


def _check_profile(path: Path, name: str, profile: object) -> None:
    if not isinstance(profile, dict):
        raise UsageError(f"profile {name!r} in {path} must be a table", f"write [profiles.{name}]")
    for key, value in profile.items():
        expected = PROFILE_KEYS.get(key)
        if expected is None:
            raise UsageError(
                f"profile {name!r} in {path} has an unknown key {key!r}",
                f"known keys: {', '.join(PROFILE_KEYS)}",
            )
        numeric = expected is int or (isinstance(expected, tuple) and int in expected)
        if not isinstance(value, expected) or (numeric and isinstance(value, bool)):  # TOML true is no number
            raise UsageError(
                f"profile {name!r} in {path}: {key} = {value!r} has the wrong type",
                f"{key} takes a {getattr(expected, '__name__', 'number')}",
            )
        takes = _value_refused(key, value)
        if takes is not None:
            raise UsageError(f"profile {name!r} in {path}: {key} = {value!r} is not a value {key} takes",
                             f"{key} takes {takes}")


_CHOICES: dict[str, tuple[str, ...]] = {
    "log_format": LOG_FORMATS, "resize": RESIZE, "flow": FLOWS, "cloud": CLOUDS, "parity": tuple(PARITIES)}
_NUMBERS: dict[str, tuple[Any, str]] = {
    "baud": (lambda v: v >= 1, "a positive rate in baud, e.g. 115200"),
    "databits": (lambda v: v in (5, 6, 7, 8), "5, 6, 7, 8"),
    "stopbits": (lambda v: v in (1, 1.5, 2), "1, 1.5, 2"),
    "paste_chunk": (lambda v: v >= PASTE_CHUNK_MIN, f"a number of bytes, at least {PASTE_CHUNK_MIN} (default 2048)"),
    "replay": (lambda v: 0 <= v <= 100_000, "a number of lines, 0 to 100000"),
}
_PATHS = ("device", "url", "log", "qmp")


def _value_refused(key: str, value: Any) -> str | None:
    """What *key* takes, when *value* is not one of them (a value accepted here works where it is used)."""
    if isinstance(value, str) and "\0" in value:
        return "text without a NUL character" + (" (a path)" if key in _PATHS else "")
    if key in _PATHS and not value.strip():
        return "a path (not empty)"
    if key in _CHOICES:
        known = _CHOICES[key]
        ok = value.lower() in known or (key == "parity" and value.upper() in PARITIES.values())
        return None if ok or value in known else ", ".join(known)
    if key in _NUMBERS:
        check, takes = _NUMBERS[key]
        return None if check(value) else takes
    if key == "escape":
        return _escape_refused(value)
    if key == "journal_size":
        from sercon.choices import JOURNAL_MIN_SIZE as MIN_LIMIT
        from sercon.choices import parse_size

        size = parse_size(value)
        return None if size is not None and size >= MIN_LIMIT else \
            'a size of at least 64KiB: "16MiB" (the default), "512KiB", "1GiB" or a number of bytes'
    if key == "name":
        from sercon.azure_names import valid_vm_spec

        return None if valid_vm_spec(value) else "an Azure VM name: letters, digits, -, _ and . (SET/ID " \
            "for a scale-set instance)"
    if key == "logout_sequence":
        try:
            unescape(value)
        except ValueError:
            return r"text with backslash escapes, e.g. '\x04' or 'exit\r'"
    return None


def _escape_refused(value: str) -> str | None:
    takes = "a menu key: ctrl-] (the default), ^T, ..., or none for no menu key"
    if not value.strip():
        return takes
    try:
        escape_key(value)
    except UsageError:
        return takes + " (not a key that typing sends: Enter, Tab, Esc, Backspace)"
    return None


def escape_key(value: str) -> int | None:
    """The menu key's byte (None: no menu key); UsageError for one that is no key, or one typing sends
    all the time (^M is Enter: every Enter would open the menu)."""
    byte = parse_escape_key(value)
    if byte in TYPED_KEYS:
        raise UsageError(f"cannot use {value!r} as the escape key: it is {TYPED_KEYS[byte]}, which would open the "
                         "menu each time it is typed", "write ctrl-] (the default), ^T, ... or none")
    return byte


def unescape(text: str) -> bytes:
    """`\\x15exit\\r` as written in a profile or on a command line -> the bytes it means (ValueError if it
    cannot be read)."""
    try:
        return text.encode("latin-1", "backslashreplace").decode("unicode_escape").encode("latin-1")
    except (UnicodeDecodeError, UnicodeEncodeError) as exc:
        raise ValueError(str(exc)) from exc


def toml_module():  # noqa: ANN201 - the module (tomllib, or tomli before 3.11)
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - exercised on 3.10 only
        import tomli as tomllib
    return tomllib
