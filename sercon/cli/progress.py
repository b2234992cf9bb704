"""A progress bar for large downloads, on a terminal only."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

from sercon.cli.env import Env

SHOW_ABOVE = 1 << 20  # bytes: smaller downloads finish before a bar would help


@contextlib.contextmanager
def download_progress(env: Env) -> Iterator[Callable[[int, int], None]]:
    if not env.stderr.isatty():
        yield lambda done, total: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, DownloadColumn, Progress, TransferSpeedColumn

    with Progress("boot log", BarColumn(), DownloadColumn(), TransferSpeedColumn(), transient=True,
                  console=Console(file=env.stderr)) as bar:
        task = None

        def update(done: int, total: int) -> None:
            nonlocal task
            if total < SHOW_ABOVE:
                return
            if task is None:
                task = bar.add_task("download", total=total)
            bar.update(task, completed=done)

        yield update
