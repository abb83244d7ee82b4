"""Forecasting engine for panels of annual series: models, backtests, metrics, intervals.

The engine knows nothing about trade: it works on any long frame ``unique_id, ds, y`` (plus
optional exogenous columns) of positive annual series. Quick start::

    from exportcast.models import cross_validate, forecast

    fcst = forecast(df, h=5)  # backtest-selected model with conformal 80/95 % intervals
    cv = cross_validate(df, h=5, n_windows=5)  # every default model + their Ensemble

The building blocks live in ``models.forecasting`` (``forecast_panel``, ``cross_validate``),
``models.timeseries``, ``models.metrics``, ``models.intervals`` and ``models.ensemble``.
"""

from exportcast.models.auto import cross_validate, default_models, forecast
from exportcast.models.forecasting import forecast_panel
from exportcast.models.protocol import Forecaster, NotFittedError
from exportcast.models.series_checks import check_series
from exportcast.models.timeseries import AutoARIMA, DampedETS, Drift, Naive, Theta

__all__ = [
    "AutoARIMA",
    "DampedETS",
    "Drift",
    "Forecaster",
    "Naive",
    "NotFittedError",
    "Theta",
    "check_series",
    "cross_validate",
    "default_models",
    "forecast",
    "forecast_panel",
]
