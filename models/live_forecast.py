"""The live forecast of the chosen model: floors, conformal intervals, sample paths.

Steps 3 and 4 of :mod:`models.engine`: the forecast is floored at zero and gets Mondrian
conformal intervals; its sample paths replay past backtest windows, clipped at the
``PATH_CLIP_LEVEL`` bound of each series' size class.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from exportcast.models.intervals import (
    ConformalCalibration,
    apply_conformal,
    fit_conformal,
    size_classes_at,
)
from exportcast.models.paths import window_error_paths

__all__ = [
    "PATH_CLIP_LEVEL",
    "conformal_live_forecast",
    "floor_at_zero",
    "floor_live_forecast",
    "path_clip_bounds",
    "sample_paths",
]


# Replayed path errors are clipped at this conformal level of the series' size class.
PATH_CLIP_LEVEL = 99.0


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


def conformal_live_forecast(
    fc: pd.DataFrame,
    cv: pd.DataFrame,
    series: pd.DataFrame,
    train: pd.DataFrame,
    model: str,
    levels: Sequence[int],
) -> tuple[pd.DataFrame, ConformalCalibration, np.ndarray, np.ndarray]:
    """The live forecast of ``model`` with Mondrian conformal intervals, floored at zero.

    Intervals per size class of the partner: large partners get the errors of large partners.

    Args:
        fc: Live forecasts with a ``model`` column.
        cv: Backtest rows the intervals are calibrated on.
        series: The live series (their size class now).
        train: The series the backtest ran on (the size class of each backtest row).
        model: The chosen model.
        levels: Interval levels.

    Returns:
        ``unique_id, ds, model, mean, lo_<l>, hi_<l>...``, the calibration, and the size
        classes of the backtest rows and of the live rows.
    """
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
    return forecast, calibration, cv_sizes, live_sizes


def sample_paths(
    forecast: pd.DataFrame,
    cv: pd.DataFrame,
    model: str,
    cv_sizes: np.ndarray,
    live_sizes: np.ndarray,
    *,
    h: int,
    n_paths: int,
    seed: int,
) -> pd.DataFrame:
    """Joint sample paths of the live forecast: replayed backtest windows, clipped.

    Args:
        forecast: The live forecast (:func:`conformal_live_forecast`).
        cv: Backtest rows of ``model``.
        model: The chosen model.
        cv_sizes: Size class of each backtest row.
        live_sizes: Size class of each live row.
        h: Horizon.
        n_paths: Sample paths.
        seed: Path seed.

    Returns:
        :func:`models.paths.window_error_paths` output.
    """
    clip = path_clip_bounds(cv, model, cv_sizes, pd.Series(live_sizes, index=forecast["unique_id"]))
    # level-centred: each partner's paths average its point forecast in USD, so the paths'
    # totals and shares are not pulled by past biases (research/index_coverage_probe.py)
    return window_error_paths(
        forecast, cv, model, h=h, n_paths=n_paths, seed=seed, clip=clip, center="level"
    )
