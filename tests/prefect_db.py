"""A migrated Prefect database for every Prefect server the tests start.

A Prefect server on a new SQLite database first runs all of Prefect's migrations: measured on
two cores, the server answered after 11.2 s on a new file and after 4.0-4.8 s on a copy of an
already migrated one. The tests start several servers (the session's test server on each
xdist worker, ``prefect server start`` for ``exportcast serve``, the temporary servers of runs
with their own ``PREFECT_HOME``), so each gets a copy of one template instead.

The template is made once per machine and Prefect version by Prefect's own command
(``prefect server database upgrade -y``) under a file lock (two xdist workers may ask at the
same time), its write-ahead log folded into the file, then renamed into place: a template is
complete or absent. A copy is the state of a new database after Prefect's migrations, which is
what a new server would have made itself.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from importlib.metadata import version
from pathlib import Path

from tests.flows.helpers import subprocess_env


def _cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "exportcast-tests"


def template() -> Path:
    """The migrated template database of this Prefect version (made on first use)."""
    folder = _cache_dir()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"prefect-{version('prefect')}.db"
    if path.is_file():
        return path
    with open(folder / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # the other worker waits for the one making it
        if not path.is_file():
            _make(path)
    return path


def _make(path: Path) -> None:
    with tempfile.TemporaryDirectory(dir=path.parent) as tmp:
        db = Path(tmp) / "prefect.db"
        env = subprocess_env(PREFECT_SERVER_DATABASE_CONNECTION_URL=f"sqlite+aiosqlite:///{db}")
        done = subprocess.run(
            [sys.executable, "-m", "prefect", "server", "database", "upgrade", "-y"],
            env=env, capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        if done.returncode != 0:
            raise RuntimeError(f"Prefect's migrations failed:\n{done.stdout}\n{done.stderr}")
        with contextlib.closing(sqlite3.connect(db)) as con:
            con.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # everything in the one file
            con.execute("PRAGMA journal_mode=DELETE")
            (head,) = con.execute("SELECT version_num FROM alembic_version").fetchone()
        if not head:
            raise RuntimeError(f"Prefect's migrations left no alembic version in {db}")
        os.replace(db, path)


def migrated_copy(dest: Path) -> Path:
    """Copy the migrated template to ``dest`` (a new Prefect database file); return ``dest``."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(template(), dest)
    return dest


def database_url(dest: Path) -> str:
    """``PREFECT_SERVER_DATABASE_CONNECTION_URL`` of a migrated copy at ``dest``."""
    return f"sqlite+aiosqlite:///{migrated_copy(dest)}"
