"""The report bundle and the policy report: written by every run, rebuilt from any MLflow run.

A run writes a *report bundle* into its output folder (``outputs/<reporter>/``): the tables
the report shows (indices, forecasts, history, backtest accuracy, the backtest of the
dependence share, opportunities, scenarios) and ``report.json`` (who, when, which data,
config, run ids, sources). The same files are logged to the MLflow run under
``report_data/``. The report (``reports.build_report``: HTML, PDF, XLSX) is built only from a
bundle, so ``exportcast report --run-id ID`` downloads ``report_data/`` of any past run and
rebuilds exactly what that run showed. The report files go to ``<output folder>/report/`` and
to the run's ``report/`` artifacts.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from exportcast.flows import tracking_runs, tracking_store
from exportcast.flows.io import atomic_write, write_csv
from exportcast.flows.scenarios import index_columns, partner_columns
from exportcast.reports.bundle import check_reporter_code

if TYPE_CHECKING:
    from exportcast.reports.printer import PdfPrinter

__all__ = [
    "BUNDLE_FILES",
    "REPORT_ARTIFACTS",
    "REPORT_DATA",
    "ReportOutcome",
    "build_and_log_report",
    "report_from_run",
    "sources_from_manifest",
    "write_bundle",
]

REPORT_DATA = "report_data"  # MLflow artifact folder of the bundle
REPORT_ARTIFACTS = "report"  # MLflow artifact folder of the HTML/PDF/XLSX
BUNDLE_FILES = (
    "report.json",
    "concentration.csv",
    "forecasts.csv",
    "history.csv",
    "backtest_accuracy.csv",
    "index_backtest.csv",
    "opportunities.csv",
    "scenario_partners.csv",
    "scenario_indices.csv",
    "fta_track_record.csv",
    "changes_since_last_run.csv",  # flows/run_history.py (docs/data-updates.md)
    "vintage_track.csv",
)
HISTORY_YEARS = 15  # years of partner history shipped with the bundle


@dataclass(frozen=True)
class ReportOutcome:
    """Where a report was written and which MLflow run holds it."""

    html: Path
    pdf: Path | None
    xlsx: Path
    run_id: str | None


def sources_from_manifest(manifest: dict[str, Any]) -> list[dict[str, str]]:
    """One attribution entry per (snapshot table, upstream source), from the MANIFEST.

    Returns:
        ``table, publisher, title, license, url`` (``title`` is the raw file, ``url`` the
        upstream repository and commit).
    """
    out = []
    for table, entry in sorted(manifest.get("tables", {}).items()):
        for src in entry.get("sources", []):
            repo = src.get("upstream_repository", "")
            commit = src.get("upstream_commit", "")
            out.append(
                {
                    "table": table,
                    "publisher": src.get("publisher", ""),
                    "title": src.get("raw_file", ""),
                    "license": src.get("license", ""),
                    "url": f"{repo} @ {commit}".strip(" @"),
                }
            )
    return out


def write_bundle(
    folder: Path,
    *,
    meta: dict[str, Any],
    tables: dict[str, pd.DataFrame],
) -> list[Path]:
    """Write the report bundle (each file atomically) and return the paths, report.json last.

    Args:
        folder: Output folder.
        meta: Content of ``report.json``.
        tables: ``<name>.csv`` frames; names must be bundle files.

    Raises:
        ValueError: A table name that is not a bundle file.
    """
    unknown = sorted(set(tables) - {f.removesuffix(".csv") for f in BUNDLE_FILES})
    if unknown:
        raise ValueError(f"not report bundle tables: {unknown}; expected {list(BUNDLE_FILES)}")
    folder.mkdir(parents=True, exist_ok=True)
    paths = [
        write_csv(frame, folder / f"{name}.csv", float_format="%.10g")
        for name, frame in tables.items()
    ]
    text = json.dumps(meta, indent=2, sort_keys=True, default=_json_default) + "\n"
    paths.append(atomic_write(folder / "report.json", lambda p: p.write_text(text, "utf-8")))
    return paths


def _json_default(value: Any) -> Any:
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    raise TypeError(f"report.json: cannot serialise {type(value).__name__}")


def build_and_log_report(
    bundle: Path,
    *,
    out_dir: Path,
    store: tracking_store.Store | None,
    run_id: str | None,
    pdf: bool = True,
    log_bundle: bool = True,
    chart_cache: Path | None = None,
    log: Callable[[str], None] = print,
    printer: PdfPrinter | None = None,
) -> ReportOutcome:
    """Build HTML/PDF/XLSX from a bundle folder and attach bundle and report to an MLflow run.

    Args:
        bundle: The bundle folder.
        out_dir: Where the report files go.
        store: The tracking store (None: do not log).
        run_id: The MLflow run to attach them to (None: do not log).
        pdf: Also print the PDF with headless Chromium.
        log_bundle: Also log the bundle files under ``report_data/``.
        chart_cache: A folder keeping rendered charts (``reports.charts.use_cache_dir``).
        log: Progress printer.
        printer: A Chromium started earlier for the PDF (None: one is started here).
    """
    from exportcast.reports import build_report
    from exportcast.reports.charts import use_cache_dir

    with use_cache_dir(chart_cache):
        files = build_report(bundle, out_dir, pdf=pdf, printer=printer)
    made = [files.html, files.xlsx] + ([files.pdf] if files.pdf is not None else [])
    log(f"  report: {', '.join(p.name for p in made)} in {out_dir}")
    if store is not None and run_id is not None:
        bundle_files = [bundle / f for f in BUNDLE_FILES if (bundle / f).exists()]
        tracking_runs.log_artifacts(
            store,
            run_id,
            {REPORT_ARTIFACTS: made, **({REPORT_DATA: bundle_files} if log_bundle else {})},
        )
    return ReportOutcome(files.html, files.pdf, files.xlsx, run_id)


def report_from_run(
    store: tracking_store.Store,
    experiment: str,
    *,
    run_id: str | None,
    out_dir: Path | None,
    output_root: Path,
    pdf: bool = True,
    log: Callable[[str], None] = print,
) -> ReportOutcome:
    """Rebuild the report of a past run from its logged bundle (``report_data/``).

    Args:
        store: The tracking store.
        experiment: Experiment to take the newest run with a bundle from when ``run_id`` is None.
        run_id: The run to re-report.
        out_dir: Where the files go (default ``<output_root>/<reporter>/report``).
        output_root: The config's output folder.
        pdf: Also print the PDF.
        log: Progress printer.

    Raises:
        tracking_store.TrackingError: Unknown run, or a run without a report bundle.
    """
    if run_id is None:
        run_id = tracking_runs.latest_run_with(store, experiment, f"{REPORT_DATA}/report.json")
        log(f"newest run with a report bundle in {experiment}: {run_id}")
    with tempfile.TemporaryDirectory(prefix="exportcast-bundle-") as tmp:
        bundle = tracking_runs.download_folder(store, run_id, REPORT_DATA, Path(tmp))
        meta = json.loads((bundle / "report.json").read_text("utf-8"))
        reporter = check_reporter_code(meta.get("reporter"), f"run {run_id}: report.json")
        target = out_dir or output_root / reporter / "report"
        return build_and_log_report(
            bundle, out_dir=target, store=store, run_id=run_id, pdf=pdf, log_bundle=False, log=log
        )


def history_table(panel: pd.DataFrame, years: int = HISTORY_YEARS) -> pd.DataFrame:
    """The last ``years`` years of the trade panel: ``reporter, partner, year, export_usd``."""
    last = int(panel["year"].max())
    rows = panel[panel["year"] > last - years]
    return rows[["reporter", "partner", "year", "export_usd"]].sort_values(
        ["year", "partner"], ignore_index=True
    )


def scenario_tables(results: Sequence[Any], levels: Sequence[int]) -> dict[str, pd.DataFrame]:
    """Stack the scenarios' frames (empty frames with the contract's columns when none)."""
    if results:
        partners = pd.concat([r.partners for r in results], ignore_index=True)
        indices = pd.concat([r.indices for r in results], ignore_index=True)
        return {"scenario_partners": partners, "scenario_indices": indices}
    return {
        "scenario_partners": pd.DataFrame(columns=partner_columns(tuple(levels))),
        "scenario_indices": pd.DataFrame(columns=index_columns(tuple(levels))),
    }


def created_utc() -> str:
    """Now, UTC, ISO 8601 to the second."""
    return datetime.now(UTC).replace(microsecond=0).isoformat()
