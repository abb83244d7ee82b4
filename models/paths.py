"""Joint sample paths of many series, for the uncertainty of cross-series quantities.

An index computed on the mean forecasts (e.g. the HHI of forecast partner exports) says nothing
about its uncertainty. Here each path perturbs every series' point forecast with forecast
errors that really happened together: whole cross-series vectors of one-step log errors, one
vector per historical year, drawn with replacement and accumulated over the horizon. Drawing a
whole year's vector keeps the co-movement between series (a global slump hits all partners in
the same path); accumulating one-step errors gives uncertainty that widens with the horizon the
way it did in the data.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
import pandas as pd

__all__ = ["path_quantiles", "simulate_paths", "window_error_paths", "year_error_matrix"]


def year_error_matrix(cv: pd.DataFrame, alias: str, *, min_coverage: float = 0.8) -> pd.DataFrame:
    """One-step log forecast errors as a year x series matrix.

    Args:
        cv: Cross-validation frame (``unique_id, ds, cutoff, y, <alias>``) of one-step forecasts
            (``ds == cutoff + 1``); other horizons are ignored.
        alias: Forecast column.
        min_coverage: Keep only years in which at least this fraction of the series has an
            error (early years with few series would otherwise inject zeros).

    Returns:
        Wide frame indexed by year (``ds``) with one column per ``unique_id``: ``log(y / yhat)``.
        Missing cells (a series absent that year) are NaN.

    Rows with a non-positive actual or forecast have no log error and are left out.

    Raises:
        ValueError: No usable one-step rows.
    """
    one = cv.loc[cv["ds"] == cv["cutoff"] + 1]
    if one.empty:
        raise ValueError("year_error_matrix: cv has no one-step-ahead rows (ds == cutoff + 1)")
    # a log error needs positive actual and forecast (a drift can forecast below zero)
    one = one.loc[(one["y"] > 0) & (one[alias] > 0)]
    if one.empty:
        raise ValueError("year_error_matrix: no one-step row with positive actual and forecast")
    err = one.assign(e=np.log(one["y"] / one[alias]))
    wide = err.pivot_table(index="ds", columns="unique_id", values="e", aggfunc="first")
    coverage = wide.notna().mean(axis=1)
    return wide.loc[coverage >= min_coverage]


def simulate_paths(
    point: pd.DataFrame,
    errors: pd.DataFrame,
    *,
    value: str = "mean",
    n_paths: int = 1000,
    seed: int = 0,
    center: bool = True,
) -> pd.DataFrame:
    """Sample paths around point forecasts by resampling whole yearly error vectors.

    Path ``p`` of series ``i`` at horizon step ``k`` is
    ``point_i(k) * exp(sum_{j<=k} e_{i, t_j} - c_i)`` with years ``t_j`` drawn with replacement
    (the same draw for every series) and ``c_i`` the series' mean error when ``center`` (so that
    the paths' median follows the point forecast rather than re-adding past bias).
    A series with no error in a drawn year gets the mean of its other years' errors (zero
    after centering); a series with no error history at all gets each year's cross-series
    median error (the common shock).

    Args:
        point: ``unique_id, ds, <value>``: point forecasts, consecutive years per series.
        errors: Output of :func:`year_error_matrix` (years x series).
        value: Point-forecast column.
        n_paths: Number of paths.
        seed: Random seed; same seed, same paths.
        center: Remove each series' mean error.

    Returns:
        Long frame ``unique_id, ds, path, y``.

    Raises:
        ValueError: No error years to resample, or a missing point forecast.
    """
    if errors.empty:
        raise ValueError("simulate_paths: no error years to resample")
    ids = point["unique_id"].drop_duplicates().tolist()
    # a series with no error history (too short for the kept years) follows the common shock:
    # the cross-series median error of each year
    common = errors.median(axis=1)
    e = errors.reindex(columns=ids)
    absent = e.columns[e.notna().sum() == 0]
    for uid in absent:
        e[uid] = common
    e = e.to_numpy(dtype="float64")
    means = np.nanmean(e, axis=0)
    e = np.where(np.isnan(e), means, e)
    if center:
        e = e - means
    steps = np.sort(point["ds"].unique())
    k = len(steps)
    wide = point.pivot(index="ds", columns="unique_id", values=value).reindex(index=steps)[ids]
    if wide.isna().any().any():
        raise ValueError("simulate_paths: every series needs a point forecast for every year")
    base = wide.to_numpy(dtype="float64")  # k x n
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, e.shape[0], size=(n_paths, k))  # year index per path and step
    shocks = np.cumsum(e[draws], axis=1)  # n_paths x k x n
    values = base[None, :, :] * np.exp(shocks)
    n = len(ids)
    return pd.DataFrame(
        {
            "unique_id": np.tile(np.asarray(ids, dtype=object), n_paths * k),
            "ds": np.tile(np.repeat(steps, n), n_paths),
            "path": np.repeat(np.arange(n_paths), k * n),
            "y": values.reshape(-1),
        }
    )


def path_quantiles(
    frame: pd.DataFrame,
    columns: Sequence[str],
    *,
    by: Sequence[str] = ("year",),
    levels: Sequence[int] = (80, 95),
) -> pd.DataFrame:
    """Median and central intervals of path statistics.

    Args:
        frame: One row per path and ``by`` group (e.g. indices per path and year).
        columns: Statistics to summarise.
        by: Grouping columns.
        levels: Central interval levels in percent.

    Returns:
        One row per group with ``<col>_p50``, ``<col>_lo_<level>``, ``<col>_hi_<level>``.
    """
    qs: dict[str, float] = {"p50": 0.5}
    for lvl in levels:
        qs[f"lo_{lvl}"] = (100 - lvl) / 200
        qs[f"hi_{lvl}"] = 1 - (100 - lvl) / 200
    grouped = frame.groupby(list(by))
    parts = {f"{col}_{name}": grouped[col].quantile(q) for col in columns for name, q in qs.items()}
    return pd.DataFrame(parts).reset_index()


def _window_errors(
    cv: pd.DataFrame, alias: str, ids: list[str], h: int
) -> tuple[np.ndarray, np.ndarray]:
    """The backtest windows reaching ``h`` steps, and their log errors ``(window, step, series)``.

    A series absent from a window gets that window's cross-series median error at that step.

    Raises:
        ValueError: No backtest window reaches ``h`` steps.
    """
    rows = cv.loc[(cv["y"] > 0) & (cv[alias] > 0)]
    rows = rows.assign(step=rows["ds"] - rows["cutoff"], e=np.log(rows["y"] / rows[alias]))
    full = rows.groupby("cutoff")["step"].max()
    cutoffs = np.sort(full.index[full >= h].to_numpy())
    if cutoffs.size == 0:
        raise ValueError(f"window_error_paths: no backtest window reaches {h} steps")
    cube = (
        rows.loc[rows["cutoff"].isin(cutoffs) & (rows["step"] <= h)]
        .pivot_table(index=["cutoff", "step"], columns="unique_id", values="e", aggfunc="first")
        .reindex(columns=ids)
    )
    median = cube.median(axis=1)
    cube = cube.apply(lambda col: col.fillna(median))
    full_index = pd.MultiIndex.from_product([cutoffs, range(1, h + 1)], names=["cutoff", "step"])
    e = (
        cube.reindex(full_index)
        .fillna(0.0)
        .to_numpy(dtype="float64")
        .reshape(len(cutoffs), h, len(ids))
    )
    return cutoffs, e


def _clip_and_center(
    e: np.ndarray,
    clip: pd.DataFrame | None,
    ids: list[str],
    h: int,
    center: Literal["log", "level"] | None,
) -> np.ndarray:
    """Window errors clipped at ``clip``, then centred per series and step.

    ``clip`` and ``center`` as in :func:`window_error_paths`.
    """
    if clip is not None:
        bound = clip.reindex(index=range(1, h + 1), columns=ids).to_numpy(dtype="float64")
        bound = np.where(np.isnan(bound), np.inf, bound)
        e = np.clip(e, -bound[None, :, :], bound[None, :, :])
    if center == "log":
        e = e - e.mean(axis=0, keepdims=True)
    elif center == "level":
        e = e - np.log(np.exp(e).mean(axis=0, keepdims=True))
    elif center is not None:
        raise ValueError(f"center must be 'log', 'level' or None, got {center!r}")
    return e


def window_error_paths(
    point: pd.DataFrame,
    cv: pd.DataFrame,
    alias: str,
    *,
    h: int,
    value: str = "mean",
    n_paths: int = 1000,
    seed: int = 0,
    clip: pd.DataFrame | None = None,
    center: Literal["log", "level"] | None = None,
) -> pd.DataFrame:
    """Sample paths from whole backtest windows: the joint errors of one past cutoff per path.

    Each path draws one historical cutoff ``c`` (with replacement, among cutoffs whose window
    reaches ``h`` years) and applies that window's log errors ``log(y / yhat)`` of every series
    at steps ``1..h`` to the point forecasts. The errors of all series and all steps come from
    the same real window, so co-movement across partners and persistence across years are the
    ones that happened; there is no compounding of independent draws (which lets lumpy small
    series explode). A series absent from a drawn window gets that window's cross-series
    median error at the same step.

    Args:
        point: ``unique_id, ds, <value>`` point forecasts (``h`` consecutive years each).
        cv: Backtest rows ``unique_id, ds, cutoff, y, <alias>``.
        alias: Backtest column of the model that made ``point``.
        h: Horizon (steps per path).
        value: Point-forecast column.
        n_paths: Number of paths.
        seed: Random seed.
        clip: Optional bound on ``|log error|``, index step ``1..h``, one column per series
            (missing: no bound). A window's error beyond it is clipped: a 400-fold surprise
            when a lumpy series was tiny (Marshall Islands' ship exports around 2000) must not
            be replayed on its forecast of $7 bn (it made one partner 76 % of all exports in
            8 % of the paths). The engine passes the series' size-class conformal bound.
        center: Remove each series' past bias per step (over the windows), after clipping:
            ``"log"`` subtracts the mean log error; ``"level"`` divides by the mean
            multiplier ``exp(e)``, so each series' paths average its point forecast in USD
            and sums over partners stay unbiased. None replays the errors as they were.

    Returns:
        Long frame ``unique_id, ds, path, y``.

    Raises:
        ValueError: No backtest window reaches ``h`` steps.
    """
    ids = point["unique_id"].drop_duplicates().tolist()
    cutoffs, e = _window_errors(cv, alias, ids, h)
    e = _clip_and_center(e, clip, ids, h, center)
    steps = np.sort(point["ds"].unique())[:h]
    wide = point.pivot(index="ds", columns="unique_id", values=value).reindex(index=steps)[ids]
    base = wide.to_numpy(dtype="float64")
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, len(cutoffs), size=n_paths)
    values = base[None, :, :] * np.exp(e[draws])
    n, k = len(ids), len(steps)
    return pd.DataFrame(
        {
            "unique_id": np.tile(np.asarray(ids, dtype=object), n_paths * k),
            "ds": np.tile(np.repeat(steps, n), n_paths),
            "path": np.repeat(np.arange(n_paths), k * n),
            "y": values.reshape(-1),
        }
    )
