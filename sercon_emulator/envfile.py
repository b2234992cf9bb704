"""The emulator's environment as shell `export` lines, and a private file holding them (`. FILE`)."""

from __future__ import annotations

import contextlib
import os
import shlex
import tempfile
from pathlib import Path


def export_lines(environ: dict[str, str]) -> str:
    return "".join(f"export {key}={shlex.quote(value)}\n" for key, value in environ.items())


def write_private(path: Path, text: str) -> None:
    """Write *text* to *path*, readable by its owner only (0600) from its first byte on.

    A new file beside it is renamed over *path*: an existing file (or a symlink planted there) is
    replaced, never written through, and a reader never sees half of it.
    """
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)  # mode 0600
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
