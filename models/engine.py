"""The forecasting engine end to end: backtest, select, forecast, intervals, sample paths.

``run_engine`` is what the pipeline calls. Every choice is made on backtest errors only:

1. A rolling-origin backtest of the candidate models (and their equal-weight ``Ensemble``) at
   the history origins plus the scored origins.
2. Scored origins: the model is chosen, and conformal intervals calibrated, from errors on
   years ``<= origin`` only (:func:`models.backtest.rolling_select`); this gives the honest
   accuracy and interval coverage that the report quotes.
3. Live forecast: the model with the lowest weighted MASE over the whole backtest forecasts
   ``h`` years from the last year; its intervals are calibrated on all backtest errors.
4. Sample paths: each path replays the joint errors (all series, steps 1..h) of one past
   backtest window of the chosen model, drawn with replacement
   (:func:`models.paths.window_error_paths`), for the uncertainty of cross-series indices;
   errors are clipped at the 99 % conformal bound of the series' size class and centred so
   that each series' paths average its point forecast in USD.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import pandas as pd

from exportcast.models.backtest import (
    _mean_scores,
    cross_validate_by_origin,
    interval_coverage,
    rolling_select,
)
from exportcast.models.backtest_stage import add_panel_backtests, scorable_origins
from exportcast.models.ensemble import add_ensemble
from exportcast.models.fallbacks import MAX_FALLBACK_SHARE, check_fallbacks, fallback_table
from exportcast.models.forecasting import cross_validate, forecast_panel
from exportcast.models.histories import values_at_cutoff
from exportcast.models.intervals import (
    ConformalCalibration,
)
from exportcast.models.live_forecast import conformal_live_forecast, floor_at_zero, sample_paths
from exportcast.models.metrics import evaluate_cv, score_cv
from exportcast.models.protocol import PanelForecaster
from exportcast.models.timeseries import AutoARIMA, DampedETS, Drift, Naive, Theta

__all__ = ["MODEL_CLASSES", "EngineResult", "engine_origins", "finish_engine", "run_engine"]


MODEL_CLASSES = {
    "Naive": Naive,
    "Drift": Drift,
    "Theta": Theta,
    "DampedETS": DampedETS,
    "AutoARIMA": AutoARIMA,
}


ENSEMBLE = "Ensemble"


@dataclass(frozen=True)
class EngineResult:
    """Everything the engine produced.

    Attributes:
        forecast: ``unique_id, ds, model, mean, lo_80, hi_80, lo_95, hi_95`` (levels as given).
        accuracy: Backtest table per model over the scored origins (``Selected`` = the
            rolling choice): MASE, sMAPE, RMSSE, relMASE vs Naive, weighted variants.
        coverage: Empirical coverage of the ``Selected`` intervals on the scored origins.
        choices: Rolling choice per scored origin.
        model: The model chosen for the live forecast.
        paths: Sample paths ``unique_id, ds, path, y`` around the live forecast.
        backtest: The scored backtest rows (``Selected`` and every candidate).
        calibration: The conformal calibration of the live intervals (per size class).
        fallbacks: How often the fallback model (Naive) replaced each candidate:
            ``stage`` (backtest, live forecast), ``model``, ``replaced``, ``fits``, ``share``.
        history: The histories the backtest was scored on: the series, or one history per
            origin (``unique_id, cutoff, ds, y``, :mod:`models.histories`) when the split of
            the series was decided at each origin.
        weights: The accuracy weight of each series (None when unweighted).
    """

    forecast: pd.DataFrame
    accuracy: pd.DataFrame
    coverage: dict[str, float]
    choices: pd.DataFrame
    model: str
    paths: pd.DataFrame
    backtest: pd.DataFrame
    calibration: ConformalCalibration
    fallbacks: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(
            columns=["stage", "model", "replaced", "fits", "share"]
        )
    )

    @property
    def n_fallbacks(self) -> dict[str, int]:
        """Fits replaced by the fallback, per model (backtest and live forecast together)."""
        if self.fallbacks.empty:
            return {}
        return {
            str(k): int(v) for k, v in self.fallbacks.groupby("model")["replaced"].sum().items()
        }

    history: pd.DataFrame | None = None
    weights: pd.Series | None = None


def _pooled_choice(cv: pd.DataFrame, series: pd.DataFrame, candidates: list[str]) -> str:
    # the same rule as the rolling choice, over every backtest row
    scores = score_cv(cv, series, candidates)
    return str(_mean_scores(scores, values_at_cutoff(series), "MASE", weighted=True).idxmin())


def _live_forecaster(
    series: pd.DataFrame, panel: dict[str, PanelForecaster], h: int, n_jobs: int
) -> Callable[[list[str]], pd.DataFrame]:
    """The ``live_forecast`` of :func:`finish_engine`: per-series models, then panel models."""

    def live_forecast(needed: list[str]) -> pd.DataFrame:
        own = [m for m in needed if m not in panel]
        fc = None
        if own:
            fc = forecast_panel(
                series, [MODEL_CLASSES[m]() for m in own], h, fallback=Naive(), n_jobs=n_jobs
            )
        for name in [m for m in needed if m in panel]:
            live = panel[name].forecast(series, h)[["unique_id", "ds", name]]
            fc = live if fc is None else fc.merge(live, on=["unique_id", "ds"], how="left")
        return fc

    return live_forecast


def run_engine(
    series: pd.DataFrame,
    *,
    h: int,
    models: Sequence[str],
    scored_origins: Sequence[int],
    history_origins: Sequence[int],
    levels: Sequence[int] = (80, 95),
    weights: pd.Series | None = None,
    n_paths: int = 1000,
    seed: int = 0,
    n_jobs: int = 1,
    max_fallback_share: float = MAX_FALLBACK_SHARE,
    panel_models: Sequence[PanelForecaster] = (),
    history: pd.DataFrame | None = None,
) -> EngineResult:
    """Backtest, select, forecast with intervals and simulate joint paths.

    Args:
        series: ``unique_id, ds, y`` of positive annual series (consecutive years).
        h: Horizon in years.
        models: Candidate model names (keys of ``MODEL_CLASSES``); with two or more the
            equal-weight ``Ensemble`` is a candidate too.
        scored_origins: Origins whose errors are reported (rolling, honest).
        history_origins: Earlier origins that only supply past errors.
        levels: Interval levels in percent.
        weights: Optional weight per ``unique_id`` for weighted accuracy (e.g. export shares).
        n_paths: Sample paths.
        seed: Seed of the path resampling.
        n_jobs: Parallel workers over series.
        max_fallback_share: Fail when the fallback replaced a model on a larger share of
            its fits (:func:`models.fallbacks.check_fallbacks`).
        panel_models: Candidates fitted on all series at once (e.g. ``models.demand``): each
            backtests itself at the same origins; not part of the ``Ensemble``.
        history: Optional histories as known at each origin (``unique_id, cutoff, ds, y``,
            :func:`features.series.origin_histories`): the backtest of origin ``T`` runs on
            them instead of on ``series`` (the live split), and is scored on them. ``series``
            is then only the live forecast's input.

    Returns:
        The engine's outputs.

    Raises:
        ValueError: Unknown model names or origins outside the data.
        FallbackShareError: A model fell back to Naive too often.
    """
    origins, scored = engine_origins(series, models, scored_origins, history_origins)
    instances = [MODEL_CLASSES[m]() for m in models]
    if history is None:
        cv = cross_validate(series, instances, h, origins=origins, fallback=Naive(), n_jobs=n_jobs)
    else:
        cv = cross_validate_by_origin(
            history, instances, h, origins=origins, fallback=Naive(), n_jobs=n_jobs
        )
    panel = {p.alias: p for p in panel_models}
    cv = add_panel_backtests(cv, series, list(panel.values()), origins, h, history=history)
    return finish_engine(
        series,
        cv,
        _live_forecaster(series, panel, h, n_jobs),
        h=h,
        models=models,
        scored=scored,
        levels=levels,
        weights=weights,
        n_paths=n_paths,
        seed=seed,
        max_fallback_share=max_fallback_share,
        extra=list(panel),
        history=history,
    )


def engine_origins(
    series: pd.DataFrame,
    models: Sequence[str],
    scored_origins: Sequence[int],
    history_origins: Sequence[int],
) -> tuple[list[int], list[int]]:
    """Check model names; the backtest origins and the scored ones (before the last year).

    Raises:
        ValueError: Unknown model names, or no scored origin before the last year.
    """
    unknown = [m for m in models if m not in MODEL_CLASSES]
    if unknown:
        raise ValueError(f"unknown model(s) {unknown}; choose from {sorted(MODEL_CLASSES)}")
    last = int(series["ds"].max())
    origins = [t for t in sorted({*history_origins, *scored_origins}) if t < last]
    scored = [t for t in scored_origins if t < last]
    if not scored:
        raise ValueError(f"no scored origin before the last year {last}")
    return origins, scored


def _candidates(
    cv: pd.DataFrame, models: Sequence[str], extra: Sequence[str]
) -> tuple[pd.DataFrame, list[str]]:
    """The backtest floored at zero, with the ``Ensemble`` of two or more models; the candidates."""
    candidates = list(models)
    cv = floor_at_zero(cv, [*candidates, *extra])
    if len(models) >= 2:
        cv = add_ensemble(cv, list(models), alias=ENSEMBLE)
        candidates.append(ENSEMBLE)
    candidates += list(extra)
    return cv, candidates


def _live_points(
    live_forecast: Callable[[list[str]], pd.DataFrame],
    model: str,
    models: Sequence[str],
    cv_fallbacks: pd.DataFrame,
    max_fallback_share: float,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The chosen model's live point forecasts, and the fallback table of backtest and live.

    Raises:
        FallbackShareError: A model fell back to Naive too often in the live forecast.
    """
    needed = list(models) if model == ENSEMBLE else [model]
    fc = live_forecast(needed)
    fallbacks = pd.concat(
        [cv_fallbacks, fallback_table(pd.DataFrame(), fc, needed)], ignore_index=True
    )
    check_fallbacks(fallbacks, max_fallback_share)
    if model == ENSEMBLE:
        fc = add_ensemble(fc, needed, alias=ENSEMBLE)
    return fc, fallbacks


def finish_engine(
    series: pd.DataFrame,
    cv: pd.DataFrame,
    live_forecast: Callable[[list[str]], pd.DataFrame],
    *,
    h: int,
    models: Sequence[str],
    scored: Sequence[int],
    levels: Sequence[int],
    weights: pd.Series | None,
    n_paths: int,
    seed: int,
    max_fallback_share: float = MAX_FALLBACK_SHARE,
    extra: Sequence[str] = (),
    history: pd.DataFrame | None = None,
) -> EngineResult:
    """Everything after the backtest: selection, accuracy, live forecast, intervals, paths.

    Shared by :func:`run_engine` and the Dask runner (``flows/parallel.py``), which computes
    ``cv`` and the live forecasts in chunks.

    Args:
        series: The long frame the backtest ran on.
        cv: ``cross_validate`` output for the candidate models.
        live_forecast: Returns ``unique_id, ds, <model>...`` live forecasts for given models.
        h: Horizon.
        models: Candidate model names.
        scored: Scored origins.
        levels: Interval levels.
        weights: Optional accuracy weights per ``unique_id``.
        n_paths: Sample paths.
        seed: Path seed.
        max_fallback_share: Fail when the fallback replaced a model on a larger share of its
            fits (backtest or live forecast).
        extra: Further candidate columns of ``cv`` outside the ``Ensemble`` (panel models).
        history: The per-origin histories ``cv`` ran on (scored on them), or None when it
            ran on ``series``.

    Returns:
        The engine's outputs.

    Raises:
        FallbackShareError: A model fell back to Naive too often.
    """
    cv_fallbacks = fallback_table(cv, pd.DataFrame(), models)
    train = series if history is None else history
    if history is not None and weights is not None:  # a partner modelled only in the past
        weights = weights.reindex(weights.index.union(cv["unique_id"].unique()), fill_value=0.0)
    cv, candidates = _candidates(cv, models, extra)
    scored = scorable_origins(cv, scored, h, levels)  # too short for the backtest: say so first
    check_fallbacks(cv_fallbacks, max_fallback_share)
    rolled = rolling_select(cv, train, candidates, scored, levels=levels)
    baseline = "Naive" if "Naive" in rolled.cv.columns else None
    accuracy = evaluate_cv(rolled.cv, train, [*candidates, "Selected"], weights, baseline=baseline)
    coverage = interval_coverage(rolled.cv, "Selected", levels)

    model = _pooled_choice(cv, train, candidates)
    fc, fallbacks = _live_points(live_forecast, model, models, cv_fallbacks, max_fallback_share)
    forecast, calibration, cv_sizes, live_sizes = conformal_live_forecast(
        fc, cv, series, train, model, levels
    )
    paths = sample_paths(forecast, cv, model, cv_sizes, live_sizes, h=h, n_paths=n_paths, seed=seed)
    return EngineResult(
        forecast=forecast.reset_index(drop=True),
        accuracy=accuracy,
        coverage=coverage,
        choices=rolled.choices,
        model=model,
        paths=paths,
        backtest=rolled.cv,
        calibration=calibration,
        fallbacks=fallbacks,
        history=train,
        weights=weights,
    )
