"""The only loop over series: ``forecast_panel`` and the rolling-origin ``cross_validate``.

Series travel as a long frame ``unique_id, ds, y`` plus optional exogenous columns (every other
column); ``ds`` is an integer year and each series must be gap-free. Forecasts come back as
``unique_id, ds`` (and ``cutoff, y`` for backtests) plus one column per model alias and its
interval columns ``<alias>-lo-95, <alias>-lo-80, <alias>-hi-80, <alias>-hi-95`` (the
statsforecast convention), then a ``fallback`` column.

The fallback record: when a model raises an *expected* error on a series (``FALLBACK_ERRORS``:
a ``ValueError`` such as "too short" or "constant", an arithmetic or linear-algebra failure, or
non-finite forecasts), the ``fallback`` model runs under the same alias. Any other exception
(``TypeError``, ``KeyError``, ``AttributeError``: a bug, not the data) propagates, so a broken
wrapper cannot silently turn a model into the fallback everywhere. The ``fallback`` column of every row of that
series (and cutoff) lists the aliases that were replaced, comma-separated in model order, or is
``""`` when none was; :func:`models.fallbacks.fallback_pairs` turns it into a long table. Without a fallback the
model's exception propagates, with a note naming the series and cutoff.

Nothing here knows about trade: any positive annual series will do.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable, Sequence
from functools import cache, partial
from typing import Any

import numpy as np
import pandas as pd
from joblib import Parallel, delayed, effective_n_jobs
from threadpoolctl import ThreadpoolController

from exportcast.models.fallbacks import fallback_pairs
from exportcast.models.protocol import Forecaster
from exportcast.models.series_checks import (
    SERIES_KEYS,
    check_levels,
    check_models,
    check_positive_int,
    check_series,
    needs_positive,
)

__all__ = ["FALLBACK_ERRORS", "cross_validate", "forecast_panel"]


logger = logging.getLogger(__name__)


# What a model may raise on data it cannot fit (too short, constant, singular, overflow); the
# fallback model takes over only for these.
FALLBACK_ERRORS: tuple[type[BaseException], ...] = (
    ValueError,
    ArithmeticError,
    np.linalg.LinAlgError,
)


def _level_key(lv: float) -> str:
    return f"{lv:g}"


def _value_columns(aliases: list[str], levels: list[float]) -> list[str]:
    columns = []
    for alias in aliases:
        columns.append(alias)
        columns += [f"{alias}-lo-{_level_key(lv)}" for lv in reversed(levels)]
        columns += [f"{alias}-hi-{_level_key(lv)}" for lv in levels]
    return columns


# ---------------------------------------------------------------------------------------------
# fitting one model on one stretch of one series


def _fit_predict(
    model: Forecaster,
    y: np.ndarray,
    X: np.ndarray | None,
    h: int,
    X_future: np.ndarray | None,
    levels: list[float],
) -> dict[str, np.ndarray]:
    # fresh copies per fit: the caller's instances stay unfitted, no state leaks between
    # series or cutoffs, and a model that writes into its input cannot touch the held-out years
    fitted = copy.deepcopy(model).fit(y.copy(), None if X is None else X.copy())
    out = fitted.predict(h, X_future, level=list(levels) or None)
    mean = np.asarray(out["mean"], dtype=float)
    if mean.shape != (h,) or not np.all(np.isfinite(mean)):
        raise ValueError(f"{model.alias} returned {mean.shape} forecasts, not {h} finite values")
    result = {"mean": mean}
    for lv in levels:
        for side in ("lo", "hi"):
            key = f"{side}-{_level_key(lv)}"
            values = out.get(key)
            result[key] = np.full(h, np.nan) if values is None else np.asarray(values, dtype=float)
    return result


def _fit_predict_or_fallback(
    model: Forecaster,
    fallback: Forecaster | None,
    context: str,
    y: np.ndarray,
    X: np.ndarray | None,
    h: int,
    X_future: np.ndarray | None,
    levels: list[float],
) -> tuple[dict[str, np.ndarray], bool]:
    try:
        return _fit_predict(model, y, X, h, X_future, levels), False
    except Exception as exc:
        if fallback is None or not isinstance(exc, FALLBACK_ERRORS):
            exc.add_note(f"while fitting model {model.alias!r} on {context}")
            raise
        logger.debug(
            "%s failed on %s (%s); using fallback %s", model.alias, context, exc, fallback.alias
        )
    try:
        return _fit_predict(fallback, y, X, h, X_future, levels), True
    except Exception as exc:
        exc.add_note(f"while fitting fallback {fallback.alias!r} for {model.alias!r} on {context}")
        raise


def _forecast_block(
    models: Sequence[Forecaster],
    fallback: Forecaster | None,
    context: str,
    y: np.ndarray,
    X: np.ndarray | None,
    h: int,
    X_future: np.ndarray | None,
    levels: list[float],
) -> tuple[dict[str, np.ndarray], str]:
    """All models on one training stretch: value columns and the fallback record."""
    columns: dict[str, np.ndarray] = {}
    replaced = []
    for model in models:
        out, used = _fit_predict_or_fallback(model, fallback, context, y, X, h, X_future, levels)
        if used:
            replaced.append(model.alias)
        columns[model.alias] = out["mean"]
        for lv in levels:
            for side in ("lo", "hi"):
                columns[f"{model.alias}-{side}-{_level_key(lv)}"] = out[f"{side}-{_level_key(lv)}"]
    return columns, ",".join(replaced)


# ---------------------------------------------------------------------------------------------
# one series (the unit of parallel work)


def _split(frame: pd.DataFrame) -> list[tuple[Any, np.ndarray, np.ndarray, np.ndarray | None]]:
    """Cut a sorted, validated frame into ``(unique_id, ds, y, X)`` per series."""
    exog = [col for col in frame.columns if col not in SERIES_KEYS]
    uid = frame["unique_id"].to_numpy()
    ds = frame["ds"].to_numpy(dtype=np.int64)
    y = frame["y"].to_numpy(dtype=float)
    X = frame[exog].to_numpy(dtype=float) if exog else None
    starts = np.flatnonzero(np.r_[True, uid[1:] != uid[:-1]])
    bounds = zip(starts, [*starts[1:], len(frame)], strict=True)
    return [
        (uid[a], ds[a:b].copy(), y[a:b].copy(), None if X is None else X[a:b].copy())
        for a, b in bounds
    ]


def _forecast_series(
    task: tuple[Any, np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None],
    models: Sequence[Forecaster],
    fallback: Forecaster | None,
    h: int,
    levels: list[float],
) -> dict[str, Any]:
    uid, ds, y, X, X_future = task
    columns, replaced = _forecast_block(
        models, fallback, f"unique_id={uid!r}", y, X, h, X_future, levels
    )
    rows = {
        "unique_id": np.repeat(np.array([uid], dtype=object), h),
        "ds": ds[-1] + np.arange(1, h + 1),
    }
    return {**rows, **columns, "fallback": np.repeat(np.array([replaced], dtype=object), h)}


def _cutoffs(
    ds: np.ndarray, h: int, n_windows: int | None, origins: Sequence[int] | None, step: int
) -> list[int]:
    first, last = int(ds[0]), int(ds[-1])
    if origins is not None:
        candidates = sorted({int(t) for t in origins})
    else:
        candidates = [last - h - step * k for k in reversed(range(n_windows or 0))]
    # a window needs at least one training year and one year to score
    return [t for t in candidates if first <= t < last]


def _cross_validate_series(
    task: tuple[Any, np.ndarray, np.ndarray, np.ndarray | None],
    models: Sequence[Forecaster],
    fallback: Forecaster | None,
    h: int,
    levels: list[float],
    n_windows: int | None,
    origins: Sequence[int] | None,
    step: int,
) -> dict[str, Any] | None:
    uid, ds, y, X = task
    blocks = []
    for cutoff in _cutoffs(ds, h, n_windows, origins, step):
        n_train = cutoff - int(ds[0]) + 1
        stop = min(n_train + h, y.size)
        h_window = stop - n_train
        # the model sees ds <= cutoff only; exogenous values after the cutoff are treated as
        # known in advance (scenario or projection inputs)
        columns, replaced = _forecast_block(
            models,
            fallback,
            f"unique_id={uid!r}, cutoff={cutoff}",
            y[:n_train],
            None if X is None else X[:n_train],
            h_window,
            None if X is None else X[n_train:stop],
            levels,
        )
        rows = {
            "unique_id": np.repeat(np.array([uid], dtype=object), h_window),
            "ds": ds[n_train:stop],
            "cutoff": np.full(h_window, cutoff, dtype=np.int64),
            "y": y[n_train:stop],
        }
        blocks.append(
            {**rows, **columns, "fallback": np.repeat(np.array([replaced], dtype=object), h_window)}
        )
    if not blocks:
        return None
    return {key: np.concatenate([block[key] for block in blocks]) for key in blocks[0]}


@cache
def _threadpools() -> ThreadpoolController:
    return ThreadpoolController()


def _run_chunk(func: Callable[[Any], Any], tasks: list[Any]) -> list[Any]:
    # one BLAS thread: the fits are tiny, and BLAS threads busy-waiting on each other (or on
    # other processes) made single ARIMA fits 10-100x slower on a loaded 2-core machine
    with _threadpools().limit(limits=1, user_api="blas"):
        return [func(task) for task in tasks]


def _map_series(func: Callable[[Any], Any], tasks: list[Any], n_jobs: int) -> list[Any]:
    """Apply ``func`` to every series, in order, in this process or in ``n_jobs`` workers."""
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, int) or n_jobs == 0:
        raise ValueError(f"n_jobs must be a non-zero int (-1 for all cores), got {n_jobs!r}")
    if n_jobs == 1 or len(tasks) < 2:
        return _run_chunk(func, tasks)
    workers = effective_n_jobs(n_jobs)
    # a few chunks per worker: balances slow series without paying per-series overhead
    n_chunks = min(len(tasks), 4 * workers)
    chunks = [list(chunk) for chunk in np.array_split(np.arange(len(tasks)), n_chunks)]
    results = Parallel(n_jobs=n_jobs)(
        delayed(_run_chunk)(func, [tasks[i] for i in chunk]) for chunk in chunks
    )
    return [item for chunk_result in results for item in chunk_result]


def _assemble(
    parts: list[dict[str, Any] | None],
    key_columns: list[str],
    value_columns: list[str],
    uid_dtype: Any,
) -> pd.DataFrame:
    parts = [part for part in parts if part is not None]
    columns = [*key_columns, *value_columns, "fallback"]
    if not parts:
        frame = pd.DataFrame({col: pd.Series(dtype=float) for col in columns})
        frame["fallback"] = frame["fallback"].astype(object)
    else:
        frame = pd.DataFrame(
            {col: np.concatenate([part[col] for part in parts]) for col in columns}
        )
    for col in ("ds", "cutoff"):
        if col in frame:
            frame[col] = frame[col].astype(np.int64)
    frame["unique_id"] = frame["unique_id"].astype(uid_dtype)
    return frame


def _future_exog(
    X_df: pd.DataFrame | None,
    tasks: list[tuple[Any, np.ndarray, np.ndarray, np.ndarray | None]],
    exog: list[str],
    h: int,
) -> list[np.ndarray | None]:
    if X_df is None:
        return [None] * len(tasks)
    missing = [col for col in ["unique_id", "ds", *exog] if col not in X_df.columns]
    if missing:
        raise ValueError(f"X_df is missing column(s) {missing}")
    lookup = X_df.set_index(["unique_id", "ds"])[exog]
    if not lookup.index.is_unique:
        raise ValueError("X_df has duplicate (unique_id, ds) rows")
    future = []
    for uid, ds, _, _ in tasks:
        years = ds[-1] + np.arange(1, h + 1)
        index = pd.MultiIndex.from_arrays([np.repeat(np.array([uid], dtype=object), h), years])
        absent = ~index.isin(lookup.index)
        if absent.any():
            raise ValueError(
                f"X_df has no row for unique_id={uid!r}, ds={int(years[absent][0])}"
                f" (needs the {h} years after each series ends)"
            )
        future.append(lookup.loc[index].to_numpy(dtype=float))
    return future


# ---------------------------------------------------------------------------------------------
# public loop


def _log_fallbacks(result: pd.DataFrame) -> None:
    pairs = fallback_pairs(result)
    if not pairs.empty:
        logger.warning(
            "the fallback model replaced %d fit(s): %s",
            len(pairs),
            pairs.groupby("alias").size().to_dict(),
        )


def forecast_panel(
    series: pd.DataFrame,
    models: Sequence[Forecaster],
    h: int,
    *,
    level: list[int] | None = None,
    fallback: Forecaster | None = None,
    X_df: pd.DataFrame | None = None,
    n_jobs: int = 1,
) -> pd.DataFrame:
    """Fit every model on every series and forecast ``h`` years past each series' last year.

    Args:
        series: Long frame ``unique_id, ds, y`` plus optional exogenous columns.
        models: Forecasters with unique aliases.
        h: Forecast horizon in years.
        level: Interval levels in percent; models without intervals give NaN columns.
        fallback: Model run under the same alias when a model fails on a series.
        X_df: Future exogenous values ``unique_id, ds, <exog>`` for the ``h`` years after each
            series ends; without it models get ``X=None`` at predict time.
        n_jobs: Worker processes over series (joblib; -1 uses every core). Results equal
            ``n_jobs=1``.

    Returns:
        ``unique_id, ds, <alias>, <alias>-lo-<level>, ..., <alias>-hi-<level>, fallback`` sorted
        by ``unique_id, ds``; ``fallback`` lists the aliases replaced by the fallback model.
    """
    h = check_positive_int("h", h)
    aliases = check_models(models, fallback)
    levels = check_levels(level)
    frame = check_series(series, positive=needs_positive(models, fallback))
    tasks = _split(frame)
    exog = [col for col in frame.columns if col not in SERIES_KEYS]
    if X_df is not None and not exog:
        raise ValueError("X_df given but series has no exogenous columns to match it")
    futures = _future_exog(X_df, tasks, exog, h) if exog else [None] * len(tasks)
    func = partial(_forecast_series, models=list(models), fallback=fallback, h=h, levels=levels)
    parts = _map_series(
        func, [(*task, fut) for task, fut in zip(tasks, futures, strict=True)], n_jobs
    )
    result = _assemble(
        parts, ["unique_id", "ds"], _value_columns(aliases, levels), series["unique_id"].dtype
    )
    _log_fallbacks(result)
    return result


def cross_validate(
    series: pd.DataFrame,
    models: Sequence[Forecaster],
    h: int,
    *,
    n_windows: int | None = None,
    origins: Sequence[int] | None = None,
    step: int = 1,
    level: list[int] | None = None,
    fallback: Forecaster | None = None,
    n_jobs: int = 1,
) -> pd.DataFrame:
    """Rolling-origin backtest: refit at each cutoff on ``ds <= cutoff``, forecast ``h`` years.

    Give exactly one of ``n_windows`` (cutoffs ``last - h - step * k`` for each series, so the
    last window ends at the series' last year) or ``origins`` (the same calendar cutoffs for
    every series). A window needs at least one training year and one year to score; windows
    running past a series' end are shortened, and cutoffs outside a series are skipped.

    Args:
        series: Long frame ``unique_id, ds, y`` plus optional exogenous columns (exogenous
            values after a cutoff are treated as known at the cutoff).
        models: Forecasters with unique aliases.
        h: Forecast horizon in years.
        n_windows: Number of windows per series, counted back from its end.
        origins: Calendar cutoff years, the same for every series.
        step: Years between consecutive cutoffs when ``n_windows`` is used.
        level: Interval levels in percent (model-based intervals).
        fallback: Model run under the same alias when a model fails on a window.
        n_jobs: Worker processes over series (joblib; -1 uses every core).

    Returns:
        ``unique_id, ds, cutoff, y, <alias>, <alias>-lo-<level>, ..., fallback`` sorted by
        ``unique_id, cutoff, ds``.
    """
    h = check_positive_int("h", h)
    step = check_positive_int("step", step)
    if (n_windows is None) == (origins is None):
        raise ValueError("give exactly one of n_windows or origins")
    if n_windows is not None:
        n_windows = check_positive_int("n_windows", n_windows)
    aliases = check_models(models, fallback)
    levels = check_levels(level)
    frame = check_series(series, positive=needs_positive(models, fallback))
    func = partial(
        _cross_validate_series,
        models=list(models),
        fallback=fallback,
        h=h,
        levels=levels,
        n_windows=n_windows,
        origins=None if origins is None else [int(t) for t in origins],
        step=step,
    )
    parts = _map_series(func, _split(frame), n_jobs)
    result = _assemble(
        parts,
        ["unique_id", "ds", "cutoff", "y"],
        _value_columns(aliases, levels),
        series["unique_id"].dtype,
    )
    _log_fallbacks(result)
    return result
