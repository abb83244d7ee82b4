"""Univariate annual forecasters: Naive, Drift, Theta, damped ETS and a small AutoARIMA.

Each class is a thin shell (STYLE.md §4) around a private function that does the maths or
calls statsmodels. Every model takes ``log``: when true it is fitted on ``log(y)`` and its
forecasts and interval bounds are back-transformed with ``exp``. The back-transformed point
forecast is therefore the forecast *median* on the original scale, not its mean; quantiles
(interval bounds) transform exactly. Whether the log scale helps is for the backtest to decide
(BENCHMARKS.md: it did not, on Korea's partner series).

Exogenous ``X`` is accepted for protocol compatibility and ignored: these are univariate
models. Short, constant or otherwise unsuitable series make ``fit`` raise ``ValueError`` so the
forecasting loop's fallback can take over.
"""

from __future__ import annotations

import itertools
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import cache
from statistics import NormalDist
from typing import Any, Self

import numpy as np
import pandas as pd
from threadpoolctl import ThreadpoolController

from exportcast.models.protocol import NotFittedError

__all__ = ["AutoARIMA", "DampedETS", "Drift", "Naive", "Theta"]


# ---------------------------------------------------------------------------------------------
# shared helpers


def _default_alias(name: str, log: bool) -> str:
    # "LogTheta" rather than "Theta-log": a "-lo" inside an alias would read like an interval
    return f"Log{name}" if log else name


def _prepare_y(
    y: Any, *, model: str, log: bool, min_length: int, allow_constant: bool
) -> np.ndarray:
    """Validate one training series and return it as a new float array (log scale if asked)."""
    arr = np.asarray(y, dtype=float)
    if arr.ndim != 1:
        raise ValueError(f"{model}: y must be one-dimensional, got shape {arr.shape}")
    if arr.size < min_length:
        raise ValueError(f"{model}: needs at least {min_length} observations, got {arr.size}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{model}: y contains NaN or infinite values")
    if log:
        if np.any(arr <= 0):
            raise ValueError(f"{model}: log=True needs strictly positive y")
        arr = np.log(arr)
    else:
        arr = arr.copy()
    if not allow_constant and np.ptp(arr) == 0:
        raise ValueError(f"{model}: y is constant")
    return arr


def _check_h(h: Any) -> int:
    if isinstance(h, bool) or not isinstance(h, int | np.integer) or h < 1:
        raise ValueError(f"h must be a positive integer, got {h!r}")
    return int(h)


def _check_levels(level: Sequence[float] | None) -> list[float]:
    if level is None:
        return []
    levels = list(level)
    for lv in levels:
        if not 0 < lv < 100:
            raise ValueError(f"interval levels must be in (0, 100), got {lv!r}")
    return levels


def _check_fitted(model: Any, attribute: str) -> None:
    if not hasattr(model, attribute):
        raise NotFittedError(
            f"{type(model).__name__} ({model.alias}) is not fitted yet: call fit(y) first"
        )


def _level_key(lv: float) -> str:
    return f"{lv:g}"


def _normal_intervals(
    mean: np.ndarray, sd: np.ndarray, levels: list[float]
) -> dict[str, np.ndarray]:
    out = {"mean": mean}
    for lv in levels:
        z = NormalDist().inv_cdf(0.5 + lv / 200)
        out[f"lo-{_level_key(lv)}"] = mean - z * sd
        out[f"hi-{_level_key(lv)}"] = mean + z * sd
    return out


def _back_transform(out: dict[str, np.ndarray], log: bool) -> dict[str, np.ndarray]:
    if not log:
        return out
    return {key: np.exp(values) for key, values in out.items()}


@cache
def _threadpools() -> ThreadpoolController:
    return ThreadpoolController()


@contextmanager
def _quiet() -> Iterator[None]:
    # statsmodels warns freely on short series (convergence, frequency); the loop reports
    # failures through its fallback record, so warnings here are noise. One BLAS thread: on
    # 15-35 points extra threads only busy-wait, and under load that made fits 10-100x slower
    with (
        warnings.catch_warnings(),
        np.errstate(all="ignore"),
        _threadpools().limit(limits=1, user_api="blas"),
    ):
        warnings.simplefilter("ignore")
        yield


# ---------------------------------------------------------------------------------------------
# Naive


def _naive_forecast(y: np.ndarray, h: int) -> np.ndarray:
    """Repeat the last value ``h`` times."""
    return np.full(h, y[-1], dtype=float)


def _naive_sd(y: np.ndarray, h: int) -> np.ndarray:
    """Random-walk forecast standard deviation ``sigma * sqrt(step)``.

    ``sigma`` is the root mean square of the first differences (no parameter is estimated, so
    all ``n - 1`` differences count). With one observation it is NaN.
    """
    diffs = np.diff(y)
    sigma = np.sqrt(np.mean(diffs**2)) if diffs.size else np.nan
    return sigma * np.sqrt(np.arange(1, h + 1))


class Naive:
    """Last observed value, with random-walk normal intervals."""

    def __init__(self, *, log: bool = False, alias: str | None = None) -> None:
        self.log = log
        self.alias = alias or _default_alias("Naive", log)

    def fit(self, y: np.ndarray, X: np.ndarray | None = None) -> Self:
        """Store the series (one observation is enough)."""
        self.y_ = _prepare_y(y, model=self.alias, log=self.log, min_length=1, allow_constant=True)
        return self

    def predict(
        self, h: int, X: np.ndarray | None = None, level: list[int] | None = None
    ) -> dict[str, np.ndarray]:
        """Forecast ``h`` steps; intervals are NaN when fitted on a single observation."""
        _check_fitted(self, "y_")
        h, levels = _check_h(h), _check_levels(level)
        mean = _naive_forecast(self.y_, h)
        out = _normal_intervals(mean, _naive_sd(self.y_, h), levels)
        return _back_transform(out, self.log)


# ---------------------------------------------------------------------------------------------
# Drift


def _drift_slope(y: np.ndarray) -> float:
    return (y[-1] - y[0]) / (y.size - 1)


def _drift_forecast(y: np.ndarray, h: int) -> np.ndarray:
    """Extend the line through the first and last values: ``y[-1] + step * slope``."""
    return y[-1] + _drift_slope(y) * np.arange(1, h + 1)


def _drift_sd(y: np.ndarray, h: int) -> np.ndarray:
    """Random walk with estimated drift: ``sigma * sqrt(step * (1 + step / (n - 1)))``.

    The second term is the slope's estimation error (its variance is ``sigma**2 / (n - 1)``).
    ``sigma`` uses the ``n - 1`` differences minus one estimated parameter; NaN when ``n == 2``.
    """
    resid = np.diff(y) - _drift_slope(y)
    dof = resid.size - 1
    sigma = np.sqrt(np.sum(resid**2) / dof) if dof > 0 else np.nan
    steps = np.arange(1, h + 1)
    return sigma * np.sqrt(steps * (1 + steps / (y.size - 1)))


class Drift:
    """Random walk with drift: the last value plus the average historical change."""

    def __init__(self, *, log: bool = False, alias: str | None = None) -> None:
        self.log = log
        self.alias = alias or _default_alias("Drift", log)

    def fit(self, y: np.ndarray, X: np.ndarray | None = None) -> Self:
        """Store the series (needs two observations)."""
        self.y_ = _prepare_y(y, model=self.alias, log=self.log, min_length=2, allow_constant=True)
        return self

    def predict(
        self, h: int, X: np.ndarray | None = None, level: list[int] | None = None
    ) -> dict[str, np.ndarray]:
        """Forecast ``h`` steps; intervals are NaN when fitted on two observations."""
        _check_fitted(self, "y_")
        h, levels = _check_h(h), _check_levels(level)
        out = _normal_intervals(_drift_forecast(self.y_, h), _drift_sd(self.y_, h), levels)
        return _back_transform(out, self.log)


# ---------------------------------------------------------------------------------------------
# Theta


def _theta_fit(y: np.ndarray) -> Any:
    """``ThetaModel(y, period=1, deseasonalize=False).fit()``, without its unused extras.

    statsmodels' two-step fit (its default, ``use_mle=False``) estimates the slope ``b0`` by
    OLS and the SES parameter ``alpha`` by maximum likelihood, then takes the one-step SES
    forecast from a full results object: a smoothing pass, a numerical Hessian for parameter
    standard errors and a prediction object, none of which the forecast uses (29 % of a
    Theta fit on Korea's partner series, 2026-12-04). This is the same fit up to ``alpha``
    (the same optimiser on the same likelihood), and the one-step forecast is read from one
    Kalman filter pass at that ``alpha``: the design ``[1, 1]`` times the predicted state
    ``[0, level]``, the value ``forecast(1)`` computes. The results object is statsmodels'
    own (``ThetaModelResults``: forecasts, and intervals whose variance it estimates when
    asked). Tested bit for bit against ``ThetaModel.fit`` on every partner series of Korea
    at several origins (tests/models/test_timeseries.py).
    """
    # heavy: imported when fitting
    from statsmodels.tsa.forecasting.theta import ThetaModel, ThetaModelResults
    from statsmodels.tsa.statespace.exponential_smoothing import ExponentialSmoothing
    from statsmodels.tsa.tsatools import add_trend

    with _quiet():
        model = ThetaModel(y, period=1, deseasonalize=False)
        data, seasonal = model._deseasonalize_data()  # as ThetaModel.fit: (y, empty)
        ct = add_trend(data, "ct", prepend=True)[:, :2]
        ct[:, 1] -= 1
        _, b0 = np.linalg.lstsq(ct, data, rcond=None)[0]
        ses = ExponentialSmoothing(data, initial_level=data[0], initialization_method="known")
        params = ses.fit(disp=False, return_params=True)  # constrained: [alpha]
        ses.update(params, transformed=True)
        filtered = ses.ssm.filter()
        design = ses.ssm["design"]
        one_step = design[0] @ filtered.predicted_state[:, -1] + ses.ssm["obs_intercept"][0]
        return ThetaModelResults(
            b0, params[0], None, np.atleast_1d(one_step), seasonal, False, model
        )


def _theta_forecast(res: Any, h: int, theta: float, levels: list[float]) -> dict[str, np.ndarray]:
    with _quiet():
        out = {"mean": np.asarray(res.forecast(h, theta=theta), dtype=float)}
        for lv in levels:
            bounds = res.prediction_intervals(h, theta=theta, alpha=1 - lv / 100)
            out[f"lo-{_level_key(lv)}"] = bounds["lower"].to_numpy(dtype=float)
            out[f"hi-{_level_key(lv)}"] = bounds["upper"].to_numpy(dtype=float)
    return out


class Theta:
    """The standard Theta method (statsmodels ``ThetaModel``, no seasonality)."""

    def __init__(self, *, theta: float = 2.0, log: bool = False, alias: str | None = None) -> None:
        self.theta = theta
        self.log = log
        self.alias = alias or _default_alias("Theta", log)

    def fit(self, y: np.ndarray, X: np.ndarray | None = None) -> Self:
        """Fit on at least 5 non-constant observations."""
        if not self.theta >= 1:
            raise ValueError(f"{self.alias}: theta must be >= 1, got {self.theta!r}")
        arr = _prepare_y(y, model=self.alias, log=self.log, min_length=5, allow_constant=False)
        self.model_ = _theta_fit(arr)
        return self

    def predict(
        self, h: int, X: np.ndarray | None = None, level: list[int] | None = None
    ) -> dict[str, np.ndarray]:
        """Forecast ``h`` steps with the model's own (SES-based) intervals."""
        _check_fitted(self, "model_")
        h, levels = _check_h(h), _check_levels(level)
        out = _theta_forecast(self.model_, h, self.theta, levels)
        return _back_transform(out, self.log)


# ---------------------------------------------------------------------------------------------
# damped ETS


def _damped_ets_fit(y: np.ndarray) -> Any:
    # a Series, not an array: statsmodels 0.15 get_prediction needs an index
    from statsmodels.tsa.exponential_smoothing.ets import ETSModel

    endog = pd.Series(y)
    with _quiet():
        return ETSModel(endog, error="add", trend="add", damped_trend=True).fit(disp=False)


def _damped_ets_forecast(res: Any, h: int, levels: list[float]) -> dict[str, np.ndarray]:
    n = int(res.nobs)
    with _quiet():
        pred = res.get_prediction(start=n, end=n + h - 1)
        out = {"mean": np.asarray(pred.predicted_mean, dtype=float)}
        for lv in levels:
            frame = pred.summary_frame(alpha=1 - lv / 100)
            out[f"lo-{_level_key(lv)}"] = frame["pi_lower"].to_numpy(dtype=float)
            out[f"hi-{_level_key(lv)}"] = frame["pi_upper"].to_numpy(dtype=float)
    return out


class DampedETS:
    """Holt's linear trend with damping, additive errors (statsmodels ``ETSModel``, ETS(A,Ad,N)).

    ``ETSModel`` rather than ``ExponentialSmoothing`` because it has a likelihood and exact
    prediction intervals for additive-error models.
    """

    def __init__(self, *, log: bool = False, alias: str | None = None) -> None:
        self.log = log
        self.alias = alias or _default_alias("DampedETS", log)

    def fit(self, y: np.ndarray, X: np.ndarray | None = None) -> Self:
        """Fit on at least 10 non-constant observations (the model has 5 parameters)."""
        arr = _prepare_y(y, model=self.alias, log=self.log, min_length=10, allow_constant=False)
        self.model_ = _damped_ets_fit(arr)
        return self

    def predict(
        self, h: int, X: np.ndarray | None = None, level: list[int] | None = None
    ) -> dict[str, np.ndarray]:
        """Forecast ``h`` steps with exact (analytic) prediction intervals."""
        _check_fitted(self, "model_")
        h, levels = _check_h(h), _check_levels(level)
        return _back_transform(_damped_ets_forecast(self.model_, h, levels), self.log)


# ---------------------------------------------------------------------------------------------
# AutoARIMA


def _kpss_ndiffs(y: np.ndarray, max_d: int) -> int:
    """Number of differences by repeated KPSS level tests at 5 % (as ``forecast::ndiffs``).

    Uses the short lag ``trunc(3 * sqrt(n) / 13)`` of ``ndiffs``; statsmodels' default lag is
    far too long for 15-35 annual points.
    """
    from statsmodels.tsa.stattools import kpss

    d, x = 0, y
    while d < max_d and x.size >= 3 and np.ptp(x) > 0:
        nlags = int(3 * np.sqrt(x.size) / 13)
        with _quiet():
            stat, _, _, crit = kpss(x, regression="c", nlags=nlags)
        if stat < crit["5%"]:
            break
        d += 1
        x = np.diff(x)
    return d


def _arima_candidates(
    d: int, max_p: int, max_q: int, max_order: int
) -> list[tuple[tuple[int, int, int], str]]:
    # d=0: positive data have a non-zero mean, so always a constant; d=1: with or without
    # drift; d=2: no trend term (a drift there would be a quadratic trend)
    trends = {0: ["c"], 1: ["t", "n"]}.get(d, ["n"])
    pq = [
        (p, q)
        for p, q in itertools.product(range(max_p + 1), range(max_q + 1))
        if p + q <= max_order
    ]
    return [((p, d, q), trend) for p, q in pq for trend in trends]


def _arima_fit(y: np.ndarray, order: tuple[int, int, int], trend: str) -> Any:
    from statsmodels.tsa.arima.model import ARIMA

    with _quiet():
        return ARIMA(y, order=order, trend=trend).fit()


def _auto_arima_fit(
    y: np.ndarray, *, max_p: int, max_q: int, max_d: int, max_order: int
) -> tuple[Any, tuple[int, int, int], str]:
    """Pick ``d`` by KPSS, then ``(p, q)`` and the trend term by AICc over a small grid.

    AICc is only compared between models with the same ``d`` (the likelihoods of differently
    differenced data are not comparable).
    """
    d = _kpss_ndiffs(y, max_d)
    best: tuple[float, Any, tuple[int, int, int], str] | None = None
    for order, trend in _arima_candidates(d, max_p, max_q, max_order):
        try:
            res = _arima_fit(y, order, trend)
        except Exception:  # one bad candidate must not end the search
            continue
        aicc = float(res.aicc)
        if np.isfinite(aicc) and (best is None or aicc < best[0]):
            best = (aicc, res, order, trend)
    if best is None:
        raise ValueError(f"no ARIMA model with d={d} could be fitted")
    return best[1], best[2], best[3]


def _arima_forecast(res: Any, h: int, levels: list[float]) -> dict[str, np.ndarray]:
    with _quiet():
        pred = res.get_forecast(h)
        out = {"mean": np.asarray(pred.predicted_mean, dtype=float)}
        for lv in levels:
            bounds = np.asarray(pred.conf_int(alpha=1 - lv / 100), dtype=float)
            out[f"lo-{_level_key(lv)}"] = bounds[:, 0]
            out[f"hi-{_level_key(lv)}"] = bounds[:, 1]
    return out


class AutoARIMA:
    """ARIMA(p, d, q) with automatic order selection (statsmodels ``ARIMA``).

    ``d`` comes from KPSS tests (at most ``max_d``), then every ``p <= max_p``, ``q <= max_q``
    with ``p + q <= max_order`` is fitted, with a constant when ``d == 0`` and with and without
    drift when ``d == 1``; the lowest AICc wins. The defaults (12 fits at most) keep it near
    50 ms per annual series of 15-35 points. Learned: ``model_``, ``order_``, ``trend_``.
    """

    def __init__(
        self,
        *,
        max_p: int = 2,
        max_q: int = 2,
        max_d: int = 1,
        max_order: int = 2,
        log: bool = False,
        alias: str | None = None,
    ) -> None:
        self.max_p = max_p
        self.max_q = max_q
        self.max_d = max_d
        self.max_order = max_order
        self.log = log
        self.alias = alias or _default_alias("AutoARIMA", log)

    def fit(self, y: np.ndarray, X: np.ndarray | None = None) -> Self:
        """Search the order and fit on at least 10 non-constant observations."""
        for name in ("max_p", "max_q", "max_d", "max_order"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 0:
                raise ValueError(f"{self.alias}: {name} must be a non-negative int, got {value!r}")
        arr = _prepare_y(y, model=self.alias, log=self.log, min_length=10, allow_constant=False)
        self.model_, self.order_, self.trend_ = _auto_arima_fit(
            arr, max_p=self.max_p, max_q=self.max_q, max_d=self.max_d, max_order=self.max_order
        )
        return self

    def predict(
        self, h: int, X: np.ndarray | None = None, level: list[int] | None = None
    ) -> dict[str, np.ndarray]:
        """Forecast ``h`` steps with the state-space prediction intervals."""
        _check_fitted(self, "model_")
        h, levels = _check_h(h), _check_levels(level)
        return _back_transform(_arima_forecast(self.model_, h, levels), self.log)
