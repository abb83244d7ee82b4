"""Choosing and combining models from backtest scores.

``select_by_backtest`` picks the model with the lowest mean score, pooled over all series or
per series. ``add_ensemble`` adds an ``Ensemble`` column: by default the *equal-weight* mean of
the given model columns. Equal weights because estimated combination weights rarely beat the
plain mean out of sample (the "forecast combination puzzle"), and ours would be estimated from
a handful of overlapping annual windows, which makes them noisy. Inverse-error weights are
available through :func:`inverse_error_weights` for when the backtest is long enough to trust.
Only point forecasts are combined: intervals for an ensemble come from conformal calibration
(``models.intervals``) on its backtest column.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal

import numpy as np
import pandas as pd

__all__ = ["add_ensemble", "inverse_error_weights", "select_by_backtest"]


def _check_scores(scores: pd.DataFrame, metric: str) -> None:
    missing = [col for col in ("unique_id", "model", metric) if col not in scores.columns]
    if missing:
        raise ValueError(
            f"scores is missing column(s) {missing}: pass the unit-level output of"
            " models.metrics.score_cv"
        )


def _pooled_means(scores: pd.DataFrame, metric: str) -> pd.Series:
    # sort=False keeps first-seen model order, so ties go to the model listed first
    means = scores.groupby("model", sort=False)[metric].mean()
    if means.isna().all():
        raise ValueError(f"no model has a finite {metric}")
    return means


def select_by_backtest(
    scores: pd.DataFrame,
    metric: str = "MASE",
    per: Literal["pooled", "series"] = "pooled",
) -> pd.Series:
    """Pick the model with the lowest mean backtest score.

    Args:
        scores: Unit-level scores from ``models.metrics.score_cv``:
            ``unique_id, cutoff, model, <metric>``.
        metric: Score column to minimise.
        per: ``"pooled"``: one model for every series (mean over all units; robust, the
            default we recommend for short annual backtests); ``"series"``: each series' own
            best (mean over its cutoffs), falling back to the pooled choice for series whose
            scores are all NaN.

    Returns:
        Chosen alias per series: a Series indexed by ``unique_id`` named ``"model"``.
    """
    _check_scores(scores, metric)
    if per not in ("pooled", "series"):
        raise ValueError(f"per must be 'pooled' or 'series', got {per!r}")
    uids = pd.Index(scores["unique_id"].drop_duplicates(), name="unique_id")
    pooled = _pooled_means(scores, metric).idxmin()
    if per == "pooled":
        return pd.Series(pooled, index=uids, name="model")
    means = scores.groupby(["unique_id", "model"], sort=False)[metric].mean().unstack("model")
    means = means.reindex(index=uids, columns=scores["model"].drop_duplicates())
    finite = means.notna().any(axis=1)
    chosen = pd.Series(pooled, index=uids, name="model")
    chosen[finite] = means[finite].idxmin(axis=1)
    return chosen


def inverse_error_weights(
    scores: pd.DataFrame, metric: str = "MASE", models: Sequence[str] | None = None
) -> dict[str, float]:
    """Combination weights proportional to ``1 / mean score``, summing to one.

    Args:
        scores: Unit-level scores from ``models.metrics.score_cv``.
        metric: Score column.
        models: Aliases to weight; all scored models by default.

    Returns:
        ``{alias: weight}``.
    """
    _check_scores(scores, metric)
    means = _pooled_means(scores, metric)
    if models is not None:
        absent = [m for m in models if m not in means.index]
        if absent:
            raise ValueError(f"no scores for model(s) {absent}")
        means = means.loc[list(models)]
    if not (means > 0).all():
        raise ValueError(f"inverse-error weights need positive finite {metric}, got {means}")
    inverse = 1 / means
    return {str(alias): float(w) for alias, w in (inverse / inverse.sum()).items()}


def add_ensemble(
    frame: pd.DataFrame,
    models: Sequence[str],
    *,
    weights: Mapping[str, float] | None = None,
    alias: str = "Ensemble",
) -> pd.DataFrame:
    """Add a combined point forecast column to a forecast or backtest frame.

    Args:
        frame: Output of ``forecast_panel`` or ``cross_validate``.
        models: Model columns to combine.
        weights: ``{alias: weight}``; equal weights when None. Normalised to sum to one.
        alias: Name of the new column.

    Returns:
        A new frame with ``alias`` after the model columns (before ``fallback`` if present).
    """
    models = list(models)
    if len(models) < 2:
        raise ValueError(f"an ensemble needs at least two models, got {models}")
    missing = [m for m in models if m not in frame.columns]
    if missing:
        raise ValueError(f"frame is missing model column(s) {missing}")
    if alias in frame.columns:
        raise ValueError(f"frame already has a column {alias!r}")
    if weights is None:
        w = np.full(len(models), 1 / len(models))
    else:
        absent = [m for m in models if m not in weights]
        if absent:
            raise ValueError(f"weights has no entry for model(s) {absent}")
        w = np.array([weights[m] for m in models], dtype=float)
        if np.any(w < 0) or not w.sum() > 0:
            raise ValueError(f"weights must be non-negative with a positive sum, got {weights}")
        w = w / w.sum()
    combined = frame[models].to_numpy(dtype=float) @ w
    columns = list(frame.columns)
    at = columns.index("fallback") if "fallback" in columns else len(columns)
    out = frame.assign(**{alias: combined})
    return out[[*columns[:at], alias, *columns[at:]]]
