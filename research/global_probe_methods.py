"""``research/global_probe.py``'s simple per-series methods on a (partners, years) matrix.

Each takes the history matrix known at an origin and returns (partners, H) level forecasts.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from research.global_probe_data import H


def naive(h: np.ndarray) -> np.ndarray:
    return np.repeat(h[:, -1:], H, axis=1)


def _ses_level(h: np.ndarray, alpha: float) -> np.ndarray:
    level = h[:, 0].copy()
    for j in range(1, h.shape[1]):
        level = alpha * h[:, j] + (1 - alpha) * level
    return level


def ses(alpha: float) -> Callable[[np.ndarray], np.ndarray]:
    return lambda h: np.repeat(_ses_level(h, alpha)[:, None], H, axis=1)


def geomean(k: int) -> Callable[[np.ndarray], np.ndarray]:
    return lambda h: np.repeat(np.exp(np.log(h[:, -k:]).mean(axis=1))[:, None], H, axis=1)


def mean_last(k: int) -> Callable[[np.ndarray], np.ndarray]:
    return lambda h: np.repeat(h[:, -k:].mean(axis=1)[:, None], H, axis=1)


def median_last(k: int) -> Callable[[np.ndarray], np.ndarray]:
    return lambda h: np.repeat(np.median(h[:, -k:], axis=1)[:, None], H, axis=1)


def theta(h: np.ndarray) -> np.ndarray:
    """Classic Theta (Hyndman-Billah): SES with half the OLS slope as drift.

    SES alpha per series minimises the in-sample one-step squared error on a 0.05 grid.
    """
    n = h.shape[1]
    best = np.full(h.shape[0], np.inf)
    alpha = np.ones(h.shape[0])
    level_best = h[:, -1].copy()
    for a in np.linspace(0.05, 1.0, 20):
        level = h[:, 0].copy()
        sse = np.zeros(h.shape[0])
        for j in range(1, n):
            sse += (h[:, j] - level) ** 2
            level = a * h[:, j] + (1 - a) * level
        better = sse < best
        best[better], alpha[better], level_best[better] = sse[better], a, level[better]
    slope = np.polyfit(np.arange(n), h.T, 1)[0]
    steps = np.arange(1, H + 1)[None, :]
    a = alpha[:, None]
    return level_best[:, None] + 0.5 * slope[:, None] * (steps - 1 + 1 / a - (1 - a) ** n / a)


def spike(k: float, lam: float) -> Callable[[np.ndarray], np.ndarray]:
    """Naive, but pull a last value that jumped > k sd away from the prior 3-year mean.

    r = log y_T - mean(log y_{T-3..T-1}); sd = sd of the last 10 log growths. If |r| > k sd the
    forecast is y_T * exp(-lam * r) (a partial return towards the earlier level).
    """

    def f(h: np.ndarray) -> np.ndarray:
        lg = np.log(h)
        r = lg[:, -1] - lg[:, -4:-1].mean(axis=1)
        sd = np.diff(lg[:, -11:], axis=1).std(axis=1)
        adj = np.where(np.abs(r) > k * sd, lam * r, 0.0)
        return np.repeat(np.exp(lg[:, -1] - adj)[:, None], H, axis=1)

    return f


def drift(h: np.ndarray) -> np.ndarray:
    """Naive with drift (mean first difference), floored at zero like the engine's forecasts."""
    slope = (h[:, -1] - h[:, 0]) / (h.shape[1] - 1)
    return np.maximum(h[:, -1:] + slope[:, None] * np.arange(1, H + 1)[None, :], 0.0)
