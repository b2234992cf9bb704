"""Token caches on disk: read only from a private file of the user's own (sercon.private_files), checked
before msal sees them, set aside when damaged, and written whole.

msal keeps a sign-in in one JSON file. A crash while it was written, a full disk or a hand edit leaves
something msal cannot read, and msal then fails deep inside (a TypeError, a KeyError) on every command:
so the file is checked here first, in msal's own terms (what its silent sign-in reads).
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sercon import private_files
from sercon.errors import AuthFailed, SerconError

# Partial files a writer killed half-way leaves (`.NAME.XXXXXXXX`, sercon.private_files) and damaged
# caches set aside: `sercon logout` removes them with the caches themselves (they hold tokens too).
LEFTOVERS = (".msal_token_cache.json.*", ".account.json.*", ".service_principal_tokens-*.json.*", ".token-names.key.*",
             "msal_token_cache.json.damaged-*", "account.json.damaged-*")
_TIMES = ("expires_on", "cached_at", "extended_expires_on", "refresh_on")  # msal reads these with int()
_MAY_BE_NULL = {"family_id"}  # msal writes the response's `foci` as it came, None when absent


class CacheDamaged(Exception):
    """The file is not a token cache msal can use; the message says what is wrong with it."""


def read_private(path: Path, what: str = "the token cache") -> bytes | None:
    """The bytes of *path* (sercon.private_files.read), None when there is none. Refused (exit 5, not read)
    when it is a symbolic link, not a plain file, another user's, or others may read or change it: its
    refresh token may have been copied or replaced, and the user must know (and choose) before it is used."""
    retry = "then sign in again (`sercon login`); or set XDG_CACHE_HOME to a folder of your own"
    try:
        return private_files.read(path)
    except private_files.Refused as exc:
        fix = (f"{exc.fix}; if anyone else could have read or changed it, run `sercon logout` and `sercon login` "
               "instead, for new tokens") if exc.fix.startswith("chmod") else f"{exc.fix}, {retry}"
        raise AuthFailed(f"{what} {exc.path} {exc.problem}: sercon signs in only from a private file of its own",
                         fix) from exc
    except OSError as exc:
        raise AuthFailed(f"cannot read {what} {path}: {exc.strerror}",
                         f"remove it (`sercon logout`), {retry}") from exc


def checked_cache(data: bytes) -> str:
    """*data* as text msal can deserialize and use; CacheDamaged (with what is wrong) otherwise."""
    try:
        state = json.loads(data.decode("utf-8"))
    except ValueError as exc:  # UnicodeDecodeError is a ValueError too
        raise CacheDamaged("not JSON text" if data.strip() else "empty") from exc
    if not isinstance(state, dict):
        raise CacheDamaged("not a JSON object")
    for kind, entries in state.items():
        if not isinstance(entries, dict) or not all(isinstance(entry, dict) for entry in entries.values()):
            raise CacheDamaged(f"its {kind!r} part is not a table of entries")
        for entry in entries.values():
            _check_entry(kind, entry)
    return data.decode("utf-8")


def _check_entry(kind: str, entry: dict[str, Any]) -> None:
    for key, value in entry.items():
        if not (isinstance(value, str) or value is None and key in _MAY_BE_NULL):
            raise CacheDamaged(f"a {kind} entry's {key!r} is not text")
    if kind == "AccessToken":
        for key in _TIMES:
            if key in entry and not (entry[key].isascii() and entry[key].isdigit()):
                raise CacheDamaged(f"an AccessToken entry's {key!r} is not a time")


def set_aside(path: Path, what: str, why: Exception, warn: Callable[[str], None]) -> None:
    """Move a damaged file out of the way, beside itself, and say where (it may help to look at it)."""
    aside = path.with_name(f"{path.name}.damaged-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}")
    try:
        os.rename(path, aside)
    except FileNotFoundError:
        return  # another sercon set it aside first, and said so
    except OSError as exc:
        warn(f"warning: {what} {path} is damaged ({why}) and cannot be moved aside ({exc.strerror}): sercon "
             "goes on without it; delete it (`sercon logout`)")
        return
    warn(f"warning: {what} {path} is damaged ({why}): moved it to {aside}; sercon goes on without it "
         "(sign in again with `sercon login`)")


def load_token_cache(path: Path | None) -> Any:
    """A service principal's tokens from the last run (a warm start skips the token request), read only
    from a private file of the user's own; else an empty cache. Nothing is lost with a damaged or
    unsafe one (the secret is in the environment): the next write replaces it."""
    import msal

    cache = msal.SerializableTokenCache()
    data = private_files.read_or_none(path) if path is not None else None
    if data:
        with contextlib.suppress(CacheDamaged):
            cache.deserialize(checked_cache(data))
    return cache


def save_token_cache(cache: Any, path: Path) -> None:
    """Written whole (private_files.write); a read-only home only means the next run asks for a token again."""
    if not cache.has_state_changed:
        return
    with contextlib.suppress(OSError, SerconError):  # a folder that cannot be made is refused as SerconError
        private_files.write(path, cache.serialize())
        cache.has_state_changed = False


def remove_all(folder: Path, patterns: tuple[str, ...]) -> bool:
    """`sercon logout`: every file of *patterns* in *folder* (a symbolic link itself, not its target)."""
    removed = False
    literal = [folder / name for name in patterns if not any(c in name for c in "*?[")]  # glob skips a dead link
    for path in [*literal, *(p for pattern in patterns if "*" in pattern for p in folder.glob(pattern))]:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
            removed = True
    return removed
