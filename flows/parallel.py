"""The forecasting engine with its per-partner work spread over a Dask cluster (prefect-dask).

``runner.kind: dask`` in the config sends the heavy part of :func:`models.engine.run_engine`
(the rolling-origin backtest of every candidate model and the live forecast, both per series)
to a Dask cluster as Prefect tasks: the partner series are cut into contiguous chunks (in the
engine's ``unique_id`` order), each chunk is one ``backtest_chunk`` task run, and the chunks'
frames, concatenated in order, are the frames the engine would have computed in one call.
Selection, conformal intervals and the joint sample paths then run centrally, step for step
as in ``run_engine``, so the result equals the default runner's
(``tests/flows/test_dask.py``).

The cluster is either a temporary ``distributed.LocalCluster`` of ``runner.n_workers``
single-threaded worker processes on 127.0.0.1, started for the stage and closed after it, or
the running scheduler at ``runner.address``.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import Any

import pandas as pd
from prefect import task
from prefect.cache_policies import NO_CACHE
from prefect_dask import DaskTaskRunner

from models.backtest import interval_coverage, rolling_select
from models.engine import ENSEMBLE, MODEL_CLASSES, EngineResult, _pooled_choice
from models.ensemble import add_ensemble
from models.forecasting import cross_validate, forecast_panel
from models.intervals import apply_conformal, fit_conformal
from models.metrics import evaluate_cv
from models.paths import window_error_paths
from models.timeseries import Naive

__all__ = ["CHUNK_SIZE", "backtest_chunk", "chunk_series", "dask_task_runner", "run_engine_dask"]

CHUNK_SIZE = 20  # at most this many series per task (and at least 2 chunks per worker)


def dask_task_runner(runner: dict[str, Any]) -> DaskTaskRunner:
    """prefect-dask's runner for a ``runner`` config section (``RunnerConfig`` as a dict)."""
    if runner.get("address"):
        return DaskTaskRunner(address=runner["address"])
    return DaskTaskRunner(
        cluster_kwargs={
            "n_workers": int(runner.get("n_workers", 2)),
            "threads_per_worker": 1,
            "processes": True,
            "host": "127.0.0.1",
            "dashboard_address": None,
        }
    )


def chunk_series(
    series: pd.DataFrame, n_workers: int, size: int = CHUNK_SIZE
) -> list[pd.DataFrame]:
    """Contiguous chunks of whole series, in the engine's ``unique_id`` order.

    About ``size`` series each, and at least two chunks per worker (balances slow series).
    """
    frame = series.sort_values(["unique_id", "ds"], kind="stable").reset_index(drop=True)
    ids = frame["unique_id"].unique()
    n_chunks = min(len(ids), max(math.ceil(len(ids) / size), 2 * n_workers))
    bounds = [round(k * len(ids) / n_chunks) for k in range(n_chunks + 1)]
    position = pd.Series(range(len(ids)), index=ids)[frame["unique_id"]].to_numpy()
    return [
        frame[(position >= lo) & (position < hi)].reset_index(drop=True)
        for lo, hi in itertools.pairwise(bounds)
    ]


@task(cache_policy=NO_CACHE, task_run_name="backtest_chunk-{index}")
def backtest_chunk(
    series: pd.DataFrame, index: int, *, h: int, models: Sequence[str], origins: Sequence[int]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Rolling backtest (``cross_validate``) and live forecast of every model for a chunk.

    The same calls as ``run_engine`` makes on all series at once; ``index`` only names the run.
    The live forecast covers every candidate (the choice needs all series' backtests).
    """
    instances = [MODEL_CLASSES[m]() for m in models]
    cv = cross_validate(series, instances, h, origins=list(origins), fallback=Naive(), n_jobs=1)
    fc = forecast_panel(series, [MODEL_CLASSES[m]() for m in models], h, fallback=Naive())
    return cv, fc


def _check(series: pd.DataFrame, models: Sequence[str], scored_origins, history_origins):
    # run_engine's argument checks, before any work is sent to the cluster
    unknown = [m for m in models if m not in MODEL_CLASSES]
    if unknown:
        raise ValueError(f"unknown model(s) {unknown}; choose from {sorted(MODEL_CLASSES)}")
    last = int(series["ds"].max())
    origins = [t for t in sorted({*history_origins, *scored_origins}) if t < last]
    scored = [t for t in scored_origins if t < last]
    if not scored:
        raise ValueError(f"no scored origin before the last year {last}")
    return origins, scored


def run_engine_dask(
    series: pd.DataFrame,
    *,
    runner: dict[str, Any],
    h: int,
    models: Sequence[str],
    scored_origins: Sequence[int],
    history_origins: Sequence[int],
    levels: Sequence[int] = (80, 95),
    weights: pd.Series | None = None,
    n_paths: int = 1000,
    seed: int = 0,
) -> EngineResult:
    """:func:`models.engine.run_engine` with the per-series work on a Dask cluster.

    Same arguments and result as ``run_engine`` (``n_jobs`` is replaced by ``runner``, the
    ``runner`` config section). Must run inside a Prefect flow or task run.
    """
    origins, scored = _check(series, models, scored_origins, history_origins)
    chunks = chunk_series(series, int(runner.get("n_workers", 2)))
    params = {"h": h, "models": list(models), "origins": origins}
    with dask_task_runner(runner) as dask:
        futures = [
            dask.submit(backtest_chunk, {"series": chunk, "index": i, **params})
            for i, chunk in enumerate(chunks)
        ]
        parts = [future.result() for future in futures]
    cv = pd.concat([part[0] for part in parts], ignore_index=True)
    fc_all = pd.concat([part[1] for part in parts], ignore_index=True)
    return _finish(series, cv, fc_all, h, models, scored, levels, weights, n_paths, seed)


def _finish(series, cv, fc_all, h, models, scored, levels, weights, n_paths, seed):
    # run_engine after its cross_validate call, step for step; fc_all has every candidate's
    # live forecast (run_engine forecasts only the chosen model(s), the same fits)
    candidates = list(models)
    if len(models) >= 2:
        cv = add_ensemble(cv, list(models), alias=ENSEMBLE)
        candidates.append(ENSEMBLE)
    rolled = rolling_select(cv, series, candidates, scored, levels=levels)
    baseline = "Naive" if "Naive" in rolled.cv.columns else None
    accuracy = evaluate_cv(rolled.cv, series, [*candidates, "Selected"], weights, baseline=baseline)
    coverage = interval_coverage(rolled.cv, "Selected", levels)

    model = _pooled_choice(cv, series, candidates)
    needed = list(models) if model == ENSEMBLE else [model]
    fc = fc_all[["unique_id", "ds", *needed, "fallback"]]
    if model == ENSEMBLE:
        fc = add_ensemble(fc, needed, alias=ENSEMBLE)
    calibration = fit_conformal(cv, model, levels)
    fc = apply_conformal(fc[["unique_id", "ds", model]], model, calibration)
    rename = {model: "mean"}
    for lv in levels:
        rename[f"{model}-lo-{lv}"] = f"lo_{lv}"
        rename[f"{model}-hi-{lv}"] = f"hi_{lv}"
    value_cols = [c for c in fc.columns if c == model or c.startswith(f"{model}-")]
    fc = fc.assign(**{c: fc[c].clip(lower=0.0).fillna(0.0) for c in value_cols})
    forecast = fc.rename(columns=rename).assign(model=model)
    forecast = forecast[
        ["unique_id", "ds", "model", "mean", *[c for c in rename.values() if c != "mean"]]
    ]

    paths = window_error_paths(forecast, cv, model, h=h, n_paths=n_paths, seed=seed)
    return EngineResult(
        forecast=forecast.reset_index(drop=True),
        accuracy=accuracy,
        coverage=coverage,
        choices=rolled.choices,
        model=model,
        paths=paths,
        backtest=rolled.cv,
    )
