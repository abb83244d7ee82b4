"""The run's last stages: its MLflow record, the output folder and the report.

The outputs and the report need only the MLflow run's id (known since the run was opened), so
with a report the flow writes the outputs, then the report's HTML and workbook, and records
the run in MLflow (``log run``) while Chromium prints the PDF in its own process: about 0.5 s
of every run (docs/operations.md). The MLflow run ends after both (the caller's
``open_run``); an error of either fails it. Without a report the run is recorded first, then
the outputs are written, as always.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from exportcast.configs import RunConfig
from exportcast.features.series import ForecastSeries
from exportcast.flows import cache_keys, run_history, tracking
from exportcast.flows.outputs import make_report, write_outputs
from exportcast.flows.run_info import RunInfo
from exportcast.flows.run_record import log_run
from exportcast.models.engine import EngineResult
from exportcast.models.scenarios import ScenarioResult
from exportcast.reports.charts import use_cache_dir

__all__ = ["finish_run"]


def finish_run(
    config: RunConfig,
    run: RunInfo,
    mlrun: tracking.TrackedRun,
    concentration: pd.DataFrame,
    engine: EngineResult | None,
    series: ForecastSeries | None,
    scenarios: list[ScenarioResult],
    index_track: pd.DataFrame | None,
    bundle: dict[str, Any] | None,
) -> Path:
    """Record the run in MLflow, write the output folder and the report; return the folder.

    Args:
        config: The run's configuration.
        run: Who the run is (ids, store, output folder).
        mlrun: The open MLflow run.
        concentration: History and index forecasts.
        engine: The partner forecasts (None without forecasts).
        series: The partner series the engine ran on.
        scenarios: The scenarios' results.
        index_track: The index backtest.
        bundle: The report bundle's tables and metadata (None without forecasts).
    """
    charts = cache_keys.cache_dir(config) / "charts" if config.cache.enabled else None

    def record_run() -> None:
        with use_cache_dir(charts):  # the MLflow chart is kept with the report's
            log_run(
                mlrun,
                concentration,
                run,
                engine,
                series,
                scenarios,
                index_track,
                None if bundle is None else bundle["backtest_forecasts"],
                None if bundle is None else bundle["fta_track_record"],
            )
        if bundle is not None:
            run_history.log_history(mlrun, bundle["run_history"])

    report = bundle is not None and config.report.enabled
    if not report:
        record_run()
    folder = write_outputs(concentration, run, mlrun.record, engine, bundle, report).path
    if report:
        make_report(folder, run, mlrun.record, config.report.pdf, charts, record_run)
    return folder
