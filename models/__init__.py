"""Forecasting engine for panels of annual series: models, backtests, metrics, intervals.

The engine knows nothing about trade: it works on any long frame ``unique_id, ds, y`` of
positive annual series. The notebook API is the product's engine with the product's defaults
(:mod:`models.auto`)::

    from exportcast.models import cross_validate, forecast

    fcst = forecast(df)  # the pipeline's forecast: the engine's choice, conformal 80/95 %
    cv = cross_validate(df)  # the scored backtest: every candidate, Ensemble, Selected

The names below load their module on first use, so ``import exportcast.models`` stays light (no pandas;
the CLI starts without it, ``tests/flows/test_cli_startup.py``). The building blocks live in
``models.engine``, ``models.engine_call``, ``models.forecasting``, ``models.timeseries``,
``models.metrics``, ``models.intervals`` and ``models.ensemble``.
"""

from __future__ import annotations

import importlib
from typing import Any

# public name -> submodule that defines it
_EXPORTS = {
    "AutoARIMA": "timeseries",
    "DampedETS": "timeseries",
    "Drift": "timeseries",
    "Naive": "timeseries",
    "Theta": "timeseries",
    "Forecaster": "protocol",
    "NotFittedError": "protocol",
    "available_models": "auto",
    "check_series": "forecasting",
    "cross_validate": "auto",
    "default_models": "auto",
    "forecast": "auto",
    "forecast_panel": "forecasting",
    "forecast_settings": "auto",
    "run": "auto",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    """Load a public name's submodule on first use (PEP 562)."""
    module = _EXPORTS.get(name)
    if module is None:  # also how ``from exportcast.models import scenarios`` finds the submodule
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
