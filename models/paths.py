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

import numpy as np
import pandas as pd

__all__ = ["path_quantiles", "simulate_paths", "year_error_matrix"]


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

    Raises:
        ValueError: No one-step rows, or non-positive values.
    """
    one = cv.loc[cv["ds"] == cv["cutoff"] + 1]
    if one.empty:
        raise ValueError("year_error_matrix: cv has no one-step-ahead rows (ds == cutoff + 1)")
    if (one["y"] <= 0).any() or (one[alias] <= 0).any():
        raise ValueError("year_error_matrix: actuals and forecasts must be positive for log errors")
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
    after centering).

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
        ValueError: Series in ``point`` without any error history, or no error years.
    """
    if errors.empty:
        raise ValueError("simulate_paths: no error years to resample")
    ids = point["unique_id"].drop_duplicates().tolist()
    missing = [u for u in ids if u not in errors.columns or errors[u].notna().sum() == 0]
    if missing:
        raise ValueError(
            f"simulate_paths: no error history for {missing[:5]} ({len(missing)} series)"
        )
    e = errors[ids].to_numpy(dtype="float64")
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
