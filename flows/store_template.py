"""New SQLite tracking stores from a migrated template instead of MLflow's schema migrations.

MLflow creates a new SQLite store by building its first schema and then running every alembic
migration since (about 60 on MLflow 3.x): 0.85-1.0 s of CPU per new store (2026-12-04), paid
by the first run of every project folder and by every test that gives a run a store of its
own. The result is the same empty schema each time for one MLflow version, so the first
store this user creates is kept, emptied, as a template
(``$XDG_CACHE_HOME/exportcast/mlflow-store-<mlflow version>.db``, default ``~/.cache``), and
later new stores start as a copy of it (a few milliseconds).

The template holds MLflow's migrated schema, its ``alembic_version`` and the rows the
migrations seed (the ``default`` workspace), but no experiment: MLflow creates its
``Default`` experiment, with this store's own artifact location, when it opens the copy, as
it does for a store it has just migrated. A template that is unreadable, fails SQLite's quick
check or has no schema version is ignored and replaced; MLflow's own schema check still runs
on every open (a copy of another version's schema fails it loudly). Both callers hold the
store's lock (:func:`flows.tracking_store.store_lock`), and the template and each new store
are renamed into place whole, so concurrent processes never see half a file.

``EXPORTCAST_NO_STORE_TEMPLATE=1`` turns it off (MLflow migrates every new store).
``make install`` makes the template (``python -m exportcast.flows.store_template``,
:func:`prepare`), so that not even a machine's first run migrates a store.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

__all__ = ["prepare", "save_template", "seed_store", "template_path"]


def template_path() -> Path | None:
    """Where this user's template for the installed MLflow lives (None: turned off)."""
    if os.environ.get("EXPORTCAST_NO_STORE_TEMPLATE") == "1":
        return None
    try:
        mlflow_version = version("mlflow")
    except PackageNotFoundError:
        return None
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "exportcast" / f"mlflow-store-{mlflow_version}.db"


def _usable(template: Path) -> bool:
    """The file is a whole SQLite database with MLflow's schema version and no experiment."""
    try:
        con = sqlite3.connect(f"file:{template}?mode=ro", uri=True)
    except sqlite3.Error:
        return False
    try:
        ok = con.execute("PRAGMA quick_check").fetchone() == ("ok",)
        head = con.execute("SELECT version_num FROM alembic_version").fetchall()
        empty = con.execute("SELECT count(*) FROM experiments").fetchone() == (0,)
        return ok and len(head) == 1 and empty
    except sqlite3.Error:
        return False
    finally:
        con.close()


def seed_store(db: Path) -> bool:
    """Create the new store ``db`` as a copy of the template, if there is a usable one.

    Returns:
        True when ``db`` was created from the template; False when it was left for MLflow
        to create (no template, turned off, or a template that failed its checks, which is
        then removed so that the next new store makes a good one).
    """
    template = template_path()
    if template is None or db.exists() or not template.is_file():
        return False
    if not _usable(template):
        with contextlib.suppress(OSError):
            template.unlink()
        return False
    db.parent.mkdir(parents=True, exist_ok=True)
    tmp = db.with_name(f".{db.name}.{os.getpid()}.tmp")
    try:
        shutil.copyfile(template, tmp)
        os.replace(tmp, db)
    except OSError:
        tmp.unlink(missing_ok=True)
        return False
    return True


def save_template(db: Path) -> None:
    """Keep the store ``db``, which MLflow has just created, as the template (best effort).

    Nothing is saved when the store already holds a run or a registered model (it is not the
    new store this is meant for), or when a template exists.
    """
    template = template_path()
    if template is None or template.is_file() or not db.is_file():
        return
    tmp = template.with_name(f".{template.name}.{os.getpid()}.tmp")
    try:
        template.parent.mkdir(parents=True, exist_ok=True)
        tmp.unlink(missing_ok=True)
        src = sqlite3.connect(db)
        try:
            used = src.execute("SELECT (SELECT count(*) FROM runs) + "
                               "(SELECT count(*) FROM registered_models)").fetchone()  # fmt: skip
            if used != (0,):
                return
            src.execute("VACUUM INTO ?", (str(tmp),))
        finally:
            src.close()
        con = sqlite3.connect(tmp)
        try:
            with con:
                con.execute("DELETE FROM experiment_tags")
                con.execute("DELETE FROM experiments")
                has_seq = con.execute(
                    "SELECT 1 FROM sqlite_master WHERE name = 'sqlite_sequence'"
                ).fetchone()
                if has_seq:
                    con.execute("DELETE FROM sqlite_sequence WHERE name = 'experiments'")
            con.execute("VACUUM")
        finally:
            con.close()
        if _usable(tmp):
            os.replace(tmp, template)
    except (OSError, sqlite3.Error):
        pass
    finally:
        tmp.unlink(missing_ok=True)


def prepare() -> Path | None:
    """Make the template now, unless it exists: a throwaway store opened as a run opens one.

    Returns:
        The template's path (None: turned off, or it could not be made; a run then migrates
        its new store itself).
    """
    import logging
    import tempfile

    from exportcast.flows.tracking_store import mlflow_client, resolve_store, store_lock

    template = template_path()
    if template is None or template.is_file():
        return template
    logging.getLogger("mlflow.store.db.utils").setLevel(logging.WARNING)  # "Creating tables..."
    with tempfile.TemporaryDirectory(prefix="exportcast-store-") as tmp:
        # a new store opened as a run opens it: MLflow migrates it, store_lock keeps it
        store = resolve_store(f"sqlite:///{Path(tmp) / 'mlflow.db'}")
        with store_lock(store):
            mlflow_client(store).search_experiments(max_results=1)
    return template if template.is_file() else None


if __name__ == "__main__":  # make install
    made = prepare()
    print(f"MLflow store template: {made or 'not made (a new store will be migrated by MLflow)'}")
