"""Split-conformal prediction intervals from backtest errors, per horizon step.

The nonconformity score is a *relative* error, so one calibration serves series of any size:

- ``kind="log"`` (default): ``|log(y / yhat)|``; the interval is ``yhat * exp(-q)`` to
  ``yhat * exp(q)``, which stays positive and is symmetric on the log scale (a doubling and a
  halving are equally far). Rows with ``y <= 0`` or ``yhat <= 0`` cannot be scored and are
  left out of the calibration (their count is kept).
- ``kind="ratio"``: ``|y / yhat - 1|``; the interval is ``yhat * (1 - q)`` to
  ``yhat * (1 + q)``. Rows with ``yhat <= 0`` are left out.

Scores are pooled across series and cutoffs for each horizon step ``h = ds - cutoff``. The
quantile for level ``L`` is the ``ceil((n + 1) * L / 100)``-th smallest of the ``n`` scores (the
finite-sample correction of split conformal prediction); when that rank exceeds ``n`` the bound
is infinite (``lo = 0``, ``hi = inf`` for ``kind="log"``): too few backtest windows for that
level. Coverage is only guaranteed if errors are exchangeable across windows, which rolling
origins with overlapping horizons only approximate: check it on a later window with
:func:`coverage`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

__all__ = ["ConformalCalibration", "apply_conformal", "coverage", "fit_conformal"]


@dataclass(frozen=True)
class ConformalCalibration:
    """Quantiles of relative backtest errors, one row per horizon step.

    Attributes:
        alias: The model column the errors came from.
        kind: ``"log"`` or ``"ratio"`` (see the module docstring).
        levels: Interval levels in percent.
        quantiles: Index ``h`` (1, 2, ...), one column per level: the score quantile.
        n_scores: Index ``h``: how many errors were pooled for that step.
        n_dropped: Backtest rows that could not be scored (non-positive values).
    """

    alias: str
    kind: Literal["log", "ratio"]
    levels: tuple[float, ...]
    quantiles: pd.DataFrame
    n_scores: pd.Series
    n_dropped: int


def _level_key(lv: float) -> str:
    return f"{lv:g}"


def _check_levels(levels: Sequence[float]) -> tuple[float, ...]:
    out = tuple(sorted(set(levels)))
    if not out or any(not 0 < lv < 100 for lv in out):
        raise ValueError(f"levels must be a non-empty sequence in (0, 100), got {levels!r}")
    return out


def _scores(y: np.ndarray, yhat: np.ndarray, kind: str) -> tuple[np.ndarray, np.ndarray]:
    """Relative-error scores and the mask of rows that could be scored."""
    with np.errstate(divide="ignore", invalid="ignore"):
        if kind == "log":
            ok = (y > 0) & (yhat > 0)
            return np.abs(np.log(y / yhat)), ok
        if kind == "ratio":
            ok = yhat > 0
            return np.abs(y / yhat - 1), ok
    raise ValueError(f"kind must be 'log' or 'ratio', got {kind!r}")


def _conformal_quantile(scores: np.ndarray, level: float) -> float:
    n = scores.size
    rank = math.ceil((n + 1) * level / 100)
    return float(np.sort(scores)[rank - 1]) if rank <= n else np.inf


def _horizon(frame: pd.DataFrame) -> np.ndarray:
    if "cutoff" in frame.columns:
        return (frame["ds"] - frame["cutoff"]).to_numpy(dtype=np.int64)
    first = frame.groupby("unique_id", sort=False, observed=True)["ds"].transform("min")
    return (frame["ds"] - first + 1).to_numpy(dtype=np.int64)


def fit_conformal(
    cv: pd.DataFrame,
    alias: str,
    levels: Sequence[float] = (80, 95),
    *,
    kind: Literal["log", "ratio"] = "log",
) -> ConformalCalibration:
    """Calibrate interval half-widths on a backtest's relative errors.

    Args:
        cv: Backtest frame with ``ds, cutoff, y`` and the ``alias`` column.
        alias: Model column to calibrate.
        levels: Interval levels in percent.
        kind: Relative error: ``"log"`` ratio or plain ``"ratio"``.

    Returns:
        The calibration, to pass to :func:`apply_conformal`.
    """
    missing = [col for col in ("ds", "cutoff", "y", alias) if col not in cv.columns]
    if missing:
        raise ValueError(f"cv is missing column(s) {missing}")
    lvls = _check_levels(levels)
    scores, ok = _scores(cv["y"].to_numpy(dtype=float), cv[alias].to_numpy(dtype=float), kind)
    h = _horizon(cv)
    if not ok.any():
        raise ValueError(f"no backtest row of {alias!r} can be scored (needs positive values)")
    steps = np.unique(h[ok])
    quantiles = pd.DataFrame(
        [[_conformal_quantile(scores[ok & (h == step)], lv) for lv in lvls] for step in steps],
        index=pd.Index(steps, name="h"),
        columns=list(lvls),
    )
    n_scores = pd.Series([int(np.sum(ok & (h == step))) for step in steps], index=quantiles.index)
    return ConformalCalibration(
        alias=alias,
        kind=kind,
        levels=lvls,
        quantiles=quantiles,
        n_scores=n_scores,
        n_dropped=int(np.sum(~ok)),
    )


def apply_conformal(
    fcst: pd.DataFrame, alias: str, calibration: ConformalCalibration
) -> pd.DataFrame:
    """Add conformal ``<alias>-lo-<level>`` / ``<alias>-hi-<level>`` columns to a forecast.

    Horizon steps are ``ds - cutoff`` when ``fcst`` has a ``cutoff`` column (a backtest),
    otherwise ``ds`` minus each series' first forecast year, plus one. Existing interval columns
    of ``alias`` are replaced; rows with ``yhat <= 0`` get NaN bounds.

    Args:
        fcst: Forecast (or backtest) frame with ``unique_id, ds`` and the ``alias`` column.
        alias: Column holding the point forecast.
        calibration: Output of :func:`fit_conformal`.

    Returns:
        A new frame with the interval columns right after ``alias``, in statsforecast order.
    """
    missing = [col for col in ("unique_id", "ds", alias) if col not in fcst.columns]
    if missing:
        raise ValueError(f"fcst is missing column(s) {missing}")
    h = _horizon(fcst)
    known = calibration.quantiles.index
    beyond = ~np.isin(h, known)
    if beyond.any():
        raise ValueError(
            f"calibration covers horizon steps {list(known)}, forecast needs step {h[beyond][0]}"
        )
    yhat = fcst[alias].to_numpy(dtype=float)
    positive = yhat > 0
    bounds: dict[str, np.ndarray] = {}
    for lv in calibration.levels:
        q = calibration.quantiles[lv].reindex(h).to_numpy()
        with np.errstate(over="ignore", invalid="ignore"):
            if calibration.kind == "log":
                lo, hi = yhat * np.exp(-q), yhat * np.exp(q)
            else:
                lo, hi = yhat * (1 - q), yhat * (1 + q)
        bounds[f"{alias}-lo-{_level_key(lv)}"] = np.where(positive, lo, np.nan)
        bounds[f"{alias}-hi-{_level_key(lv)}"] = np.where(positive, hi, np.nan)
    prefix = (f"{alias}-lo-", f"{alias}-hi-")
    kept = [col for col in fcst.columns if not str(col).startswith(prefix)]
    new = [f"{alias}-lo-{_level_key(lv)}" for lv in reversed(calibration.levels)]
    new += [f"{alias}-hi-{_level_key(lv)}" for lv in calibration.levels]
    at = kept.index(alias) + 1
    out = fcst[kept].assign(**{col: bounds[col] for col in new})
    return out[[*kept[:at], *new, *kept[at:]]]


def coverage(cv_holdout: pd.DataFrame, alias: str, levels: Sequence[float]) -> dict[str, float]:
    """Empirical coverage of interval columns on held-out actuals.

    Args:
        cv_holdout: Backtest rows not used for calibration, with ``y`` and the interval columns
            ``<alias>-lo-<level>``, ``<alias>-hi-<level>``.
        alias: Model alias.
        levels: Levels to check.

    Returns:
        ``{"coverage-80": share of rows with lo <= y <= hi, ...}``; rows with NaN bounds count
        as not covered.
    """
    y = cv_holdout["y"].to_numpy(dtype=float)
    out = {}
    for lv in _check_levels(levels):
        key = _level_key(lv)
        lo = cv_holdout[f"{alias}-lo-{key}"].to_numpy(dtype=float)
        hi = cv_holdout[f"{alias}-hi-{key}"].to_numpy(dtype=float)
        out[f"coverage-{key}"] = float(np.mean((lo <= y) & (y <= hi)))
    return out
