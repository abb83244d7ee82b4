"""The run's snapshot tables, read on a thread while Prefect's temporary server starts (issue 16).

``exportcast run`` launches Prefect's temporary server first and imports its libraries while
the server starts; it then waits for the server (0.2-0.5 s on two cores) and for its first
answer (about 0.25 s: FastAPI builds its routes on first use). :func:`start` reads the
snapshot's tables in that time with the ``load data`` task's own function
(:func:`flows.snapshot.load_snapshot`, every file checked against the manifest's sha256), and
the task takes them (:func:`take`) if no file of the snapshot folder changed since the read
began (same name, size, modification time and inode). Otherwise, or if the read failed, the
task reads the tables itself and fails there with its own error: a prefetch never changes what
a run reads or reports, only when.
"""

from __future__ import annotations

import contextlib
import os
import threading
from concurrent.futures import Future
from pathlib import Path

from exportcast.configs import RunConfig
from exportcast.features.errors import ExportcastError
from exportcast.flows.snapshot import Snapshot, load_snapshot

__all__ = ["prefetch_data", "start", "take"]

Stamp = tuple[tuple[str, int, int, int], ...]
_pending: dict[tuple[Path, tuple[str, ...]], tuple[Stamp, Future[Snapshot]]] = {}
_lock = threading.Lock()


def _stamp(folder: Path) -> Stamp:
    """Name, size, modification time and inode of every file in the snapshot folder."""
    out = []
    for entry in sorted(os.scandir(folder), key=lambda e: e.name):
        if entry.is_file():
            st = entry.stat()
            out.append((entry.name, st.st_size, st.st_mtime_ns, st.st_ino))
    return tuple(out)


def start(folder: Path, tables: list[str]) -> None:
    """Read ``tables`` of the snapshot in ``folder`` on a daemon thread, for :func:`take`."""
    folder = Path(folder).resolve()
    future: Future[Snapshot] = Future()
    stamp = _stamp(folder)

    def read() -> None:
        try:
            future.set_result(load_snapshot(folder, list(tables)))
        except BaseException as exc:  # handed to take(), which lets the task read again
            future.set_exception(exc)

    with _lock:
        _pending[(folder, tuple(tables))] = (stamp, future)
    threading.Thread(target=read, name="exportcast-prefetch", daemon=True).start()


def take(folder: Path, tables: list[str]) -> Snapshot | None:
    """The tables :func:`start` read, if the folder is unchanged since; else None (once)."""
    folder = Path(folder).resolve()
    with _lock:
        entry = _pending.pop((folder, tuple(tables)), None)
    if entry is None:
        return None
    stamp, future = entry
    try:
        snapshot = future.result()
    except Exception:  # the task reads again and raises its own error
        return None
    return snapshot if _stamp(folder) == stamp else None


def prefetch_data(config: RunConfig) -> None:
    """Start reading the run's snapshot tables (``data.source: snapshot`` only)."""
    from exportcast.flows.io import project_path
    from exportcast.flows.pipeline import run_tables  # the load data task's own table list
    from exportcast.flows.vintages import snapshot_folder

    if config.data.source != "snapshot":
        return  # a rebuild from the raw files happens in the task
    with contextlib.suppress(ExportcastError, OSError):  # the task reports these itself
        folder = project_path(snapshot_folder(config.data))
        start(folder, run_tables(folder))
