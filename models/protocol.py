"""The tiny forecaster protocol every model in ``models/`` follows (STYLE.md §4).

A forecaster sees one series at a time:

- ``__init__`` only stores hyperparameters, under their own names.
- ``fit(y, X=None)`` validates its input, ignores any earlier fit and returns ``self``.
  Learned state ends in ``_`` (``model_``, ``order_``).
- ``predict(h, X=None, level=None)`` returns ``{"mean": ...}`` of length ``h``, plus
  ``"lo-80"``/``"hi-80"`` etc. for every requested level when the model has its own
  intervals. Calling it before ``fit`` raises :class:`NotFittedError`.

Models are duck-typed: no base classes, mixins or tags. statsforecast models already conform.
"""

from __future__ import annotations

from typing import Protocol, Self, runtime_checkable

import numpy as np
import pandas as pd

__all__ = ["Forecaster", "NotFittedError", "PanelForecaster"]


class NotFittedError(RuntimeError):
    """Raised when ``predict`` is called on a forecaster that has not been fitted."""


@runtime_checkable
class Forecaster(Protocol):
    """What the forecasting loop needs from a model: an alias, ``fit`` and ``predict``."""

    alias: str

    def fit(self, y: np.ndarray, X: np.ndarray | None = None) -> Self:
        """Fit the model to one series.

        Args:
            y: The series, oldest value first, shape ``(n,)``.
            X: Optional exogenous values aligned with ``y``, shape ``(n, k)``.

        Returns:
            The fitted model itself.
        """
        ...

    def predict(
        self, h: int, X: np.ndarray | None = None, level: list[int] | None = None
    ) -> dict[str, np.ndarray]:
        """Forecast the next ``h`` values.

        Args:
            h: Number of steps ahead.
            X: Optional future exogenous values, shape ``(h, k)``.
            level: Interval levels in percent, e.g. ``[80, 95]``.

        Returns:
            ``{"mean": array of length h}`` plus ``"lo-<level>"``/``"hi-<level>"`` arrays when
            ``level`` is given and the model has intervals.
        """
        ...


@runtime_checkable
class PanelForecaster(Protocol):
    """A candidate fitted on all series at once (pooled), with its own data bound at creation.

    It must use, for an origin ``T``, only values of years ``<= T`` and exogenous data known
    then; ``models.engine.run_engine`` takes such models as ``panel_models``.
    """

    alias: str

    def backtest(self, series: pd.DataFrame, origins: list[int], h: int) -> pd.DataFrame:
        """Rolling-origin forecasts ``unique_id, ds, cutoff, <alias>`` for every origin.

        Every series with a value at an origin gets a forecast for each step ``1..h``.
        """
        ...

    def forecast(self, series: pd.DataFrame, h: int) -> pd.DataFrame:
        """Live forecasts ``unique_id, ds, <alias>`` for ``h`` years after the last ``ds``."""
        ...
