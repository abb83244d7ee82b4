"""``exportcast update``: inbox files and fetched releases -> a new, checked data vintage.

Steps: parse every file in the inbox (and every fetched release) with the adapters in
``features/sources/inbox.py`` -> merge them into the active vintage's tables
(``features/release.py``) -> the panel checks of ``features/panel.build_trade_panel`` for every
reporter touched -> write the tables and MANIFEST into a staging folder -> verify it loads ->
move it into the store under its content hash -> switch ``active``. Any error before the switch
moves the inbox files (and fetched bodies) to ``<quarantine_dir>/<stamp>/`` with
``reason.txt``; the active vintage is untouched. Tables identical to the active vintage's give
"no new data". Processed inbox files go to ``<inbox>/processed/``.
"""

from __future__ import annotations

import json
import shutil
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from exportcast.features.changes import REVISION_ABS_USD, REVISION_REL, what_changed
from exportcast.features.panel import build_trade_panel
from exportcast.features.release import merge_indicator, merge_release
from exportcast.features.sources._common import SourceError
from exportcast.features.sources.inbox import Release, parse_inbox_file
from exportcast.flows.io import atomic_write, project_path, sha256_file, write_csv, write_parquet
from exportcast.flows.snapshot import (
    MANIFEST_NAME,
    SnapshotError,
    _canonical,
    _vintage,
    load_snapshot,
    table_entry,
)
from exportcast.flows.vintages import (
    RELEASE_NAME,
    VintageError,
    activate,
    publish,
    resolve_vintage,
    staging_dir,
    update_lock,
)

__all__ = ["Fetched", "UpdateOutcome", "country_names", "inbox_files", "run_update"]

REST_TABLE = "release_rest"
CHANGES_NAME = "changes.csv"  # what changed since the base vintage (features/changes.py)
PROCESSED = "processed"


@dataclass(frozen=True)
class Fetched:
    """A release fetched by a connector, with what the fetch was.

    Attributes:
        release: The parsed release (None for an indicator fetch).
        meta: ``source, url`` (never with a key), ``fetched`` (UTC time), ``status``,
            ``sha256`` and ``file`` (the name the body is kept under).
        body: The raw response body.
        indicators: Values of one ``indicators`` column (World Bank fetches).
    """

    release: Release | None
    meta: dict[str, Any]
    body: bytes
    indicators: pd.DataFrame | None = None  # ``country, year, value`` of ``meta["column"]``


@dataclass(frozen=True)
class UpdateOutcome:
    """What ``exportcast update`` did."""

    status: str  # "new", "no new data", "nothing to do", "failed" or "busy"
    active: str
    previous: str
    message: str
    lines: list[str] = field(default_factory=list)
    quarantine: Path | None = None

    @property
    def exit_code(self) -> int:
        """2 for a failed release (or another update running), else 0."""
        return 2 if self.status in ("failed", "busy") else 0


def inbox_files(inbox: Path) -> list[Path]:
    """The files waiting in the inbox (top level only; hidden files are ignored)."""
    if not inbox.is_dir():
        return []
    return sorted(p for p in inbox.iterdir() if p.is_file() and not p.name.startswith("."))


def _stamp() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")


def _names(countries: pd.DataFrame) -> dict[str, str]:
    return dict(zip(countries["name"].astype(str), countries["country"].astype(str), strict=True))


def country_names(data: Any) -> dict[str, str]:
    """English country name -> ISO3, from the active vintage's ``countries`` table."""
    _, folder = resolve_vintage(None, data.vintages_dir, data.snapshot_dir)
    return _names(load_snapshot(folder, ["countries"])["countries"])


def _source_entry(release: Release, meta: dict[str, Any] | None) -> dict[str, str]:
    entry = {
        "publisher": {
            "kosis": "Korea Customs Service / Statistics Korea (KOSIS DT_1R11006_FRM101)",
            "comtrade": "UN Comtrade",
            "long": "user-supplied long-format file",
            "imts": "International Monetary Fund, IMTS (SDMX 3.0)",
        }.get(release.kind, release.kind),
        "license": "see the publisher's terms",
        "raw_file": meta["file"] if meta else Path(release.path).name,
        "upstream_repository": "exportcast update (inbox or connector)",
        "upstream_commit": (meta or {}).get("sha256", ""),
    }
    if meta:
        entry["url"] = meta.get("url", "")
    return entry


def _merge_all(
    snap: Any, releases: Sequence[tuple[Release, dict[str, Any] | None]]
) -> tuple[dict[str, pd.DataFrame], dict[str, list[dict]], list[str], pd.DataFrame]:
    tables = {
        "kor_exports": snap["kor_exports"],
        "kor_totals": snap["kor_totals"],
        "dots_exports": snap["dots_exports"],
    }
    rest = snap.tables.get(REST_TABLE)
    sources: dict[str, list[dict]] = {}
    lines: list[str] = []
    unknown = []
    for release, meta in releases:
        for reporter, rows in release.rows.groupby("reporter"):
            table = "kor_exports" if reporter == "KOR" else "dots_exports"
            totals = release.totals.loc[release.totals["reporter"] == reporter]
            before = tables[table].loc[tables[table]["reporter"] == reporter, "year"]
            result = merge_release(
                tables[table],
                tables["kor_totals"] if table == "kor_exports" else None,
                rest,
                rows,
                totals,
                source=release.kind,
                name=release.path,
            )
            tables[table] = result.exports
            if table == "kor_exports":
                tables["kor_totals"] = result.totals
            rest = result.rest
            unknown.append(result.unknown)
            last = int(before.max()) if len(before) else None
            years = sorted(set(rows["year"]))
            label = meta["file"] if meta else Path(release.path).name
            lines.append(
                f"{label}: {reporter} {len(rows)} partner rows, years "
                f"{years[0]}-{years[-1]} (last year before: {last}); {result.new_keys} new, "
                f"{result.revised} revised"
            )
            for r in result.rest.loc[result.rest["provisional"]].itertuples():
                if r.reporter == reporter and r.year in years:
                    lines.append(
                        f"  {reporter} {r.year}: partial release, {r.n_partners} partners; REST "
                        f"{r.rest_usd / 1e9:,.2f} bn USD of the {r.total_usd / 1e9:,.2f} bn "
                        "total is provisional"
                    )
            names = ["kor_totals", table] if table == "kor_exports" else [table]
            for name in [*names, REST_TABLE]:
                sources.setdefault(name, []).append(_source_entry(release, meta))
    if rest is not None and (len(rest) or REST_TABLE in snap.tables):
        tables[REST_TABLE] = rest
    unknown_rows = pd.concat(unknown, ignore_index=True) if unknown else pd.DataFrame()
    return tables, sources, lines, unknown_rows


def _merge_indicators(
    snap: Any,
    tables: dict[str, pd.DataFrame],
    sources: dict[str, list[dict]],
    lines: list[str],
    fetched: Sequence[Fetched],
) -> None:
    for item in fetched:
        if item.indicators is None:
            continue
        column = item.meta["column"]
        table = tables.get("indicators", snap["indicators"])
        tables["indicators"], added, revised = merge_indicator(table, item.indicators, column)
        lines.append(
            f"{item.meta['source']} {column}: {added} new country-years, {revised} revised"
        )
        entry = {"publisher": "World Bank, World Development Indicators (API v2)",
                 "license": "CC BY 4.0", "raw_file": item.meta["file"],
                 "upstream_repository": "exportcast update --fetch wdi", "url": item.meta["url"],
                 "upstream_commit": item.meta["sha256"]}  # fmt: skip
        sources.setdefault("indicators", []).append(entry)


def _check_panels(tables: dict[str, pd.DataFrame], releases: Sequence[Release]) -> None:
    for release in releases:
        for reporter in sorted(set(release.rows["reporter"])):
            table = "kor_exports" if reporter == "KOR" else "dots_exports"
            frame = tables[table]
            years = frame.loc[frame["reporter"] == reporter, "year"]
            build_trade_panel(
                frame, reporter=reporter, start=int(years.min()), end=int(years.max()),
                name=f"{table} after {Path(release.path).name}",
            )  # fmt: skip


def _write_vintage(
    snap: Any,
    changed: dict[str, pd.DataFrame],
    sources: dict[str, list[dict]],
    staging: Path,
    base_dir: Path,
) -> dict:
    entries = {}
    for name in sorted(set(snap.manifest["tables"]) | set(changed)):
        old = snap.manifest["tables"].get(name)
        if name in changed and (old is None or not changed[name].equals(snap.tables[name])):
            frame = _canonical(changed[name].reset_index(drop=True))
            path = write_parquet(frame, staging / f"{name}.parquet")
            extra = [s for s in sources.get(name, []) if s not in (old or {}).get("sources", [])]
            entries[name] = table_entry(
                frame,
                path,
                [*(old or {}).get("sources", []), *extra],
                (old or {}).get("dropped_rows", {}),
            )
        else:
            shutil.copy2(base_dir / old["file"], staging / old["file"])
            entries[name] = old
    manifest = {
        "schema_version": snap.manifest.get("schema_version", 1),
        "description": "exportcast data vintage made by 'exportcast update' from vintage "
        f"{snap.vintage} and the releases in {RELEASE_NAME}",
        "base_vintage": snap.vintage,
        "vintage": _vintage(entries),
        "tables": entries,
    }
    text = json.dumps(manifest, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    atomic_write(staging / MANIFEST_NAME, lambda p: p.write_text(text, encoding="utf-8"))
    return manifest


def _changes(snap: Any, tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """What changed in the export tables the releases touched (features/changes.py)."""
    parts = [
        what_changed(snap[name], tables[name])
        for name in ("kor_exports", "dots_exports")
        if not tables[name].equals(snap[name])
    ]
    return (
        pd.concat(parts, ignore_index=True)
        if parts
        else what_changed(snap["kor_exports"].iloc[:0], snap["kor_exports"].iloc[:0])
    )


def _change_lines(changes: pd.DataFrame, base: str) -> list[str]:
    years = changes.loc[changes["kind"] == "new year"]
    revs = changes.loc[changes["kind"] == "revision"]
    lines = [
        f"what changed since vintage {base}: "
        + ", ".join(f"{r.reporter} {r.year} new" for r in years.itertuples())
        + ("; " if len(years) else "")
        + f"{len(revs)} revision(s) > {100 * REVISION_REL:.0f} % and > USD "
        f"{REVISION_ABS_USD / 1e6:.0f} m"
    ]
    for r in revs.head(5).itertuples():
        lines.append(
            f"  {r.reporter}->{r.partner} {r.year}: {r.old_usd / 1e9:,.2f} -> "
            f"{r.new_usd / 1e9:,.2f} bn USD ({r.change_pct:+.1f} %)"
        )
    return lines


def _quarantine(
    root: Path, stamp: str, files: Sequence[Path], fetched: Sequence[Fetched], reason: str
) -> Path:
    folder = root / stamp
    folder.mkdir(parents=True, exist_ok=True)
    for f in files:
        shutil.move(str(f), folder / f.name)
    for item in fetched:
        (folder / item.meta["file"]).write_bytes(item.body)
    meta = [item.meta for item in fetched]
    text = reason.rstrip() + "\n"
    if meta:
        text += "\nfetches:\n" + json.dumps(meta, indent=2) + "\n"
    (folder / "reason.txt").write_text(text, encoding="utf-8")
    return folder


def _processed(files: Sequence[Path], inbox: Path, stamp: str) -> None:
    done = inbox / PROCESSED
    done.mkdir(parents=True, exist_ok=True)
    for f in files:
        target = done / f.name
        if target.exists():
            target = done / f"{f.stem}.{stamp}{f.suffix}"
        shutil.move(str(f), target)


def _release_record(
    stamp: str, files: Sequence[Path], fetched: Sequence[Fetched], lines: list[str],
    unknown: pd.DataFrame, tables: dict[str, pd.DataFrame],
) -> dict:  # fmt: skip
    rest = tables.get(REST_TABLE)
    provisional = [] if rest is None else rest.loc[rest["provisional"]].to_dict("records")
    return {
        "created": datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
        "stamp": stamp,
        "sources": [f.name for f in files] + sorted({m.meta["source"] for m in fetched}),
        "files": [{"name": f.name, "sha256": sha256_file(f)} for f in files],
        "fetches": [m.meta for m in fetched],
        "summary": lines,
        "provisional_rest": provisional,
        "unknown_partner_years": unknown.to_dict("records") if len(unknown) else [],
    }


def run_update(
    data: Any,
    *,
    fetched: Sequence[Fetched] = (),
    log: Callable[[str], None] = print,
) -> UpdateOutcome:
    """Turn the inbox files and fetched releases into a new active vintage, or quarantine them.

    Args:
        data: The config's ``data`` section (``snapshot_dir``, ``vintages_dir``, ``inbox_dir``,
            ``quarantine_dir``).
        fetched: Releases the connectors fetched (``exportcast update --fetch``).
        log: Progress printer.

    Returns:
        The outcome; ``exit_code`` is 2 when the release failed or another update is running.
    """
    try:
        with update_lock(data.vintages_dir):
            return _run_update(data, fetched, log)
    except VintageError as exc:
        if "another update" not in exc.detail:
            raise
        active = resolve_vintage(None, data.vintages_dir, data.snapshot_dir)[0]
        return UpdateOutcome("busy", active, active, str(exc))


def _run_update(data: Any, fetched: Sequence[Fetched], log: Callable[[str], None]) -> UpdateOutcome:
    previous, base_folder = resolve_vintage(None, data.vintages_dir, data.snapshot_dir)
    inbox = project_path(data.inbox_dir)
    files = inbox_files(inbox)
    if not files and not fetched:
        return UpdateOutcome("nothing to do", previous, previous, f"inbox {inbox} is empty")
    stamp = _stamp()
    log(f"active vintage {previous}; {len(files)} inbox file(s), {len(fetched)} fetch(es)")
    staging = None
    try:
        snap = load_snapshot(base_folder)
        names = _names(snap["countries"])
        releases = [(parse_inbox_file(f, names), None) for f in files]
        releases += [(item.release, item.meta) for item in fetched if item.release is not None]
        tables, sources, lines, unknown = _merge_all(snap, releases)
        _merge_indicators(snap, tables, sources, lines, fetched)
        _check_panels(tables, [r for r, _ in releases])
        staging = staging_dir(data.vintages_dir)
        manifest = _write_vintage(snap, tables, sources, staging, base_folder)
        for item in fetched:
            (staging / "fetched").mkdir(exist_ok=True)
            (staging / "fetched" / item.meta["file"]).write_bytes(item.body)
        changes = _changes(snap, tables)
        write_csv(changes, staging / CHANGES_NAME)
        lines += _change_lines(changes, snap.vintage)
        record = _release_record(stamp, files, fetched, lines, unknown, tables)
        (staging / RELEASE_NAME).write_text(json.dumps(record, indent=2, default=str) + "\n")
        load_snapshot(staging)  # every table against the new manifest
    except (SourceError, SnapshotError, ValueError, KeyError, OSError) as exc:
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)
        reason = f"{type(exc).__name__}: {exc}"
        if not isinstance(exc, SourceError | SnapshotError):
            reason += "\n\n" + traceback.format_exc()
        folder = _quarantine(project_path(data.quarantine_dir), stamp, files, fetched, reason)
        return UpdateOutcome(
            "failed", previous, previous,
            f"release rejected: {exc}; moved to {folder}; vintage {previous} stays active",
            quarantine=folder,
        )  # fmt: skip
    if manifest["vintage"] == previous:
        shutil.rmtree(staging)
        _processed(files, inbox, stamp)
        return UpdateOutcome(
            "no new data", previous, previous,
            f"no new data: the release gives the same tables as the active vintage {previous}",
            lines,
        )  # fmt: skip
    vintage, new = publish(staging, data.vintages_dir)
    activate(vintage, data.vintages_dir, data.snapshot_dir)
    _processed(files, inbox, stamp)  # only now: a crash before leaves them in the inbox
    what = "new vintage" if new else "existing vintage"
    return UpdateOutcome(
        "new", vintage, previous, f"{what} {vintage} is active (was {previous})", lines
    )
