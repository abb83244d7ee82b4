"""Honest rolling-origin backtests: selection and intervals that never see the scored years.

For a scored origin ``T`` the chosen model and the conformal interval widths are computed only
from backtest rows whose target year is ``<= T`` (earlier cutoffs, partial windows included).
So the "Selected" forecast of origin ``T`` is what an analyst running the engine at ``T`` would
have produced, and its errors on ``T+1..T+h`` are a fair score.

Selection is pooled over series (one model for all series at each origin): with about ten
overlapping annual windows, per-series choices mostly chase noise.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from models.intervals import apply_conformal, fit_conformal, size_classes_at
from models.metrics import score_cv

__all__ = ["RollingResult", "interval_coverage", "rolling_select"]


@dataclass(frozen=True)
class RollingResult:
    """Output of :func:`rolling_select`.

    Attributes:
        cv: Backtest rows of the scored origins with an added ``Selected`` column and its
            conformal interval columns (``Selected-lo-80`` ...).
        choices: One row per scored origin: ``cutoff, model, n_past_units``.
    """

    cv: pd.DataFrame
    choices: pd.DataFrame


def _mean_scores(
    scores: pd.DataFrame, train: pd.DataFrame, metric: str, weighted: bool
) -> pd.Series:
    if not weighted:
        return scores.groupby("model", sort=False)[metric].mean()
    level = train.rename(columns={"ds": "cutoff", "y": "_level"})[["unique_id", "cutoff", "_level"]]
    scored = scores.merge(level, on=["unique_id", "cutoff"], how="left")
    share = scored["_level"] / scored.groupby(["model", "cutoff"])["_level"].transform("sum")
    scored = scored.assign(_w=share.where(scored[metric].notna(), 0.0))
    total = (scored[metric].fillna(0.0) * scored["_w"]).groupby(scored["model"], sort=False).sum()
    return total / scored.groupby("model", sort=False)["_w"].sum()


def rolling_select(
    cv: pd.DataFrame,
    train: pd.DataFrame,
    candidates: Sequence[str],
    origins: Sequence[int],
    *,
    levels: Sequence[float] = (80, 95),
    metric: str = "MASE",
    alias: str = "Selected",
    weighted: bool = True,
    size_groups: bool = True,
) -> RollingResult:
    """Choose a model and calibrate its intervals at each origin from the past only.

    Args:
        cv: Backtest over many cutoffs (``unique_id, ds, cutoff, y`` + candidate columns),
            including cutoffs before the first scored origin (they supply the past errors).
        train: The long frame the backtest ran on (for MASE scales).
        candidates: Model columns to choose from.
        origins: Scored cutoffs.
        levels: Interval levels for the conformal bounds.
        metric: Selection metric (pooled mean over past units).
        alias: Name of the selected-model column.
        weighted: Weight each past (series, cutoff) unit by the series' share of the total
            at that cutoff (known then). The indices we forecast are driven by the large
            series, so their accuracy should drive the choice.
        size_groups: Calibrate the intervals per size class of the series at each cutoff
            (Mondrian conformal, :func:`models.intervals.size_classes_at`).

    Returns:
        The scored rows with the selected forecast and its intervals, and the choices.

    Raises:
        ValueError: An origin has no past rows to choose from.
    """
    scored_parts = []
    choices = []
    for origin in origins:
        past = cv.loc[(cv["cutoff"] < origin) & (cv["ds"] <= origin)]
        if past.empty:
            raise ValueError(f"rolling_select: no backtest rows with target year <= {origin}")
        scores = score_cv(past, train, list(candidates))
        means = _mean_scores(scores, train, metric, weighted)
        model = str(means.idxmin())
        now = cv.loc[cv["cutoff"] == origin]
        if now.empty:
            raise ValueError(f"rolling_select: cv has no rows for cutoff {origin}")
        groups_past = size_classes_at(past, train) if size_groups else None
        groups_now = size_classes_at(now, train) if size_groups else None
        calibration = fit_conformal(
            past.assign(**{alias: past[model]}), alias, levels, groups=groups_past
        )
        now = apply_conformal(now.assign(**{alias: now[model]}), alias, calibration, groups_now)
        scored_parts.append(now)
        choices.append(
            {"cutoff": origin, "model": model, "n_past_units": int(scores["unique_id"].size)}
        )
    return RollingResult(
        cv=pd.concat(scored_parts, ignore_index=True), choices=pd.DataFrame(choices)
    )


def interval_coverage(cv: pd.DataFrame, alias: str, levels: Sequence[float]) -> dict[str, float]:
    """Share of actuals inside ``<alias>-lo/hi-<level>`` (NaN bounds count as misses)."""
    y = cv["y"].to_numpy(dtype=float)
    out = {}
    for lv in levels:
        key = str(int(lv)) if float(lv).is_integer() else str(lv)
        lo = cv[f"{alias}-lo-{key}"].to_numpy(dtype=float)
        hi = cv[f"{alias}-hi-{key}"].to_numpy(dtype=float)
        out[f"coverage-{key}"] = float(np.mean((lo <= y) & (y <= hi)))
    return out
