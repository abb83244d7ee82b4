"""The default pipeline: backtest the candidate models, select, forecast, add conformal intervals.

``forecast(df, h)`` works on any long frame of positive annual series (``unique_id, ds, y`` plus
optional exogenous columns, which the default univariate models ignore):

1. Rolling-origin backtest of the candidates (:func:`default_models`) and of their equal-weight
   mean ``Ensemble``, ``n_windows`` cutoffs per series, ``Naive`` as the fallback model.
2. Score every (series, cutoff) by MASE and select. ``select="pooled"`` (default) picks the one
   model with the lowest mean MASE over all series: with a few overlapping annual windows a
   per-series choice mostly chases noise, and on Korea's partners the pooled winner (Naive)
   was hard to beat (BENCHMARKS.md). ``select="series"`` picks each series' own best.
3. Calibrate conformal intervals on the selected model's backtest errors relative to its
   forecasts (``models.intervals``), pooled across series per horizon step. With
   ``select="series"`` the calibration uses the errors of each series' chosen model, which is
   slightly optimistic because the same windows chose it.
4. Refit the selected model(s) on the full history and forecast ``h`` years.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
import pandas as pd

from exportcast.models.ensemble import add_ensemble, select_by_backtest
from exportcast.models.forecasting import cross_validate as _engine_cross_validate
from exportcast.models.forecasting import forecast_panel
from exportcast.models.intervals import apply_conformal, fit_conformal
from exportcast.models.metrics import score_cv
from exportcast.models.protocol import Forecaster
from exportcast.models.series_checks import check_series
from exportcast.models.timeseries import AutoARIMA, DampedETS, Drift, Naive, Theta

__all__ = ["ENSEMBLE", "SELECTED", "cross_validate", "default_models", "forecast"]

ENSEMBLE = "Ensemble"
SELECTED = "Selected"


def default_models(*, log: bool = False) -> list[Forecaster]:
    """The engine's candidate models.

    Args:
        log: Also include log-scale variants of Drift, Theta, DampedETS and AutoARIMA. Off by
            default: on Korea's partner series log-scale fits were worse (BENCHMARKS.md) and
            they double the backtest time. They need ``y > 0``.

    Returns:
        ``[Naive, Drift, Theta, DampedETS, AutoARIMA]`` (+ ``LogDrift``, ``LogTheta``,
        ``LogDampedETS``, ``LogAutoARIMA``).
    """
    models: list[Forecaster] = [Naive(), Drift(), Theta(), DampedETS(), AutoARIMA()]
    if log:
        models += [Drift(log=True), Theta(log=True), DampedETS(log=True), AutoARIMA(log=True)]
    return models


def _candidates(models: Sequence[Forecaster] | None) -> list[Forecaster]:
    candidates = default_models() if models is None else list(models)
    if any(m.alias in (ENSEMBLE, SELECTED) for m in candidates):
        raise ValueError(f"aliases {ENSEMBLE!r} and {SELECTED!r} are reserved by the pipeline")
    return candidates


def cross_validate(
    df: pd.DataFrame,
    h: int,
    n_windows: int = 5,
    *,
    models: Sequence[Forecaster] | None = None,
    step: int = 1,
    n_jobs: int = 1,
) -> pd.DataFrame:
    """Rolling-origin backtest of the candidate models plus their equal-weight ``Ensemble``.

    Args:
        df: Long frame ``unique_id, ds, y`` (+ exogenous columns) of annual series.
        h: Forecast horizon in years.
        n_windows: Cutoffs per series, the last one ``h`` years before the series ends.
        models: Candidate forecasters; :func:`default_models` when None.
        step: Years between cutoffs.
        n_jobs: Worker processes over series.

    Returns:
        ``unique_id, ds, cutoff, y, <alias>..., Ensemble, fallback`` (``Ensemble`` only with
        two or more candidates).
    """
    candidates = _candidates(models)
    cv = _engine_cross_validate(
        df, candidates, h, n_windows=n_windows, step=step, fallback=Naive(), n_jobs=n_jobs
    )
    if len(candidates) > 1:
        cv = add_ensemble(cv, [m.alias for m in candidates], alias=ENSEMBLE)
    return cv


def _pick(frame: pd.DataFrame, choice: pd.Series) -> np.ndarray:
    """Per row, the value of the column named by that row's series' chosen alias."""
    chosen = frame["unique_id"].map(choice).to_numpy()
    out = np.full(len(frame), np.nan)
    for alias in pd.unique(chosen):
        rows = chosen == alias
        out[rows] = frame.loc[rows, alias].to_numpy(dtype=float)
    return out


def _relevant_fallbacks(fallback: pd.Series, chosen: pd.Series, components: list[str]) -> list[str]:
    out = []
    for record, alias in zip(fallback, chosen, strict=True):
        used = alias if alias != ENSEMBLE else ",".join(components)
        out.append(",".join(a for a in record.split(",") if a and a in used.split(",")))
    return out


def forecast(
    df: pd.DataFrame,
    h: int,
    level: Sequence[int] | None = (80, 95),
    *,
    models: Sequence[Forecaster] | None = None,
    n_windows: int = 5,
    step: int = 1,
    select: Literal["pooled", "series"] = "pooled",
    n_jobs: int = 1,
) -> pd.DataFrame:
    """Forecast every series with the backtest-selected model and conformal intervals.

    Args:
        df: Long frame ``unique_id, ds, y`` (+ exogenous columns) of positive annual series.
        h: Forecast horizon in years.
        level: Conformal interval levels in percent; None or empty for none.
        models: Candidate forecasters; :func:`default_models` when None.
        n_windows: Backtest cutoffs per series.
        step: Years between backtest cutoffs.
        select: ``"pooled"`` (one model for all series) or ``"series"`` (see module docs).
        n_jobs: Worker processes over series.

    Returns:
        ``unique_id, ds, Selected, Selected-lo-95, Selected-lo-80, Selected-hi-80,
        Selected-hi-95, model, fallback``: ``model`` is the chosen alias for that series,
        ``fallback`` the chosen model(s) that failed on the full history and were replaced by
        ``Naive``.
    """
    frame = check_series(df)
    candidates = _candidates(models)
    aliases = [m.alias for m in candidates]
    cv = cross_validate(frame, h, n_windows, models=candidates, step=step, n_jobs=n_jobs)
    if cv.empty:
        raise ValueError("no series is long enough for a backtest window (needs h + 1 years)")
    scored = [*aliases, ENSEMBLE] if ENSEMBLE in cv.columns else aliases
    scores = score_cv(cv, frame, scored)
    pooled = select_by_backtest(scores, "MASE", per="pooled").iloc[0]
    choice = select_by_backtest(scores, "MASE", per=select)
    uids = frame["unique_id"].drop_duplicates()
    # series too short for any backtest window get the pooled choice
    choice = choice.reindex(pd.Index(uids, name="unique_id")).fillna(pooled)

    needed = set(choice)
    if ENSEMBLE in needed:
        needed |= set(aliases)
    fitted = [m for m in candidates if m.alias in needed]
    fcst = forecast_panel(frame, fitted, h, fallback=Naive(), n_jobs=n_jobs)
    if ENSEMBLE in needed:
        fcst = add_ensemble(fcst, aliases, alias=ENSEMBLE)

    chosen = fcst["unique_id"].map(choice)
    out = pd.DataFrame(
        {
            "unique_id": fcst["unique_id"],
            "ds": fcst["ds"],
            SELECTED: _pick(fcst, choice),
            "model": chosen.to_numpy(dtype=object),
            "fallback": _relevant_fallbacks(fcst["fallback"], chosen, aliases),
        }
    )
    levels = list(level or [])
    if levels:
        cv_selected = cv[["unique_id", "ds", "cutoff", "y"]].assign(**{SELECTED: _pick(cv, choice)})
        out = apply_conformal(out, SELECTED, fit_conformal(cv_selected, SELECTED, levels))
    return out.reset_index(drop=True)
