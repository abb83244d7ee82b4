"""Earlier runs from MLflow: what changed since the previous run, and the track record.

Called once per run with forecasts (:func:`collect`, from ``flows.pipeline``), while the run
is open. It reads the reporter's earlier **top-level** runs from the tracking store
(:func:`flows.tracking_runs.recent_runs`) and their artifacts (``forecasts.csv``,
``concentration.csv``, ``report_data/history.csv``), and returns what the report and MLflow
get (docs/data-updates.md):

- *the previous run* (:func:`features.run_compare.pick_previous`: the newest FINISHED run
  before this one, with forecasts, on another data vintage or config): new years, revisions
  above ``report.revision_pct`` and ``report.revision_usd``, and how the headline moved;
- *the track record across vintages* (:func:`models.vintage_track.score_run`): every earlier
  run whose forecast years now have data, scored only on years after the last year its data
  vintage held for the reporter (published after it), against no change.

Reading is robust: an earlier run whose artifact is missing or malformed is skipped with a
note naming the run; nothing here stops the forecast run.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from exportcast.configs import RunConfig
from exportcast.features.changes import CHANGE_COLUMNS
from exportcast.features.errors import ExportcastError
from exportcast.features.run_compare import changes_since, headline_comparison, pick_previous
from exportcast.flows import tracking_runs, tracking_store
from exportcast.flows.tracking import TrackedRun
from exportcast.models.vintage_track import TRACK_COLUMNS, score_run, track_metrics

__all__ = [
    "CHANGES_FILE",
    "MAX_RUNS",
    "TRACK_FILE",
    "Current",
    "RunHistory",
    "attach",
    "collect",
    "describe",
    "log_history",
    "read_run_csv",
]

CHANGES_FILE = "changes_since_last_run.csv"
TRACK_FILE = "vintage_track.csv"
MAX_RUNS = 200  # newest top-level runs read from the experiment
_TEXT = {"reporter": str, "partner": str, "kind": str, "data_vintage": str}
_NUMERIC = ("year", "mean", "export_usd", "dependence_share")


@dataclass(frozen=True)
class RunHistory:
    """What :func:`collect` found: report meta, the two tables, MLflow metrics and tags."""

    meta: dict[str, Any]
    changes: pd.DataFrame
    track: pd.DataFrame
    metrics: dict[str, float] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def tables(self) -> dict[str, pd.DataFrame]:
        """The report bundle's tables (``<name>.csv``)."""
        return {CHANGES_FILE.removesuffix(".csv"): self.changes,
                TRACK_FILE.removesuffix(".csv"): self.track}  # fmt: skip


@dataclass(frozen=True)
class Current:
    """This run as :func:`collect` sees it."""

    run_id: str
    reporter: str
    vintage: str
    config_hash: str
    table: str  # the snapshot table of the reporter's exports (kor_exports, dots_exports)
    panel: pd.DataFrame  # reporter, partner, year, export_usd
    concentration: pd.DataFrame


def _records(store: tracking_store.Store, experiment: str) -> list[dict[str, Any]]:
    out = []
    for r in tracking_runs.recent_runs(store, experiment, limit=MAX_RUNS):
        last = r.get("last_year")
        out.append(
            {
                "run_id": r["run_id"],
                "start_ms": int(r["start"].timestamp() * 1000),
                "run_date": r["start"].strftime("%Y-%m-%d %H:%M"),
                "status": r["status"],
                "data_vintage": r["data_vintage"],
                "config_hash": r["config_hash"],
                "last_year": int(last) if last and str(last).isdigit() else None,
                "has_forecast": r["dependence_forecast"] is not None,
            }
        )
    return out


def read_run_csv(
    store: tracking_store.Store, run_id: str, path: str, required: list[str], tmp: Path
) -> pd.DataFrame:
    """An artifact CSV of a run, checked for its columns.

    Raises:
        TrackingError: Missing, unreadable or malformed (the message names the run and file).
    """
    dest = Path(tempfile.mkdtemp(dir=tmp))
    local = tracking_runs.download_file(store, run_id, path, dest)
    try:
        header = pd.read_csv(local, nrows=0).columns
        dtype = {c: t for c, t in _TEXT.items() if c in header}
        frame = pd.read_csv(local, dtype=dtype, keep_default_na=False, na_values=[""])
    except (ValueError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise tracking_store.TrackingError(
            f"MLflow run {run_id}: {path} is not a CSV: {exc}"
        ) from exc
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise tracking_store.TrackingError(
            f"MLflow run {run_id}: {path} has no column {missing[0]!r}; expected {required}"
        )
    for column in (c for c in required if c in _NUMERIC):
        values = pd.to_numeric(frame[column], errors="coerce")
        bad = values.isna() & frame[column].notna()
        if bad.any() or (column == "year" and values.isna().any()):
            row = int(bad.idxmax() if bad.any() else values.isna().idxmax()) + 2
            raise tracking_store.TrackingError(
                f"MLflow run {run_id}: {path}, row {row}, column {column!r}: expected a number, "
                f"found {frame[column].iloc[row - 2]!r}"
            )
        frame[column] = values.astype("int64") if column == "year" else values
    return frame


def _vintage_last_year(config: RunConfig, vintage: str, table: str) -> int | None:
    """The last year of ``table`` in a vintage's MANIFEST (None when the vintage is gone)."""
    from exportcast.flows.snapshot import read_manifest
    from exportcast.flows.vintages import resolve_vintage

    try:
        _, folder = resolve_vintage(vintage, config.data.vintages_dir, config.data.snapshot_dir)
        years = read_manifest(folder)["tables"][table]["years"]
        return int(years[1])
    except (ExportcastError, KeyError, TypeError, IndexError, ValueError):
        return None


def _seen(
    config: RunConfig, store: tracking_store.Store, run: Mapping[str, Any], cur: Current, tmp: Path
) -> pd.DataFrame:
    """The partner data an earlier run used.

    Its ``report_data/history.csv`` (its panel's last 15 years), else its vintage's table from
    the store (to its last data year).

    Raises:
        TrackingError: Neither is available.
    """
    cols = ["reporter", "partner", "year", "export_usd"]
    try:
        return read_run_csv(store, run["run_id"], "report_data/history.csv", cols, tmp)
    except tracking_store.TrackingError as first:
        from exportcast.flows.snapshot import load_snapshot
        from exportcast.flows.vintages import resolve_vintage

        try:
            data = config.data
            _, folder = resolve_vintage(run["data_vintage"], data.vintages_dir, data.snapshot_dir)
            frame = load_snapshot(folder, [cur.table])[cur.table]
        except ExportcastError as exc:
            raise tracking_store.TrackingError(
                f"{first}; and its vintage is unreadable: {exc}"
            ) from exc
        rows = frame.loc[(frame["reporter"] == cur.reporter) & (frame["year"] <= run["last_year"])]
        return rows[cols].reset_index(drop=True)


def _previous(
    config: RunConfig,
    store: tracking_store.Store,
    records: list[dict[str, Any]],
    cur: Current,
    tmp: Path,
) -> tuple[dict[str, Any], pd.DataFrame, dict[str, float], dict[str, str]]:
    """What changed since the previous run: meta, the change table, metrics and tags."""
    started = next((r["start_ms"] for r in records if r["run_id"] == cur.run_id), 2**62)
    prev, n_same = pick_previous(records, current_id=cur.run_id, started_ms=started,
                                 vintage=cur.vintage, config_hash=cur.config_hash)  # fmt: skip
    meta: dict[str, Any] = {"previous": None, "n_same": n_same, "notes": [],
                            "revision_pct": config.report.revision_pct,
                            "revision_usd": config.report.revision_usd}  # fmt: skip
    empty = pd.DataFrame(columns=CHANGE_COLUMNS)
    if prev is None:
        return meta, empty, {}, {}
    keys = ("run_id", "run_date", "data_vintage", "config_hash", "last_year")
    meta["previous"] = {k: prev[k] for k in keys}
    tags = {"previous_run_id": prev["run_id"], "previous_data_vintage": str(prev["data_vintage"])}
    metrics: dict[str, float] = {}
    try:
        conc = read_run_csv(store, prev["run_id"], "concentration.csv",
                            ["year", "kind", "dependence_share"], tmp)  # fmt: skip
        move = headline_comparison(conc, cur.concentration)
        meta["headline"] = move
        metrics = {"headline_previous": move["previous_share"],
                   "headline_change_pp": move["change_pp"]}  # fmt: skip
    except tracking_store.TrackingError as exc:
        meta["notes"].append(f"headline not compared: {exc}")
    changes = empty
    try:
        seen = _seen(config, store, prev, cur, tmp)
        changes = changes_since(seen, cur.panel, rel=config.report.revision_pct / 100,
                                abs_usd=config.report.revision_usd)  # fmt: skip
    except (tracking_store.TrackingError, ValueError) as exc:
        meta["notes"].append(f"data not compared: {exc}")
        meta["changes_compared"] = False
    else:
        meta["changes_compared"] = True
    return meta, changes, metrics, tags


def _track(
    config: RunConfig,
    store: tracking_store.Store,
    records: list[dict[str, Any]],
    cur: Current,
    tmp: Path,
) -> tuple[pd.DataFrame, list[str], int]:
    """Score every earlier run whose forecast years now have data (newest run first)."""
    started = next((r["start_ms"] for r in records if r["run_id"] == cur.run_id), 2**62)
    last_now = int(cur.panel["year"].max())
    seen_keys: set[tuple[Any, ...]] = set()
    frames, notes, considered = [], [], 0
    for run in sorted(records, key=lambda r: -r["start_ms"]):
        if (run["run_id"] == cur.run_id or run["status"] != "FINISHED" or not run["has_forecast"]
                or run["start_ms"] >= started or run["last_year"] is None):  # fmt: skip
            continue
        key = (run["data_vintage"], run["config_hash"], run["last_year"])
        if key in seen_keys:  # the same computation again: the newest one counts
            continue
        seen_keys.add(key)
        # published after it: only years its data vintage did not have for the reporter
        held = _vintage_last_year(config, str(run["data_vintage"]), cur.table)
        after = max(run["last_year"], held if held is not None else run["last_year"])
        if after >= last_now:
            continue
        considered += 1
        if held is None:
            notes.append(f"run {run['run_id']}: its vintage {run['data_vintage']} is not in the "
                         "store; scored the years after its last data year")  # fmt: skip
        try:
            fc = read_run_csv(
                store, run["run_id"], "forecasts.csv", ["partner", "year", "mean"], tmp
            )
            conc = read_run_csv(store, run["run_id"], "concentration.csv",
                                ["year", "kind", "dependence_share"], tmp)  # fmt: skip
        except tracking_store.TrackingError as exc:
            notes.append(f"skipped run {run['run_id']}: {exc}")
            continue
        try:
            seen, source = _seen(config, store, run, cur, tmp), "run"
        except tracking_store.TrackingError:
            seen, source = cur.panel, "revised"
            notes.append(f"run {run['run_id']}: its own data are gone; no change uses today's "
                         f"data for {run['last_year']}")  # fmt: skip
        try:
            frames.append(score_run(run, fc.loc[fc["year"] > after], conc, seen, cur.panel,
                                    cur.concentration, no_change_data=source))  # fmt: skip
        except (ValueError, TypeError, KeyError) as exc:
            notes.append(f"skipped run {run['run_id']}: its artifacts do not fit together: {exc}")
    frames = [f for f in frames if not f.empty]
    table = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=TRACK_COLUMNS)
    return table, notes, considered


def collect(config: RunConfig, cur: Current) -> RunHistory:
    """The previous run and the track record across vintages for this (open) run.

    Never raises for a store or artifact problem: the report then says what could not be
    read (``meta["error"]`` or the notes).
    """
    store = tracking_store.resolve_store(config.tracking.uri, config.tracking.artifacts)
    experiment = config.tracking.experiment.format(reporter=config.reporter)
    empty_track = pd.DataFrame(columns=TRACK_COLUMNS)
    try:
        records = _records(store, experiment)
        with tempfile.TemporaryDirectory(prefix="exportcast-history-") as tmp:
            prev_meta, changes, metrics, tags = _previous(config, store, records, cur, Path(tmp))
            track, notes, considered = _track(config, store, records, cur, Path(tmp))
    except Exception as exc:  # a report section must not stop the forecast
        meta = {"error": f"{type(exc).__name__}: {exc}", "previous": None, "n_same": 0,
                "notes": [], "track_notes": [], "track_runs": 0}  # fmt: skip
        return RunHistory(meta, pd.DataFrame(columns=CHANGE_COLUMNS), empty_track)
    meta = {**prev_meta, "track_notes": notes, "track_runs": considered}
    return RunHistory(meta, changes, track, {**metrics, **track_metrics(track)}, tags)


def log_history(mlrun: TrackedRun, history: RunHistory) -> None:
    """Record it in the run: tags, metrics and the two tables as artifacts."""
    if history.tags:
        mlrun.set_tags(history.tags)
    if history.metrics:
        mlrun.log_metrics(history.metrics)
    if history.meta.get("previous") is not None:
        mlrun.log_table(history.changes, CHANGES_FILE)
    mlrun.log_table(history.track, TRACK_FILE)


def describe(history: RunHistory) -> str:
    """One progress line: the previous run and the track record."""
    meta = history.meta
    if meta.get("error"):
        return f"could not read earlier runs ({meta['error']})"
    prev = meta.get("previous")
    same = int(meta.get("n_same") or 0)
    none = f"no previous run ({same} on this vintage and config)" if same else "first run on record"
    head = none if prev is None else (
        f"previous run {prev['run_id'][:8]} (data {str(prev['data_vintage'])[:8]}), "
        f"{int((history.changes['kind'] == 'revision').sum())} revision(s)"
    )  # fmt: skip
    years = len(history.track[["run_id", "year"]].drop_duplicates())
    skipped = len(meta.get("track_notes") or [])
    return (
        f"{head}; track record: {meta.get('track_runs', 0)} earlier run(s), {years} year(s) "
        f"scored{f', {skipped} note(s)' if skipped else ''}"
    )


def attach(
    bundle: dict[str, Any],
    config: RunConfig,
    run_id: str,
    run: Any,
    exports_table: str,
    panel: pd.DataFrame,
    concentration: pd.DataFrame,
) -> None:
    """Add the previous run and the track record to the report bundle, with a progress line.

    ``run`` is the pipeline's run info (its ``vintage`` and ``config_hash``).
    """
    from exportcast.flows.progress import stage_line

    current = Current(run_id, config.reporter, run.vintage, run.config_hash, exports_table,
                      panel, concentration)  # fmt: skip
    bundle["run_history"] = collect(config, current)
    bundle["meta"]["run_history"] = bundle["run_history"].meta
    stage_line("earlier runs", describe(bundle["run_history"]))
