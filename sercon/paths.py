"""Where sercon keeps its files, in one place, from the run's environment (XDG base directories).

config: $SERCON_CONFIG, else $XDG_CONFIG_HOME/sercon/config.toml (~/.config/sercon/config.toml).
cache (the `sercon login` token cache, the demo's guest image, the VM names a Tab completes):
  $XDG_CACHE_HOME/sercon (~/.cache/sercon).
state (the journal of what each console printed, sercon/journal/): $XDG_STATE_HOME/sercon
  (~/.local/state/sercon).
runtime (control sockets): $XDG_RUNTIME_DIR/sercon, else $TMPDIR/sercon-UID; private to the user.
The Azure CLI's folder (its default subscription): $AZURE_CONFIG_DIR, else ~/.azure.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from sercon.errors import UsageError


def _home(environ: Mapping[str, str]) -> str:
    return environ.get("HOME") or os.path.expanduser("~")


def config_file(environ: Mapping[str, str]) -> Path:
    if environ.get("SERCON_CONFIG"):
        return Path(environ["SERCON_CONFIG"]).expanduser()
    base = environ.get("XDG_CONFIG_HOME") or os.path.join(_home(environ), ".config")
    return Path(base).expanduser() / "sercon" / "config.toml"


def cache_dir(environ: Mapping[str, str]) -> Path:
    base = environ.get("XDG_CACHE_HOME") or os.path.join(_home(environ), ".cache")
    return Path(base).expanduser() / "sercon"


def state_dir(environ: Mapping[str, str]) -> Path:
    base = environ.get("XDG_STATE_HOME") or os.path.join(_home(environ), ".local", "state")
    return Path(base).expanduser() / "sercon"


def journal_dir(environ: Mapping[str, str]) -> Path:
    """The journals' folder (not made here: the writer makes it private, 0700, when it first writes)."""
    return state_dir(environ) / "journal"


def azure_cli_dir(environ: Mapping[str, str]) -> Path:
    return Path(environ.get("AZURE_CONFIG_DIR") or os.path.join(_home(environ), ".azure")).expanduser()


def runtime_dir(environ: Mapping[str, str]) -> Path:
    """The user's private folder for sockets (mode 0700, made if missing, refused if someone else's)."""
    base = environ.get("XDG_RUNTIME_DIR")
    if base:
        folder = Path(base) / "sercon"
    else:
        import tempfile  # only without XDG_RUNTIME_DIR (~5 ms of start-up otherwise)

        folder = Path(tempfile.gettempdir()) / f"sercon-{os.getuid()}"
    return private_dir(folder, "set XDG_RUNTIME_DIR to a folder of your own")


def private_dir(folder: Path, fix: str = "remove it, or point sercon at a folder of your own") -> Path:
    """*folder*, made if missing, the user's own and mode 0700: never a symlink (a planted link would
    have root's sercon chmod its target), checked and changed on the opened folder itself."""
    try:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    except OSError as exc:
        raise UsageError(f"{folder} is not a folder of its own (a symbolic link?): {exc.strerror}", fix) from exc
    try:
        if os.fstat(fd).st_uid != os.getuid():
            raise UsageError(f"{folder} belongs to another user", fix)
        os.fchmod(fd, 0o700)
    finally:
        os.close(fd)
    return folder
