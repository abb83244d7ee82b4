"""The engine call of a run's settings, on the configured runner (this process or Dask).

The pure part (which models, which origins, weights, levels, paths, the per-origin split, the
fallback limit) is :func:`models.engine_call.engine_args`, shared with the notebook API and the
benchmarks. The pipeline's ``forecast partners`` stage, the scenarios' ex-ante baselines and
the Dask runner call the engine through :func:`run_configured_engine`, so they cannot drift
apart.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd
from threadpoolctl import threadpool_limits

from exportcast.features.series import ForecastSeries
from exportcast.models.engine import EngineResult
from exportcast.models.engine_call import engine_args, last_year_weights, run_engine_locally

__all__ = ["engine_args", "last_year_weights", "run_configured_engine"]


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
    if runner is None or runner.get("kind") != "dask":
        return run_engine_locally(fs, settings, horizon, panel=panel, demand_tables=demand_tables)
    args = engine_args(fs, settings, horizon, panel=panel, demand_tables=demand_tables)
    if args.get("panel_models"):
        raise ValueError("forecast.demand_model runs only with the default runner")
    from exportcast.flows.parallel import run_engine_dask  # imports dask only when used

    with threadpool_limits(limits=1, user_api="blas"):
        return run_engine_dask(fs.series, runner=runner, **args)
