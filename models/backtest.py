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

from exportcast.models.forecasting import forecast_panel
from exportcast.models.histories import values_at_cutoff
from exportcast.models.intervals import apply_conformal, fit_conformal, size_classes_at
from exportcast.models.memo import forecasts_memo
from exportcast.models.metrics import cutoff_scales, score_cv
from exportcast.models.protocol import Forecaster

__all__ = ["RollingResult", "cross_validate_by_origin", "interval_coverage", "rolling_select"]


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
    scores: pd.DataFrame, level: pd.DataFrame, metric: str, weighted: bool
) -> pd.Series:
    """Pooled mean of ``metric`` per model; ``level`` is ``values_at_cutoff(train)``."""
    if not weighted:
        return scores.groupby("model", sort=False)[metric].mean()
    level = level.rename(columns={"y": "_level"})
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
    # what depends only on a row's (series, cutoff) is computed once for every origin: the MASE
    # scales of the past windows, the levels that weight them, each row's size class (the same
    # numbers as computing them origin by origin, tests/models/test_origin_split.py)
    last = max(origins, default=None)
    scales = cutoff_scales(cv.loc[cv["cutoff"] < last], train) if last is not None else None
    level = values_at_cutoff(train) if weighted else None
    groups_all = size_classes_at(cv, train) if size_groups else None
    for origin in origins:
        in_past = ((cv["cutoff"] < origin) & (cv["ds"] <= origin)).to_numpy()
        past = cv.loc[in_past]
        if past.empty:
            raise ValueError(f"rolling_select: no backtest rows with target year <= {origin}")
        scores = score_cv(past, train, list(candidates), scales=scales)
        means = _mean_scores(scores, level, metric, weighted)
        model = str(means.idxmin())
        is_now = (cv["cutoff"] == origin).to_numpy()
        now = cv.loc[is_now]
        if now.empty:
            raise ValueError(f"rolling_select: cv has no rows for cutoff {origin}")
        groups_past = groups_all[in_past] if groups_all is not None else None
        groups_now = groups_all[is_now] if groups_all is not None else None
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


def cross_validate_by_origin(
    histories: pd.DataFrame,
    models: Sequence[Forecaster],
    h: int,
    *,
    origins: Sequence[int] | None = None,
    fallback: Forecaster | None = None,
    n_jobs: int = 1,
) -> pd.DataFrame:
    """Rolling-origin backtest on histories as known at each origin.

    At each cutoff ``T`` the models are fitted on the rows of cutoff ``T`` with ``ds <= T``
    only (:mod:`models.histories`) and forecast ``h`` years; the rows with ``ds > T`` are the
    actuals (years past the data's end are left out, as ``cross_validate`` shortens windows).
    With one history per series this gives the same forecasts as ``cross_validate``.

    Args:
        histories: ``unique_id, cutoff, ds, y``.
        models: Forecasters with unique aliases.
        h: Horizon in years.
        origins: Cutoffs to run (default: every cutoff of ``histories``); cutoffs absent from
            ``histories`` are skipped.
        fallback: Model run under the same alias when a model fails.
        n_jobs: Worker processes over series.

    Returns:
        ``cross_validate``'s columns: ``unique_id, ds, cutoff, y, <alias>..., fallback``.
    """
    wanted = sorted(set(histories["cutoff"])) if origins is None else sorted(set(origins))
    parts = []
    for cutoff, frame in histories.groupby("cutoff", sort=True):
        if int(cutoff) not in wanted:
            continue
        known = frame.loc[frame["ds"] <= cutoff, ["unique_id", "ds", "y"]]
        actual = frame.loc[frame["ds"] > cutoff, ["unique_id", "ds", "y"]]
        # an ex ante baseline's engine sees the same histories at the early origins
        fc = forecasts_memo(
            known, models, fallback, h,
            lambda known=known: forecast_panel(known, models, h, fallback=fallback, n_jobs=n_jobs),
        )  # fmt: skip
        fc = fc.merge(actual, on=["unique_id", "ds"], how="inner", validate="one_to_one")
        parts.append(fc.assign(cutoff=int(cutoff)))
    if not parts:
        raise ValueError(f"cross_validate_by_origin: no histories for origins {wanted}")
    cv = pd.concat(parts, ignore_index=True)
    first = ["unique_id", "ds", "cutoff", "y"]
    cv = cv[[*first, *[c for c in cv.columns if c not in first]]]
    cv = cv.astype({"ds": "int64", "cutoff": "int64"})
    return cv.sort_values(["unique_id", "cutoff", "ds"], ignore_index=True)
