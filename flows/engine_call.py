"""The one place that turns a run's settings into an engine call.

The pipeline's ``forecast partners`` stage, the scenarios' ex-ante baselines, the Dask runner
and the benchmarks that time or score the product's backtest all call the engine through
:func:`engine_args` / :func:`run_configured_engine`, so they cannot drift apart (which models,
which origins, weights, levels, paths, the per-origin split, the fallback limit).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd
from threadpoolctl import threadpool_limits

from exportcast.features.series import ForecastSeries, origin_histories
from exportcast.models.engine import EngineResult, run_engine

__all__ = ["engine_args", "last_year_weights", "run_configured_engine"]


def last_year_weights(fs: ForecastSeries) -> pd.Series:
    """Accuracy weight of each series: its share of the reporter's exports in the last year."""
    series = fs.series
    last = series.loc[series["ds"] == fs.last_year]
    return (last.set_index("unique_id")["y"] / last["y"].sum()).reindex(
        series["unique_id"].unique(), fill_value=0.0
    )


def engine_args(
    fs: ForecastSeries,
    settings: dict[str, Any],
    horizon: int,
    *,
    panel: pd.DataFrame | None = None,
    demand_tables: Mapping[str, pd.DataFrame] | None = None,
) -> dict[str, Any]:
    """Keyword arguments of :func:`models.engine.run_engine` for these series and settings.

    Args:
        fs: The partner series at the forecast origin (their last year is the origin).
        settings: The config's ``forecast`` section as JSON (``ForecastConfig.model_dump``).
        horizon: Years ahead.
        panel: The reporter's trade panel up to the origin; with it the backtest's partner
            split is decided at each backtest origin with data to that origin only
            (:func:`features.series.origin_histories`).
        demand_tables: Snapshot tables of the demand model (``models.demand.DEMAND_TABLES``),
            needed when ``settings["demand_model"]`` adds it as a candidate.

    Returns:
        Everything but the series and the worker count: scored origins are those of
        ``forecast.backtest`` before the origin, history origins those from
        ``forecast.history_start``.
    """
    backtest = settings["backtest"]
    scored = range(backtest["start"], min(backtest["end"], fs.last_year - 1) + 1)
    past = range(settings["history_start"], backtest["start"])
    args: dict[str, Any] = {
        "h": horizon,
        "models": settings["models"],
        "scored_origins": scored,
        "history_origins": past,
        "levels": settings["levels"],
        "weights": last_year_weights(fs),
        "n_paths": settings["n_paths"],
        "seed": settings["seed"],
        "max_fallback_share": settings["max_fallback_share"],
    }
    if panel is not None:
        args["history"] = origin_histories(
            panel, [*past, *scored], min_years=settings["min_years"], h=horizon
        )
    if settings.get("demand_model"):
        from exportcast.models.demand import DEMAND_TABLES, demand_candidate  # only when asked

        if demand_tables is None:
            raise ValueError(
                f"forecast.demand_model needs the snapshot tables {', '.join(DEMAND_TABLES)}"
            )
        args["panel_models"] = [demand_candidate(fs.series, demand_tables, settings["weo_as_of"])]
    return args


def run_configured_engine(
    fs: ForecastSeries,
    settings: dict[str, Any],
    horizon: int,
    *,
    panel: pd.DataFrame | None = None,
    runner: dict[str, Any] | None = None,
    demand_tables: Mapping[str, pd.DataFrame] | None = None,
) -> EngineResult:
    """Run the engine as the config says: here with ``forecast.n_jobs``, or on Dask.

    ``runner`` (the config's ``runner`` section) with ``kind: dask`` sends the per-partner
    backtests and forecasts to a Dask cluster in chunks (:mod:`flows.parallel`); the result is
    the same as with the default runner. One BLAS thread per worker.
    """
    args = engine_args(fs, settings, horizon, panel=panel, demand_tables=demand_tables)
    with threadpool_limits(limits=1, user_api="blas"):
        if runner is not None and runner.get("kind") == "dask":
            if args.get("panel_models"):
                raise ValueError("forecast.demand_model runs only with the default runner")
            from exportcast.flows.parallel import run_engine_dask  # imports dask only when used

            return run_engine_dask(fs.series, runner=runner, **args)
        return run_engine(fs.series, n_jobs=settings["n_jobs"], **args)
