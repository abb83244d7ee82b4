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

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from features.errors import ExportcastError
from models.backtest import (
    _mean_scores,
    cross_validate_by_origin,
    interval_coverage,
    rolling_select,
)
from models.ensemble import add_ensemble
from models.fallbacks import fallback_counts
from models.forecasting import cross_validate, forecast_panel
from models.intervals import (
    ConformalCalibration,
    apply_conformal,
    fit_conformal,
    size_classes_at,
)
from models.metrics import evaluate_cv, score_cv
from models.paths import window_error_paths
from models.protocol import PanelForecaster
from models.timeseries import AutoARIMA, DampedETS, Drift, Naive, Theta

__all__ = [
    "MAX_FALLBACK_SHARE",
    "MODEL_CLASSES",
    "BacktestCoverageError",
    "EngineResult",
    "FallbackShareError",
    "add_panel_backtests",
    "check_fallbacks",
    "engine_origins",
    "fallback_table",
    "finish_engine",
    "floor_at_zero",
    "floor_live_forecast",
    "path_clip_bounds",
    "run_engine",
    "scorable_origins",
]

MODEL_CLASSES = {
    "Naive": Naive,
    "Drift": Drift,
    "Theta": Theta,
    "DampedETS": DampedETS,
    "AutoARIMA": AutoARIMA,
}
ENSEMBLE = "Ensemble"
# Replayed path errors are clipped at this conformal level of the series' size class.
PATH_CLIP_LEVEL = 99.0


class BacktestCoverageError(ExportcastError, ValueError):
    """The series are too short for the configured backtest (names the years and the keys)."""


class FallbackShareError(ExportcastError, ValueError):
    """A model failed on more fits than ``max_fallback_share`` allows (names model and share)."""


# Default of forecast.max_fallback_share: Korea's default backtest replaces 1.1 % of Theta's
# fits (short early series), so 5 % leaves room for other reporters and catches a broken model.
MAX_FALLBACK_SHARE = 0.05


def check_fallbacks(counts: pd.DataFrame, max_share: float) -> None:
    """Fail when any model was replaced by the fallback on more than ``max_share`` of its fits.

    Args:
        counts: ``stage, model, replaced, fits, share`` (:func:`fallback_table`).
        max_share: Largest tolerated share (0-1).

    Raises:
        FallbackShareError: Naming each model over the limit, its stage, count and share.
    """
    over = counts[counts["share"] > max_share]
    if over.empty:
        return
    worst = "; ".join(
        f"{r.model} in the {r.stage} ({r.replaced} of {r.fits} fits, {r.share:.1%})"
        for r in over.itertuples()
    )
    raise FallbackShareError(
        f"the fallback model (Naive) replaced {worst}: more than "
        f"forecast.max_fallback_share = {max_share:.0%}; expected a model that fits these "
        "series (drop it from forecast.models) or a larger forecast.max_fallback_share"
    )


def fallback_table(
    backtest: pd.DataFrame, live: pd.DataFrame, models: Sequence[str]
) -> pd.DataFrame:
    """Fallback counts of the backtest and the live forecast: ``stage, model, replaced, fits, share``."""
    parts = []
    for stage, frame, names in (
        ("backtest", backtest, list(models)),
        ("live forecast", live, None),
    ):
        if "fallback" not in frame.columns:
            continue
        if names is None:
            names = [m for m in models if m in frame.columns]
        parts.append(fallback_counts(frame, names).assign(stage=stage))
    if not parts:
        return pd.DataFrame(columns=["stage", "model", "replaced", "fits", "share"])
    out = pd.concat(parts, ignore_index=True)
    return out[["stage", "model", "replaced", "fits", "share"]]


def _min_scores(levels: Sequence[float]) -> int:
    # the fewest errors whose conformal quantile is finite at every level
    n = 1
    while any(math.ceil((n + 1) * lv / 100) > n for lv in levels):
        n += 1
    return n


def scorable_origins(
    cv: pd.DataFrame, scored: Sequence[int], h: int, levels: Sequence[float]
) -> list[int]:
    """The scored origins whose past backtest errors can calibrate every interval.

    The rolling choice at origin ``S`` calibrates its intervals on errors of target years
    ``<= S``; every step ``1..h`` needs enough of them for a finite bound at every level (19
    for 95 %). Series that start late (e.g. a reporter whose data begin in 2006) leave the
    early origins without them; those origins are not scored.

    Raises:
        BacktestCoverageError: No scored origin qualifies.
    """
    need = _min_scores(levels)
    step = (cv["ds"] - cv["cutoff"]).to_numpy()
    ok = []
    for origin in scored:
        past = ((cv["cutoff"] < origin) & (cv["ds"] <= origin)).to_numpy()
        counts = np.bincount(step[past], minlength=h + 1)[1 : h + 1] if past.any() else []
        if len(counts) == h and min(counts) >= need:
            ok.append(int(origin))
    if not ok:
        first = int(cv["cutoff"].min()) if len(cv) else None
        raise BacktestCoverageError(
            f"no scored backtest origin ({min(scored)}-{max(scored)}) has {need} past errors at "
            f"every step 1-{h} to calibrate its {'/'.join(str(lv) for lv in levels)} % "
            f"intervals (the backtest's first origin with a forecast is {first}): the series "
            "are too short for this backtest; expected later scored origins "
            "(forecast.backtest.start) or a shorter horizon"
        )
    return ok


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


def _error_bounds(cal: ConformalCalibration, labels: pd.Series) -> pd.DataFrame:
    """Per series (``labels``: its size class) and step: its class's conformal bound.

    ``cal`` holds one level; a class without its own quantile uses the pooled one.
    """
    (level,) = cal.levels
    pooled = cal.quantiles[level]
    groups = cal.by_group or {}
    return pd.DataFrame(
        {
            uid: pooled if label not in groups else groups[label][level].fillna(pooled)
            for uid, label in labels.items()
        }
    )


def path_clip_bounds(
    cv: pd.DataFrame, model: str, cv_sizes: np.ndarray, live_sizes: pd.Series
) -> pd.DataFrame:
    """Per series and step: the ``PATH_CLIP_LEVEL`` conformal bound of its size class.

    Args:
        cv: Backtest rows the bound is calibrated on (``model`` column, ``y``).
        model: The forecast column.
        cv_sizes: Size class of each row of ``cv`` (:func:`models.intervals.size_classes_at`).
        live_sizes: Size class of each series now, indexed by ``unique_id``.

    Returns:
        One column per series, one row per step: the bound of ``|log error|``.
    """
    calibration = fit_conformal(cv, model, (PATH_CLIP_LEVEL,), groups=cv_sizes)
    return _error_bounds(calibration, live_sizes.groupby(level=0).first())


def floor_at_zero(frame: pd.DataFrame, aliases: Sequence[str]) -> pd.DataFrame:
    """Floor the forecasts of ``aliases`` (point and ``<alias>-lo/hi-*`` columns) at zero.

    Exports cannot be negative, but a drift can extrapolate a falling series below zero. The
    engine floors its backtest and its live forecast alike, so the backtest scores the forecast
    that is published. Missing values stay missing.
    """
    cols = [c for c in frame.columns if any(c == a or c.startswith(f"{a}-") for a in aliases)]
    return frame.assign(**{c: frame[c].clip(lower=0.0) for c in cols})


def floor_live_forecast(fc: pd.DataFrame, model: str) -> pd.DataFrame:
    """:func:`floor_at_zero` for a live forecast with conformal bounds of ``model``.

    The bounds of a non-positive point forecast are undefined on the relative scale of the
    intervals (missing): they become 0, like the point forecast.
    """
    fc = floor_at_zero(fc, [model])
    return fc.fillna({c: 0.0 for c in fc.columns if c.startswith(f"{model}-")})


def _pooled_choice(cv: pd.DataFrame, series: pd.DataFrame, candidates: list[str]) -> str:
    # the same rule as the rolling choice, over every backtest row
    scores = score_cv(cv, series, candidates)
    return str(_mean_scores(scores, series, "MASE", weighted=True).idxmin())


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
            its fits (:func:`check_fallbacks`).
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

    return finish_engine(
        series,
        cv,
        live_forecast,
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


def add_panel_backtests(
    cv: pd.DataFrame,
    series: pd.DataFrame,
    panel_models: Sequence[PanelForecaster],
    origins: Sequence[int],
    h: int,
    *,
    history: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Join each panel model's backtest (its ``alias`` column) to ``cv``.

    With per-origin ``history`` (``unique_id, cutoff, ds, y``) each origin's backtest runs on
    the histories known at that origin, as the other candidates' do.

    Raises:
        ValueError: A panel model left a backtest row of ``cv`` without a forecast.
    """
    keys = ["unique_id", "ds", "cutoff"]
    for model in panel_models:
        if history is None:
            bt = model.backtest(series, list(origins), h)
        else:
            bt = pd.concat(
                [
                    model.backtest(part.drop(columns="cutoff"), [int(cutoff)], h)
                    for cutoff, part in history.groupby("cutoff")
                    if int(cutoff) in set(origins)
                ],
                ignore_index=True,
            )
        bt = bt[[*keys, model.alias]]
        cv = cv.merge(bt, on=keys, how="left")
        missing = cv[model.alias].isna().to_numpy()
        if missing.any():
            row = cv.loc[missing].iloc[0]
            raise ValueError(
                f"panel model {model.alias!r} has no backtest forecast for "
                f"unique_id={row['unique_id']!r}, cutoff={row['cutoff']}, ds={row['ds']} "
                f"({int(missing.sum())} rows): it must forecast every series at every origin"
            )
    return cv


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
    candidates = list(models)
    cv = floor_at_zero(cv, [*candidates, *extra])
    if len(models) >= 2:
        cv = add_ensemble(cv, list(models), alias=ENSEMBLE)
        candidates.append(ENSEMBLE)
    candidates += list(extra)
    scored = scorable_origins(cv, scored, h, levels)  # too short for the backtest: say so first
    check_fallbacks(cv_fallbacks, max_fallback_share)
    rolled = rolling_select(cv, train, candidates, scored, levels=levels)
    baseline = "Naive" if "Naive" in rolled.cv.columns else None
    accuracy = evaluate_cv(rolled.cv, train, [*candidates, "Selected"], weights, baseline=baseline)
    coverage = interval_coverage(rolled.cv, "Selected", levels)

    model = _pooled_choice(cv, train, candidates)
    needed = list(models) if model == ENSEMBLE else [model]
    fc = live_forecast(needed)
    fallbacks = pd.concat(
        [cv_fallbacks, fallback_table(pd.DataFrame(), fc, needed)], ignore_index=True
    )
    check_fallbacks(fallbacks, max_fallback_share)
    if model == ENSEMBLE:
        fc = add_ensemble(fc, needed, alias=ENSEMBLE)
    # intervals per size class of the partner (Mondrian conformal): large partners get the
    # errors of large partners
    cv_sizes = size_classes_at(cv, train)
    calibration = fit_conformal(cv, model, levels, groups=cv_sizes)
    fc = fc[["unique_id", "ds", model]]
    live_sizes = size_classes_at(fc, series)
    fc = apply_conformal(fc, model, calibration, live_sizes)
    rename = {model: "mean"}
    for lv in levels:
        rename[f"{model}-lo-{lv}"] = f"lo_{lv}"
        rename[f"{model}-hi-{lv}"] = f"hi_{lv}"
    fc = floor_live_forecast(fc, model)
    forecast = fc.rename(columns=rename).assign(model=model)
    forecast = forecast[
        ["unique_id", "ds", "model", "mean", *[c for c in rename.values() if c != "mean"]]
    ]

    clip = path_clip_bounds(cv, model, cv_sizes, pd.Series(live_sizes, index=fc["unique_id"]))
    # level-centred: each partner's paths average its point forecast in USD, so the paths'
    # totals and shares are not pulled by past biases (benchmarks/index_coverage.py)
    paths = window_error_paths(
        forecast, cv, model, h=h, n_paths=n_paths, seed=seed, clip=clip, center="level"
    )
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
