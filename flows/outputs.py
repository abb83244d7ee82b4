"""The output folder of a run (``outputs/<reporter>/``): data files, report bundle, run.json, report.

:func:`write_outputs` writes the data files and the report bundle atomically and removes the
files an earlier run left that this run does not write; :func:`make_report` builds the
HTML/PDF/XLSX report from the bundle. :func:`bundle_meta` is the bundle's metadata.
"""

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd
from prefect import task
from prefect.cache_policies import NO_CACHE

from exportcast.configs import RunConfig
from exportcast.features.panel import series_to_panel
from exportcast.flows import report as report_files
from exportcast.flows import tracking_store
from exportcast.flows.cache_keys import is_transient
from exportcast.flows.io import atomic_write, write_csv
from exportcast.flows.progress import describe_folder, describe_report, report_stage, stage_log
from exportcast.flows.run_info import OutputFolder, RunInfo
from exportcast.flows.snapshot import Snapshot
from exportcast.flows.vintages import snapshot_folder, vintage_notes
from exportcast.models.engine import EngineResult
from exportcast.models.weo_provenance import weo_vintage_per_row
from exportcast.reports.printer import PdfPrinter


def fallback_records(engine: EngineResult) -> list[dict[str, Any]]:
    """The engine's fallback counts as JSON records (``run.json``, the report bundle)."""
    counts = engine.fallbacks[["stage", "model", "replaced", "fits"]]
    return [
        {
            "stage": str(r.stage),
            "model": str(r.model),
            "replaced": int(r.replaced),
            "fits": int(r.fits),
        }
        for r in counts.itertuples()
    ]


def forecast_table(engine: EngineResult, weo_live: str | None = None) -> pd.DataFrame:
    """The engine's partner forecasts as a panel (``mean`` column), as in ``forecasts.csv``.

    ``weo_vintage`` says which WEO vintage fed each row: ``weo_live`` (the newest in the
    snapshot) where the row's model reads the WEO outlook, "none" elsewhere (docs/outputs.md).
    """
    table = series_to_panel(engine.forecast).rename(columns={"export_usd": "mean"})
    return table.assign(weo_vintage=weo_vintage_per_row(table["model"], weo_live).to_numpy())


OUTPUT_FILES: tuple[str, ...] = tuple(
    dict.fromkeys(("concentration.csv", *report_files.BUNDLE_FILES, "backtest_forecasts.csv"))
)
"""Every data file a run may write into ``outputs/<reporter>/`` (besides ``run.json``)."""


def report_files_of(folder: Path, reporter: str) -> list[Path]:
    """The report files (HTML/PDF/XLSX, any year) of ``reporter`` in ``folder/report``."""
    return sorted(
        p
        for p in (folder / "report").glob(f"exportcast-report-{reporter}-*")
        if p.suffix in {".html", ".pdf", ".xlsx"}
    )


def remove_stale(paths: list[Path]) -> list[Path]:
    """Delete files an earlier run left in the output folder; return those deleted."""
    removed = []
    for path in paths:
        if path.is_file():
            path.unlink()
            removed.append(path)
    return removed


@task(
    retries=2,
    retry_delay_seconds=2,
    retry_condition_fn=is_transient,
    cache_policy=NO_CACHE,
    on_completion=report_stage(describe_folder),
)
def write_outputs(
    concentration: pd.DataFrame,
    run: RunInfo,
    record: tracking_store.RunRecord,
    engine: EngineResult | None,
    bundle: dict[str, Any] | None = None,
    report: bool = False,
) -> OutputFolder:
    """Write the output folder atomically: indices, forecasts, accuracy, report bundle, run.json.

    ``bundle`` (with an engine result) holds the report bundle's extra tables and metadata
    (``history``, ``opportunities``, ``index_backtest``, ``scenarios`` results, ``meta``); see
    :mod:`flows.report`; its ``backtest_forecasts`` table is written as
    ``backtest_forecasts.csv``. ``report``: a report will be built into ``report/`` after this.

    The folder holds one run's outputs: files of :data:`OUTPUT_FILES` that this run does not
    write (e.g. ``forecasts.csv`` after a run with ``forecast.enabled=false``), and the
    reporter's report files when no report will be built, are deleted once the new files are
    in place; ``run.json`` is written last and lists the files of this run.
    """
    folder = run.output_dir
    table = concentration.assign(data_vintage=run.vintage)
    write_csv(table, folder / "concentration.csv", float_format="%.10g")
    files = ["concentration.csv"]
    meta: dict[str, Any] = {}
    if engine is not None:
        fc = forecast_table(engine, run.weo_vintage_live).assign(data_vintage=run.vintage)
        write_csv(fc, folder / "forecasts.csv", float_format="%.10g")
        write_csv(engine.accuracy, folder / "backtest_accuracy.csv", float_format="%.6g")
        files += ["forecasts.csv", "backtest_accuracy.csv"]
        meta = {
            "selected_model": engine.model,
            "interval_coverage_backtest": engine.coverage,
            "rolling_choices": {int(r.cutoff): r.model for r in engine.choices.itertuples()},
            "fallbacks": fallback_records(engine),
        }
        if bundle is not None and bundle.get("backtest_forecasts") is not None:
            path = folder / "backtest_forecasts.csv"
            write_csv(bundle["backtest_forecasts"], path, float_format="%.10g")
            files.append(path.name)
        if bundle is not None:
            files += _write_bundle(folder, run, record, engine, bundle)
    stale = [folder / name for name in OUTPUT_FILES if name not in files]
    removed = remove_stale(stale + ([] if report else report_files_of(folder, run.reporter)))
    meta = {
        "reporter": run.reporter,
        "data_vintage": run.vintage,
        "config_hash": run.config_hash,
        "code_version": run.code_version,
        "prefect_flow_run_id": run.flow_run_id,
        "mlflow_run_id": record.run_id,
        "config": run.config,
        **run.data_meta,  # years.end configured/resolved, partial releases (flows/years.py)
        "files": files,
        **meta,
    }
    text = json.dumps(meta, indent=2, sort_keys=True) + "\n"
    atomic_write(folder / "run.json", lambda p: p.write_text(text, encoding="utf-8"))
    return OutputFolder(folder, files, removed)


@task(
    retries=1,
    retry_delay_seconds=2,
    retry_condition_fn=is_transient,
    cache_policy=NO_CACHE,
    on_completion=report_stage(describe_report),
)
def make_report(
    folder: Path,
    run: RunInfo,
    record: tracking_store.RunRecord,
    pdf: bool,
    chart_cache: Path | None = None,
    printer: PdfPrinter | None = None,
) -> Path:
    """Build the HTML/PDF/XLSX report from the bundle; attach bundle and report to the run.

    ``chart_cache``: a folder that keeps rendered charts for identical reruns
    (``reports.charts.use_cache_dir``; the run's ``cache.dir/charts`` when caching is on).
    ``printer``: the Chromium the run started for the PDF (``flows.finish``; None: one is
    started here).

    Report files of the reporter that this run did not write (an earlier run's PDF when
    ``pdf`` is off, or a report of other years) are deleted, as :func:`write_outputs` does
    for the data files.
    """
    log = stage_log()
    outcome = report_files.build_and_log_report(
        folder,
        out_dir=folder / "report",
        store=run.store,
        run_id=record.run_id,
        pdf=pdf,
        chart_cache=chart_cache,
        log=log,
        printer=printer,
    )
    made = {outcome.html, outcome.xlsx, outcome.pdf}
    removed = remove_stale([p for p in report_files_of(folder, run.reporter) if p not in made])
    if removed:
        names = ", ".join(p.name for p in removed)
        log(f"  report: removed {len(removed)} file(s) an earlier run had left there ({names})")
    return outcome.html


def live_weo_vintage(tables: Mapping[str, pd.DataFrame]) -> str | None:
    """The newest WEO vintage in the snapshot (None without the ``weo_vintages`` table)."""
    from exportcast.features.outlook import vintage_at

    table = tables.get("weo_vintages")
    return None if table is None or table.empty else vintage_at(table)


def display_name(name: str) -> str:
    """ISO's inverted names read naturally: 'Korea, Republic of' -> 'Republic of Korea'."""
    head, sep, tail = name.partition(", ")
    return f"{tail} {head}" if sep and tail.endswith(" of") else name


def bundle_meta(
    config: RunConfig, run: RunInfo, snapshot: Snapshot, panel: pd.DataFrame, engine: EngineResult
) -> dict[str, Any]:
    """The report bundle's metadata: reporter, years, levels, hashes, sources, names, WEO vintage."""
    countries = snapshot["countries"].set_index("country")["name"]
    # the years the data and the backtest actually cover (a DOTS reporter's data end in 2020,
    # a late-starting one's early origins are not scored: models.engine.scorable_origins)
    cutoffs = engine.choices["cutoff"]
    return {
        "reporter": config.reporter,
        "reporter_name": display_name(str(countries.get(config.reporter, config.reporter))),
        "dependence_set": list(config.dependence_set),
        "horizon": config.horizon,
        "first_year": int(panel["year"].min()),
        "last_year": int(panel["year"].max()),
        "levels": list(config.forecast.levels),
        "dependence_threshold": config.forecast.dependence_threshold,
        "data_vintage": run.vintage,
        "config_hash": run.config_hash,
        "code_version": run.code_version,
        "created_utc": report_files.created_utc(),
        "config": run.config,
        "sources": report_files.sources_from_manifest(snapshot.manifest),
        "partner_names": {str(k): display_name(str(v)) for k, v in countries.items()},
        "backtest_period": [int(cutoffs.min()), int(cutoffs.max())],
        # the newest WEO vintage in the data: the live forecasts' outlook (the demand model, the
        # opportunities' partner GDP growth); the backtest's are per origin in backtest_forecasts
        "weo_vintage_live": live_weo_vintage(snapshot.tables),
        "data_update": vintage_notes(snapshot_folder(config.data)),  # docs/data-updates.md
        **run.data_meta,  # partial releases: reports/provisional.py
    }


def _write_bundle(
    folder: Path,
    run: RunInfo,
    record: tracking_store.RunRecord,
    engine: EngineResult,
    bundle: dict[str, Any],
) -> list[str]:
    """Write the report bundle (``report_data/`` tables and metadata); return the file names."""
    scenarios = bundle["scenarios"]
    tables = {
        "history": bundle["history"],
        "opportunities": bundle["opportunities"],
        "index_backtest": bundle["index_backtest"],
        **report_files.scenario_tables(scenarios, run.config["forecast"]["levels"]),
        **({} if bundle.get("fta_track_record") is None
           else {"fta_track_record": bundle["fta_track_record"]}),
        **(bundle["run_history"].tables if "run_history" in bundle else {}),
    }  # fmt: skip
    report_meta = {
        **bundle["meta"],
        "mlflow_run_id": record.run_id,
        "prefect_flow_run_id": run.flow_run_id,
        "selected_model": engine.model,
        "interval_coverage_backtest": {k.rsplit("-", 1)[-1]: v for k, v in engine.coverage.items()},
        "fallbacks": fallback_records(engine),
        "scenarios": [r.meta for r in scenarios],
    }
    written = report_files.write_bundle(folder, meta=report_meta, tables=tables)
    return [p.name for p in written]
