"""The vintage store: content-addressed snapshots of the data, and which one is active.

Layout (``data.vintages_dir``, default ``data/vintages/``, git-ignored)::

    data/vintages/<id>/          one vintage: the snapshot tables + MANIFEST (+ release.json)
    data/vintages/active         the id of the active vintage (one line)

A vintage's id is its MANIFEST ``vintage``: a hash of its tables' sha256 (see
:func:`flows.snapshot.build_snapshot`), so the same data always gets the same id. The embedded
``data/snapshot`` is the first vintage; it lives where it is and is never copied, so a fresh
clone runs with no store at all (``make run`` needs no network). ``active`` is switched
atomically (temp file + ``os.replace``); a vintage folder appears atomically (built under a
temporary name, then renamed). A run reads the pinned vintage (``data.vintage``), else the
active one, else the embedded snapshot: :func:`snapshot_folder`.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from exportcast.flows.io import atomic_write, project_path, project_root
from exportcast.flows.snapshot import MANIFEST_NAME, SnapshotError, read_manifest

__all__ = [
    "ACTIVE_NAME",
    "RELEASE_NAME",
    "VintageError",
    "VintageInfo",
    "activate",
    "active_id",
    "list_vintages",
    "publish",
    "resolve_vintage",
    "snapshot_folder",
    "staging_dir",
    "store_dir",
    "update_lock",
    "vintage_notes",
]

ACTIVE_NAME = "active"
RELEASE_NAME = "release.json"  # what a vintage was made from (files, fetches, provisional rows)
_ID = re.compile(r"^[0-9a-f]{12}$")


class VintageError(SnapshotError):
    """A vintage id is unknown or the store is inconsistent.

    Args:
        where: The key or file to blame.
        detail: What was found and what was expected.
    """

    def __init__(self, where: str, detail: str) -> None:
        self.where = where
        self.detail = detail
        super().__init__(f"{where}: {detail}")


@dataclass(frozen=True)
class VintageInfo:
    """One row of ``exportcast vintages``."""

    id: str
    folder: Path
    created: str
    sources: list[str]
    years: dict[str, list[int] | None]
    active: bool
    embedded: bool


def store_dir(vintages_dir: str | Path) -> Path:
    """The store folder; a relative path resolves against the project root."""
    path = Path(vintages_dir).expanduser()
    return path if path.is_absolute() else project_root() / path


def _embedded(snapshot_dir: str | Path) -> tuple[str, Path] | None:
    folder = project_path(snapshot_dir)
    if not (folder / MANIFEST_NAME).is_file():
        return None
    return read_manifest(folder)["vintage"], folder


def active_id(vintages_dir: str | Path) -> str | None:
    """The id in ``<store>/active``, or None when nothing was ever activated."""
    path = store_dir(vintages_dir) / ACTIVE_NAME
    if not path.is_file():
        return None
    text = path.read_text(encoding="utf-8").strip()
    if not _ID.match(text):
        raise VintageError(str(path), f"expected a 12-hex-digit vintage id, found {text[:40]!r}")
    return text


def resolve_vintage(
    vintage: str | None, vintages_dir: str | Path, snapshot_dir: str | Path
) -> tuple[str, Path]:
    """The id and folder a run reads: the pinned ``vintage``, else the active, else embedded.

    Raises:
        VintageError: The pinned or active id is neither the embedded snapshot nor in the store.
    """
    embedded = _embedded(snapshot_dir)
    wanted = vintage if vintage is not None else active_id(vintages_dir)
    if wanted is None:
        if embedded is None:
            raise SnapshotError(
                f"{project_path(snapshot_dir) / MANIFEST_NAME}: snapshot manifest not found"
            )
        return embedded
    if embedded is not None and wanted == embedded[0]:
        return embedded
    folder = store_dir(vintages_dir) / wanted
    if (folder / MANIFEST_NAME).is_file():
        return wanted, folder
    known = [v.id for v in list_vintages(vintages_dir, snapshot_dir)]
    how = "data.vintage" if vintage is not None else f"{store_dir(vintages_dir) / ACTIVE_NAME}"
    raise VintageError(
        how,
        f"unknown data vintage {wanted!r}; expected one of {known} (see 'exportcast vintages')",
    )


def snapshot_folder(data: object) -> Path:
    """The snapshot folder a run reads, from the config's ``data`` section.

    ``source: raw`` rebuilds into ``snapshot_dir`` as before; otherwise the pinned, active or
    embedded vintage (:func:`resolve_vintage`).
    """
    if getattr(data, "source", "snapshot") == "raw":
        return project_path(data.snapshot_dir)
    return resolve_vintage(data.vintage, data.vintages_dir, data.snapshot_dir)[1]


def _info(folder: Path, active: str | None, embedded: bool) -> VintageInfo:
    manifest = read_manifest(folder)
    release = {}
    if (folder / RELEASE_NAME).is_file():
        release = json.loads((folder / RELEASE_NAME).read_text(encoding="utf-8"))
    sources = release.get("sources") or ["embedded snapshot"]
    return VintageInfo(
        id=manifest["vintage"],
        folder=folder,
        created=release.get("created", "(in the repository)"),
        sources=list(sources),
        years={k: v.get("years") for k, v in manifest["tables"].items() if v.get("years")},
        active=manifest["vintage"] == active,
        embedded=embedded,
    )


def list_vintages(vintages_dir: str | Path, snapshot_dir: str | Path) -> list[VintageInfo]:
    """The embedded snapshot, then the store's vintages oldest first."""
    embedded = _embedded(snapshot_dir)
    try:
        current = active_id(vintages_dir)
    except VintageError:
        current = None
    if current is None and embedded is not None:
        current = embedded[0]
    out = [_info(embedded[1], current, True)] if embedded is not None else []
    root = store_dir(vintages_dir)
    found = [p for p in root.iterdir() if _ID.match(p.name)] if root.is_dir() else []
    found = [p for p in found if (p / MANIFEST_NAME).is_file()]
    infos = [_info(p, current, False) for p in found]
    out += sorted(infos, key=lambda v: (v.created, v.id))
    return out


def activate(vintage: str, vintages_dir: str | Path, snapshot_dir: str | Path) -> None:
    """Make ``vintage`` the active one (atomic: temp file + rename).

    Raises:
        VintageError: Unknown id.
    """
    resolve_vintage(vintage, vintages_dir, snapshot_dir)  # validates
    atomic_write(
        store_dir(vintages_dir) / ACTIVE_NAME,
        lambda p: p.write_text(vintage + "\n", encoding="utf-8"),
    )


def publish(staging: Path, vintages_dir: str | Path) -> tuple[str, bool]:
    """Move a fully written staging folder into the store under its id.

    Args:
        staging: A folder with tables and MANIFEST, on the same file system as the store
            (made with :func:`staging_dir`).
        vintages_dir: The store.

    Returns:
        ``(id, new)``: ``new`` is False when a vintage with these tables already existed (the
        staging folder is then removed).
    """
    vintage = read_manifest(staging)["vintage"]
    target = store_dir(vintages_dir) / vintage
    if (target / MANIFEST_NAME).is_file():
        shutil.rmtree(staging)
        return vintage, False
    if target.exists():  # a leftover without MANIFEST: never a complete vintage
        shutil.rmtree(target)
    os.replace(staging, target)
    return vintage, True


def staging_dir(vintages_dir: str | Path) -> Path:
    """A fresh hidden folder in the store to build a vintage in (renamed by :func:`publish`)."""
    root = store_dir(vintages_dir)
    root.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=".staging-", dir=root))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextlib.contextmanager
def update_lock(vintages_dir: str | Path) -> Iterator[None]:
    """One update at a time per store: ``<store>/.update.lock`` holds the updater's PID.

    A lock left by a process that no longer exists is taken over.

    Raises:
        VintageError: Another live process holds the lock.
    """
    root = store_dir(vintages_dir)
    root.mkdir(parents=True, exist_ok=True)
    path = root / ".update.lock"
    for _ in range(2):
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            text = path.read_text(encoding="utf-8").strip() if path.exists() else ""
            if text.isdigit() and _alive(int(text)):
                raise VintageError(
                    str(path), f"another update (process {text}) is running; try again later"
                ) from None
            path.unlink(missing_ok=True)  # stale: its process is gone
            continue
        with os.fdopen(fd, "w") as fh:
            fh.write(str(os.getpid()))
        break
    else:
        raise VintageError(str(path), "could not take the update lock")
    try:
        yield
    finally:
        path.unlink(missing_ok=True)


def vintage_notes(folder: str | Path) -> dict | None:
    """What a vintage made by ``exportcast update`` says about itself, for the report.

    Args:
        folder: The vintage folder (the embedded snapshot has no notes).

    Returns:
        None for a vintage without ``release.json``; else ``vintage``, ``base_vintage``,
        ``created``, ``sources``, ``new_years`` (e.g. ``["KOR 2024"]``), ``revisions``
        (partner-years revised by > 5 % and > USD 50 m), ``provisional`` (REST rows of partial
        releases: ``reporter, year, rest_usd, total_usd, n_partners``) and
        ``unknown_partner_years`` (how many partner-years partial releases left unknown).
    """
    folder = Path(folder)
    if not (folder / RELEASE_NAME).is_file():
        return None
    import pandas as pd

    release = json.loads((folder / RELEASE_NAME).read_text(encoding="utf-8"))
    manifest = read_manifest(folder)
    new_years: list[str] = []
    revisions = 0
    if (folder / "changes.csv").is_file():
        changes = pd.read_csv(folder / "changes.csv")
        years = changes.loc[changes["kind"] == "new year"]
        new_years = [f"{r.reporter} {int(r.year)}" for r in years.itertuples()]
        revisions = int((changes["kind"] == "revision").sum())
    keys = ("reporter", "year", "rest_usd", "total_usd", "n_partners")
    provisional = [
        {k: (r[k] if k == "reporter" else float(r[k]) if "usd" in k else int(r[k])) for k in keys}
        for r in release.get("provisional_rest", [])
    ]
    return {
        "vintage": manifest["vintage"],
        "base_vintage": manifest.get("base_vintage"),
        "created": release.get("created"),
        "sources": list(release.get("sources", [])),
        "new_years": new_years,
        "revisions": revisions,
        "provisional": provisional,
        "unknown_partner_years": len(release.get("unknown_partner_years", [])),
    }
