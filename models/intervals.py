"""Split-conformal prediction intervals from backtest errors, per horizon step.

The nonconformity score is a *relative* error, so one calibration serves series of any size:

- ``kind="log"`` (default): ``|log(y / yhat)|``; the interval is ``yhat * exp(-q)`` to
  ``yhat * exp(q)``, which stays positive and is symmetric on the log scale (a doubling and a
  halving are equally far). Rows with ``y <= 0`` or ``yhat <= 0`` cannot be scored and are
  left out of the calibration (their count is kept).
- ``kind="ratio"``: ``|y / yhat - 1|``; the interval is ``yhat * (1 - q)`` to
  ``yhat * (1 + q)``. Rows with ``yhat <= 0`` are left out.

Scores are pooled across series and cutoffs for each horizon step ``h = ds - cutoff``; with
``groups`` (Mondrian conformal) they are pooled within each group as well, e.g. by
:func:`size_classes` of the series at the cutoff: a large, stable partner then gets the errors of
large partners, not those of lumpy small ones (which made China's 80 % interval span a factor of
ten when every partner shared one quantile). A group-step with fewer than ``min_group_scores``
scores (or too few for the level's rank) borrows the scores of its neighbours in ``order``
(for size classes: the next smaller class, then the next, ...); without an order, or when even
all groups together are too few, it uses the pooled quantile. The
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

from exportcast.models.histories import values_at_cutoff

__all__ = [
    "SIZE_BOUNDS",
    "SIZE_LABELS",
    "ConformalCalibration",
    "apply_conformal",
    "coverage",
    "fit_conformal",
    "size_classes",
    "size_classes_at",
]

# Share of the total at the cutoff separating small | medium | large | major series. The
# "major" class (>= 5 %: for Korea China, the US, Viet Nam, Japan, Hong Kong) has errors of
# its own: over Korea's backtest 1998-2018 the 80 % quantile of the 5-year log error was 0.38
# for it and 0.61 for the 1-5 % partners (which include ship-registry flags).
SIZE_BOUNDS = (0.001, 0.01, 0.05)
SIZE_LABELS = ("small", "medium", "large", "major")


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
        by_group: Per group label (Mondrian conformal): quantiles like ``quantiles``; a NaN
            (too few scores for that group and step) falls back to the pooled quantile.
    """

    alias: str
    kind: Literal["log", "ratio"]
    levels: tuple[float, ...]
    quantiles: pd.DataFrame
    n_scores: pd.Series
    n_dropped: int
    by_group: dict[str, pd.DataFrame] | None = None


def size_classes(
    shares: np.ndarray | pd.Series, bounds: Sequence[float] = SIZE_BOUNDS
) -> np.ndarray:
    """Label each share of a total by :data:`SIZE_LABELS` (``bounds`` split them).

    Args:
        shares: Fractions of the total (NaN counts as small).
        bounds: Up to three increasing cut points: the first ``len(bounds) + 1`` labels of
            ``small / medium / large / major`` are used (two bounds: no ``major``).

    Returns:
        An object array of labels.
    """
    cuts = np.asarray(bounds, dtype=float)
    if cuts.ndim != 1 or not 1 <= cuts.size < len(SIZE_LABELS) or np.any(np.diff(cuts) <= 0):
        raise ValueError(f"bounds must be 1-3 increasing cut points, got {list(bounds)}")
    values = np.nan_to_num(np.asarray(shares, dtype=float), nan=0.0)
    labels = np.array(SIZE_LABELS[: cuts.size + 1], dtype=object)
    return labels[np.searchsorted(cuts, values, side="right")]


def size_classes_at(
    frame: pd.DataFrame, train: pd.DataFrame, bounds: Sequence[float] = SIZE_BOUNDS
) -> np.ndarray:
    """Size class of each row's series by its share of the total at the row's cutoff.

    Only data up to the cutoff is used (the share in the cutoff year), so a backtest stays
    honest. Without a ``cutoff`` column (a live forecast) the last year of ``train`` is the
    cutoff.

    Args:
        frame: Rows with ``unique_id`` (and ``cutoff`` for a backtest).
        train: The long frame ``unique_id, ds, y`` the forecasts were made from.
        bounds: Cut points of the classes (see :func:`size_classes`).

    Returns:
        One label per row of ``frame``.
    """
    at = values_at_cutoff(train)  # one history per series, or one per origin
    total = at.groupby("cutoff")["y"].transform("sum")
    share = pd.Series(
        (at["y"] / total).to_numpy(), index=pd.MultiIndex.from_frame(at[["unique_id", "cutoff"]])
    )
    cutoff = (
        frame["cutoff"]
        if "cutoff" in frame.columns
        else pd.Series(int(train["ds"].max()), index=frame.index)
    )
    keys = pd.MultiIndex.from_arrays([frame["unique_id"], cutoff.astype(at["cutoff"].dtype)])
    return size_classes(share.reindex(keys).to_numpy(), bounds)


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


def _rank(n: int, level: float) -> int:
    return math.ceil((n + 1) * level / 100)


def _borrowing_pools(label: str, order: Sequence[str] | None) -> list[list[str]]:
    """The group alone, then with its neighbours added one at a time (smaller ones first)."""
    if order is None or label not in order:
        return [[label]]
    i = list(order).index(label)
    neighbours = [*reversed(order[:i]), *order[i + 1 :]]
    return [[label, *neighbours[:k]] for k in range(len(neighbours) + 1)]


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
    groups: np.ndarray | pd.Series | None = None,
    min_group_scores: int = 50,
    order: Sequence[str] | None = SIZE_LABELS,
) -> ConformalCalibration:
    """Calibrate interval half-widths on a backtest's relative errors.

    Args:
        cv: Backtest frame with ``ds, cutoff, y`` and the ``alias`` column.
        alias: Model column to calibrate.
        levels: Interval levels in percent.
        kind: Relative error: ``"log"`` ratio or plain ``"ratio"``.
        groups: Optional group label per row of ``cv`` (Mondrian conformal), e.g.
            :func:`size_classes_at`.
        min_group_scores: Fewer scores than this in a group and step (or too few for the
            level's rank): the group borrows its neighbours' scores (``order``), else the
            pooled quantile.
        order: Group labels from smallest to largest series; a thin group borrows the scores
            of the next smaller groups first, then of the larger ones. Labels not in it (or
            ``None``) never borrow.

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
    by_group = None
    if groups is not None:
        labels = np.asarray(groups, dtype=object)
        if labels.shape[0] != len(cv):
            raise ValueError(f"groups has {labels.shape[0]} labels for {len(cv)} cv rows")
        by_group = {}
        for label in sorted({str(g) for g in labels}):
            pools = _borrowing_pools(label, order)
            rows = []
            for step in steps:
                at_step = ok & (h == step)
                row = []
                for lv in lvls:
                    q = np.nan
                    for pool in pools:
                        picked = scores[at_step & np.isin(labels, pool)]
                        if (
                            picked.size >= min_group_scores
                            and _rank(picked.size, lv) <= picked.size
                        ):
                            q = _conformal_quantile(picked, lv)
                            break
                    row.append(q)
                rows.append(row)
            by_group[label] = pd.DataFrame(rows, index=quantiles.index, columns=list(lvls))
    return ConformalCalibration(
        alias=alias,
        kind=kind,
        levels=lvls,
        quantiles=quantiles,
        n_scores=n_scores,
        n_dropped=int(np.sum(~ok)),
        by_group=by_group,
    )


def apply_conformal(
    fcst: pd.DataFrame,
    alias: str,
    calibration: ConformalCalibration,
    groups: np.ndarray | pd.Series | None = None,
) -> pd.DataFrame:
    """Add conformal ``<alias>-lo-<level>`` / ``<alias>-hi-<level>`` columns to a forecast.

    Horizon steps are ``ds - cutoff`` when ``fcst`` has a ``cutoff`` column (a backtest),
    otherwise ``ds`` minus each series' first forecast year, plus one. Existing interval columns
    of ``alias`` are replaced; rows with ``yhat <= 0`` get NaN bounds.

    Args:
        fcst: Forecast (or backtest) frame with ``unique_id, ds`` and the ``alias`` column.
        alias: Column holding the point forecast.
        calibration: Output of :func:`fit_conformal`.
        groups: Group label per row (as given to :func:`fit_conformal`); rows of a group
            without its own quantile, or all rows when None, use the pooled quantiles.

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
    labels = None if groups is None else np.asarray(groups, dtype=object)
    for lv in calibration.levels:
        q = calibration.quantiles[lv].reindex(h).to_numpy()
        if labels is not None and calibration.by_group:
            q = q.copy()
            for label, table in calibration.by_group.items():
                mask = labels == label
                own = table[lv].reindex(h[mask]).to_numpy()
                q[mask] = np.where(np.isnan(own), q[mask], own)
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
