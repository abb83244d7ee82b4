"""The run's last stages, in order: its MLflow record, the output folder, the report.

The MLflow run itself ends after all three (the caller's ``open_run``). The Chromium that
prints the report's PDF (``reports.printer.PdfPrinter``) is started before the MLflow record
and prints over its DevTools pipe once the HTML exists. Chromium takes about 1.1 s of CPU (on
both cores) to start and 0.8 s more to print the report: started here, the report stage took
0.9-1.0 s instead of 1.4-1.8 s and the MLflow record 1.0-1.2 s instead of 0.7-0.9 s (five
alternated warm reruns each, 2026-12-04; whole command median 8.07 s against 8.15 s with
Chromium started in the report stage and 8.28 s started after the record; lowering Chromium's
priority with ``nice`` changed nothing).

Recording the run while Chromium printed the PDF was tried (2026-12-04): five paired warm
reruns took 2.61 s from ``earlier runs`` to the report's end against 2.63 s in order, since
Chromium's printing keeps the second core busy itself; it was not kept.
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
from exportcast.reports.printer import PdfPrinter

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
    report = bundle is not None and config.report.enabled
    # Chromium starts now, on the second core, while this process records the MLflow run
    printer = PdfPrinter() if report and config.report.pdf else None
    try:
        with use_cache_dir(charts):  # the MLflow chart is kept with the report's
            record = log_run(
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
        folder = write_outputs(concentration, run, record, engine, bundle, report).path
        if report:
            make_report(folder, run, record, config.report.pdf, charts, printer)
    finally:
        if printer is not None:  # Chromium exits while the run ends (reports/printer.py)
            printer.close(wait=False)
    return folder
