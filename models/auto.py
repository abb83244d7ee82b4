"""The notebook API: the product's forecasting engine on any panel of annual series.

``forecast`` and ``cross_validate`` are a thin front of the engine the pipeline runs
(:func:`models.engine_call.run_engine_locally` with the arguments of
:func:`models.engine_call.engine_args`), with the product's defaults: the ``forecast``
section of the default config (``configs.schema.ForecastConfig``: candidates Naive, Drift,
Theta and their Ensemble, history origins from 1998, scored origins 2008-2018, the rolling
choice, Mondrian conformal 80/95 % intervals, weights = shares in the last year) and the
default horizon (5). On the same series and settings they give the pipeline's forecasts::

    from exportcast.models import cross_validate, forecast

    fcst = forecast(df)  # unique_id, ds, model, mean, lo_80, hi_80, lo_95, hi_95
    cv = cross_validate(df)  # the scored backtest: every candidate, Ensemble, Selected
    fcst = forecast(df, config={"backtest": {"start": 2012, "end": 2016}}, models=["Theta"])

Changed in issue 15 (before: a second engine with DampedETS and AutoARIMA among its default
candidates, ``n_windows`` windows per series and a pooled or per-series choice; 528 s and
relMASE 1.041 on Korea's 163 full-history partners): ``models`` takes model names, not
forecaster instances; ``n_windows``, ``step`` and ``select`` are gone (origins come from the
config, the choice is the engine's rolling one); ``forecast`` returns the engine's columns;
``default_models()`` returns the product's candidates, ``available_models(log=...)`` every
forecaster (what ``default_models(log=...)`` used to list).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import pandas as pd

from exportcast.models.engine import MODEL_CLASSES, EngineResult
from exportcast.models.engine_call import run_engine_locally
from exportcast.models.forecasting import check_series
from exportcast.models.protocol import Forecaster
from exportcast.models.timeseries import AutoARIMA, DampedETS, Drift, Naive, Theta

if TYPE_CHECKING:
    from exportcast.configs.schema import ForecastConfig

__all__ = [
    "available_models",
    "cross_validate",
    "default_horizon",
    "default_models",
    "forecast",
    "forecast_settings",
    "run",
]


def forecast_settings(
    config: ForecastConfig | Mapping[str, Any] | None = None, **overrides: Any
) -> dict[str, Any]:
    """The engine settings: the default config's ``forecast`` section, validated.

    Args:
        config: A ``ForecastConfig`` or a mapping of its keys (unset keys keep the product's
            defaults); None for the defaults.
        **overrides: Further keys of the section (None values are ignored).

    Returns:
        The section as JSON, as the pipeline passes it to the engine.

    Raises:
        pydantic.ValidationError: An unknown key or a bad value (names the key).
    """
    from exportcast.configs.schema import ForecastConfig  # pydantic only

    if isinstance(config, ForecastConfig):
        config = config.model_dump(mode="json")
    merged = {**(config or {}), **{k: v for k, v in overrides.items() if v is not None}}
    return ForecastConfig.model_validate(merged).model_dump(mode="json")


def default_horizon() -> int:
    """The product's default horizon in years (the config's ``horizon``)."""
    from exportcast.configs.schema import RunConfig

    return int(RunConfig.model_fields["horizon"].default)


def default_models() -> list[Forecaster]:
    """The product's candidate models (the default config's ``forecast.models``)."""
    return [MODEL_CLASSES[name]() for name in forecast_settings()["models"]]


def available_models(*, log: bool = False) -> list[Forecaster]:
    """Every model the engine can use as a candidate (``forecast.models``).

    Args:
        log: Also the log-scale variants of Drift, Theta, DampedETS and AutoARIMA (not engine
            candidates; for direct use of the forecasters).

    Returns:
        ``[Naive, Drift, Theta, DampedETS, AutoARIMA]`` (+ the log variants).
    """
    models: list[Forecaster] = [Naive(), Drift(), Theta(), DampedETS(), AutoARIMA()]
    if log:
        models += [Drift(log=True), Theta(log=True), DampedETS(log=True), AutoARIMA(log=True)]
    return models


def _names(models: Sequence[str] | None) -> list[str] | None:
    if models is None:
        return None
    bad = [m for m in models if not isinstance(m, str)]
    if bad:
        raise TypeError(
            f"models takes model names (of {sorted(MODEL_CLASSES)}), got {bad[0]!r}: the "
            "notebook API runs the product's engine, which builds its own forecasters"
        )
    return list(models)


def run(
    df: pd.DataFrame,
    h: int | None = None,
    *,
    config: ForecastConfig | Mapping[str, Any] | None = None,
    models: Sequence[str] | None = None,
    level: Sequence[int] | None = None,
    n_jobs: int | None = None,
    panel: pd.DataFrame | None = None,
) -> EngineResult:
    """The whole engine result (forecast, backtest, accuracy, choices, paths) for ``df``.

    Args:
        df: Long frame ``unique_id, ds, y`` of positive annual series (consecutive years);
            further columns are ignored (the engine's models are univariate).
        h: Horizon in years; the config's default (5) when None.
        config: The ``forecast`` section or a mapping of some of its keys.
        models: Candidate model names (``forecast.models``).
        level: Interval levels in percent (``forecast.levels``).
        n_jobs: Worker processes over series (``forecast.n_jobs``).
        panel: A one-reporter trade panel (``reporter, partner, year, export_usd``) whose
            split ``df`` is: the backtest's split is then decided at each origin, as in the
            pipeline (:func:`features.series.origin_histories`).

    Returns:
        :class:`models.engine.EngineResult`.

    Raises:
        ValueError: Bad series (names the row), unknown models, origins outside the data,
            series too short for the configured backtest.
    """
    frame = check_series(df)[["unique_id", "ds", "y"]]
    settings = forecast_settings(config, models=_names(models), levels=level, n_jobs=n_jobs)
    horizon = default_horizon() if h is None else h
    return run_engine_locally(frame, settings, horizon, panel=panel)


def forecast(
    df: pd.DataFrame,
    h: int | None = None,
    level: Sequence[int] | None = None,
    *,
    config: ForecastConfig | Mapping[str, Any] | None = None,
    models: Sequence[str] | None = None,
    n_jobs: int | None = None,
    panel: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Forecast every series with the engine's choice and conformal intervals.

    Args: as :func:`run`.

    Returns:
        ``unique_id, ds, model, mean, lo_<level>, hi_<level>...``: the pipeline's partner
        forecast (``model`` is the pooled choice over the whole backtest, or ``Ensemble``).
    """
    kwargs = {"config": config, "models": models, "level": level, "n_jobs": n_jobs}
    return run(df, h, panel=panel, **kwargs).forecast


def cross_validate(
    df: pd.DataFrame,
    h: int | None = None,
    *,
    config: ForecastConfig | Mapping[str, Any] | None = None,
    models: Sequence[str] | None = None,
    level: Sequence[int] | None = None,
    n_jobs: int | None = None,
    panel: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """The engine's scored backtest: every candidate, ``Ensemble`` and the rolling ``Selected``.

    Args: as :func:`run`.

    Returns:
        ``unique_id, ds, cutoff, y, <model>..., Ensemble, Selected, Selected-lo/hi-<level>``
        at the scored origins (``forecast.backtest``), each origin's choice and intervals made
        from errors on years up to it (what the pipeline publishes as its accuracy).
    """
    kwargs = {"config": config, "models": models, "level": level, "n_jobs": n_jobs}
    return run(df, h, panel=panel, **kwargs).backtest
