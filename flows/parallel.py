"""The forecasting engine with its per-partner work spread over a Dask cluster (prefect-dask).

``runner.kind: dask`` in the config sends the heavy part of :func:`models.engine.run_engine`
(the rolling-origin backtest of every candidate model and the live forecast, both per series)
to a Dask cluster as Prefect tasks: the partner series are cut into contiguous chunks (in the
engine's ``unique_id`` order), each chunk is one ``backtest_chunk`` task run, and the chunks'
frames, concatenated in order, are the frames the engine would have computed in one call.
Selection, conformal intervals and the joint sample paths then run centrally in
:func:`models.engine.finish_engine`, the same code as ``run_engine``, so the result equals the
default runner's
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

from exportcast.models.backtest import cross_validate_by_origin
from exportcast.models.engine import MODEL_CLASSES, EngineResult, engine_origins, finish_engine
from exportcast.models.fallbacks import MAX_FALLBACK_SHARE
from exportcast.models.forecasting import cross_validate, forecast_panel
from exportcast.models.timeseries import Naive

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
    series: pd.DataFrame,
    index: int,
    *,
    h: int,
    models: Sequence[str],
    origins: Sequence[int],
    history: pd.DataFrame | None = None,
) -> tuple[pd.DataFrame | None, pd.DataFrame]:
    """Rolling backtest (``cross_validate``) and live forecast of every model for a chunk.

    The same calls as ``run_engine`` makes on all series at once; ``index`` only names the run.
    The live forecast covers every candidate (the choice needs all series' backtests). With
    ``history`` (the chunk's per-origin histories) the backtest runs on them
    (``cross_validate_by_origin``); None when the chunk has none.
    """
    instances = [MODEL_CLASSES[m]() for m in models]
    if history is None:
        cv = cross_validate(series, instances, h, origins=list(origins), fallback=Naive(), n_jobs=1)
    elif history.empty or not set(history["cutoff"]) & set(origins):
        cv = None
    else:
        cv = cross_validate_by_origin(
            history, instances, h, origins=list(origins), fallback=Naive(), n_jobs=1
        )
    fc = forecast_panel(series, [MODEL_CLASSES[m]() for m in models], h, fallback=Naive())
    return cv, fc


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
    max_fallback_share: float = MAX_FALLBACK_SHARE,
    history: pd.DataFrame | None = None,
) -> EngineResult:
    """:func:`models.engine.run_engine` with the per-series work on a Dask cluster.

    Same arguments and result as ``run_engine`` (``n_jobs`` is replaced by ``runner``, the
    ``runner`` config section). Must run inside a Prefect flow or task run.
    """
    origins, scored = engine_origins(series, models, scored_origins, history_origins)
    chunks = chunk_series(series, int(runner.get("n_workers", 2)))
    params = {"h": h, "models": list(models), "origins": origins}
    histories: list[pd.DataFrame | None] = [None] * len(chunks)
    if history is not None:  # each chunk gets its series' per-origin histories (and the
        # series modelled only at past origins go with the last chunk)
        owner = {uid: i for i, c in enumerate(chunks) for uid in c["unique_id"].unique()}
        at = history["unique_id"].map(owner).fillna(len(chunks) - 1).to_numpy()
        histories = [history.loc[at == i] for i in range(len(chunks))]
    with dask_task_runner(runner) as dask:
        futures = [
            dask.submit(
                backtest_chunk, {"series": chunk, "index": i, "history": histories[i], **params}
            )
            for i, chunk in enumerate(chunks)
        ]
        parts = [future.result() for future in futures]
    cv = pd.concat([part[0] for part in parts if part[0] is not None], ignore_index=True)
    if history is not None:
        cv = cv.sort_values(["unique_id", "cutoff", "ds"], ignore_index=True)
    fc_all = pd.concat([part[1] for part in parts], ignore_index=True)
    # the chunks forecast every candidate (the choice is made centrally); same fits as one call
    return finish_engine(
        series,
        cv,
        lambda needed: fc_all[["unique_id", "ds", *needed, "fallback"]],
        h=h,
        models=models,
        scored=scored,
        levels=levels,
        weights=weights,
        n_paths=n_paths,
        seed=seed,
        max_fallback_share=max_fallback_share,
        history=history,
    )
