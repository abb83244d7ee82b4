"""The one place that turns a run's forecast settings into an engine call (pure part).

The pipeline's ``forecast partners`` stage, the scenarios' ex-ante baselines, the Dask runner
(through :mod:`flows.engine_call`), the notebook API (:mod:`models.auto`) and the benchmarks
that time or score the product's backtest all build their engine call with
:func:`engine_args`, so they cannot drift apart: which models, which origins, weights, levels,
paths, the per-origin split, the fallback limit. :func:`run_engine_locally` runs that call in
this process; :func:`flows.engine_call.run_configured_engine` adds the Dask runner.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd
from threadpoolctl import threadpool_limits

from exportcast.features.provisional import drop_provisional_actuals
from exportcast.features.series import ForecastSeries, origin_histories
from exportcast.models.engine import EngineResult, run_engine

__all__ = ["engine_args", "last_year_weights", "run_engine_locally", "series_of"]


def series_of(fs: ForecastSeries | pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """The engine's long frame ``unique_id, ds, y`` and its last year (the forecast origin).

    Args:
        fs: The pipeline's :class:`features.series.ForecastSeries`, or a long frame of series
            (the notebook API) whose last year is its largest ``ds``.
    """
    if isinstance(fs, ForecastSeries):
        return fs.series, fs.last_year
    return fs, int(fs["ds"].max())


def last_year_weights(fs: ForecastSeries | pd.DataFrame) -> pd.Series:
    """Accuracy weight of each series: its share of the series' total in the last year."""
    series, last_year = series_of(fs)
    last = series.loc[series["ds"] == last_year]
    return (last.set_index("unique_id")["y"] / last["y"].sum()).reindex(
        series["unique_id"].unique(), fill_value=0.0
    )


def engine_args(
    fs: ForecastSeries | pd.DataFrame,
    settings: Mapping[str, Any],
    horizon: int,
    *,
    panel: pd.DataFrame | None = None,
    demand_tables: Mapping[str, pd.DataFrame] | None = None,
) -> dict[str, Any]:
    """Keyword arguments of :func:`models.engine.run_engine` for these series and settings.

    Args:
        fs: The partner series at the forecast origin (their last year is the origin), or a
            long frame ``unique_id, ds, y``.
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

    Raises:
        ValueError: The demand model is asked for without its tables.
    """
    series, last_year = series_of(fs)
    backtest = settings["backtest"]
    scored = range(backtest["start"], min(backtest["end"], last_year - 1) + 1)
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
        history = origin_histories(
            panel, [*past, *scored], min_years=settings["min_years"], h=horizon
        )
        # a partial release's year is never scored (features/provisional.py)
        provisional = fs.provisional_years if isinstance(fs, ForecastSeries) else ()
        args["history"] = drop_provisional_actuals(history, provisional)
    if settings.get("demand_model"):
        from exportcast.models.demand import DEMAND_TABLES, demand_candidate  # only when asked

        if demand_tables is None:
            raise ValueError(
                f"forecast.demand_model needs the snapshot tables {', '.join(DEMAND_TABLES)}"
            )
        args["panel_models"] = [demand_candidate(series, demand_tables, settings["weo_as_of"])]
    return args


def run_engine_locally(
    fs: ForecastSeries | pd.DataFrame,
    settings: Mapping[str, Any],
    horizon: int,
    *,
    panel: pd.DataFrame | None = None,
    demand_tables: Mapping[str, pd.DataFrame] | None = None,
) -> EngineResult:
    """Run the engine call of :func:`engine_args` in this process (``forecast.n_jobs`` workers).

    One BLAS thread per worker, as on every runner.
    """
    series, _ = series_of(fs)
    args = engine_args(fs, settings, horizon, panel=panel, demand_tables=demand_tables)
    with threadpool_limits(limits=1, user_api="blas"):
        return run_engine(series, n_jobs=settings["n_jobs"], **args)
