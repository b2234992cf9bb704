"""Private files, one discipline for all of them: the sign-in caches, the service principals' token caches,
the key that names them, and the VM names a Tab completes.

Read only when the opened file (fstat, not a second look by name) is a plain file of the user's own that no
one else may read or change, never through a symbolic link (O_NOFOLLOW) and never waiting on a FIFO
(O_NONBLOCK): a file someone else could have planted or copied is not trusted. Written whole: a fresh
private temporary beside the file (mkstemp: mode 0600, a new name, never a planted link), synced, then
renamed over it, so a reader sees the old file or the new one and a failed write leaves nothing behind.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from pathlib import Path

FOLDER_FIX = "remove it (`sercon logout`), or set XDG_CACHE_HOME to a folder of your own"


class Refused(Exception):
    """The file is there but is not one sercon may trust: *problem* says why, *fix* what to do."""

    def __init__(self, path: Path, problem: str, fix: str) -> None:
        super().__init__(f"{path} {problem}")
        self.path, self.problem, self.fix = path, problem, fix


def read(path: Path) -> bytes | None:
    """The bytes of *path*, None when there is none; Refused when it is not a private file of the user's own
    (OSError when it cannot be read at all)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except FileNotFoundError:
        return None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise Refused(path, "is a symbolic link", "remove it (`sercon logout`)") from exc
        raise
    with os.fdopen(fd, "rb") as file:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise Refused(path, "is not a file", "remove it (`sercon logout`)")
        if info.st_uid != os.getuid():
            raise Refused(path, f"belongs to another user (uid {info.st_uid})", "remove it (`sercon logout`)")
        mode = stat.S_IMODE(info.st_mode)
        if mode & 0o077:
            how = "read" if mode & 0o044 else "changed"
            raise Refused(path, f"can be {how} by other users (mode {mode:04o})", f"chmod 600 {path}")
        return file.read()


def read_or_none(path: Path) -> bytes | None:
    """read(), with a file that is refused or cannot be read taken as none (a cache whose loss costs little)."""
    try:
        return read(path)
    except (OSError, Refused):
        return None


def write(path: Path, data: bytes | str, folder_fix: str = FOLDER_FIX) -> None:
    """*data* written whole to *path* (mode 0600) in its private folder (made 0700 if missing; UsageError
    when it is not the user's own); the partial file is removed on any failure, an interrupt too."""
    import tempfile

    from sercon.paths import private_dir

    private_dir(path.parent, folder_fix)
    fd, partial = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data.encode() if isinstance(data, str) else data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(partial, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(partial)
        raise
