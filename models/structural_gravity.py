"""Structural gravity: PPML with exporter-year, importer-year and pair fixed effects (pyfixest).

The estimating equation (Yotov, Piermartini, Monteiro & Larch 2016, "An Advanced Guide to Trade
Policy Analysis", ch. 1; Baier & Bergstrand 2007 for the pair effects)::

    X[i, j, t] = exp(pi[i, t] + chi[j, t] + mu[i, j] + sum_k b_k * z_k[i, j, t]) * e[i, j, t]

``pi`` (exporter-year) and ``chi`` (importer-year) absorb the multilateral resistances and
country sizes; ``mu`` (pair) absorbs every time-invariant pair cost (distance, language, and the
unobserved reasons why a pair signs an agreement). The regressors ``z`` are policy dummies: an
RTA in force, its lags (phase-in), its lead (anticipation), deepening dummies. The high-
dimensional Poisson is pyfixest's ``fepois`` (iteratively reweighted least squares with the fixed
effects swept out, as ``ppmlhdfe``/``fixest`` do); standard errors are clustered by pair.
Observations that are separated (a fixed-effect group whose flows are all zero) are dropped
by ``fepois`` and counted in ``n_dropped``.

Effects of a scenario are linear combinations ``w . b`` of the coefficients (e.g. ``b_rta +
b_lag4`` four years after entry); :func:`combined_effect` gives them with delta-method (exact
for a linear combination) normal intervals in log points and as percent changes.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = ["GravityFit", "combined_effect", "fit_structural_gravity"]


@dataclass(frozen=True)
class GravityFit:
    """A structural gravity fit.

    Attributes:
        coef: Coefficients of the regressors (log points).
        cov: Their pair-clustered covariance matrix.
        n_obs: Observations used.
        n_dropped: Observations dropped (missing values, separation).
        n_clusters: Pairs (clusters).
        years: Years in the sample.
        fit_seconds: Wall time of the ``fepois`` call.
        formula: The pyfixest formula.
    """

    coef: pd.Series
    cov: pd.DataFrame
    n_obs: int
    n_dropped: int
    n_clusters: int
    years: tuple[int, ...]
    fit_seconds: float
    formula: str

    def summary(self, levels: Sequence[int] = (80, 95)) -> pd.DataFrame:
        """One row per regressor: ``coef, se``, ``lo_<l>, hi_<l>`` and ``effect_pct``."""
        rows = []
        for name in self.coef.index:
            rows.append({"term": name, **combined_effect(self, {name: 1.0}, levels=levels)})
        return pd.DataFrame(rows)


def fit_structural_gravity(
    frame: pd.DataFrame,
    regressors: Sequence[str],
    *,
    trade: str = "trade",
    exporter: str = "exporter",
    importer: str = "importer",
    year: str = "year",
    pair: str = "pair",
) -> GravityFit:
    """Fit PPML with exporter-year, importer-year and pair fixed effects, clustered by pair.

    Args:
        frame: One row per exporter, importer and year with the flow and the regressors.
        regressors: Policy columns (dummies or counts); each must vary within pairs.
        trade: Flow column (levels, zeros allowed, no negatives).
        exporter: Exporter column.
        importer: Importer column.
        year: Year column.
        pair: Pair id column (directional or symmetric; it is also the cluster).

    Returns:
        A :class:`GravityFit`.

    Raises:
        ValueError: Missing columns, negative flows, or a regressor without variation left
            after the fixed effects (pyfixest drops collinear terms; this names them).
    """
    import pyfixest as pf  # heavy; only the gravity stage needs it

    regressors = list(regressors)
    needed = [trade, exporter, importer, year, pair, *regressors]
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        raise ValueError(f"gravity frame lacks column(s) {missing}")
    data = frame[needed].dropna()
    if (data[trade] < 0).any():
        raise ValueError(f"{trade} has negative values; PPML needs levels >= 0")
    yr = data[year].astype("int64").astype(str)
    data = pd.DataFrame(
        {
            "y": data[trade].astype("float64").to_numpy(),
            **{f"x{k}": data[r].astype("float64").to_numpy() for k, r in enumerate(regressors)},
            "fe_exp": (data[exporter].astype(str) + "|" + yr).to_numpy(),
            "fe_imp": (data[importer].astype(str) + "|" + yr).to_numpy(),
            "fe_pair": data[pair].astype(str).to_numpy(),
            "year": data[year].astype("int64").to_numpy(),
        }
    )
    xs = [f"x{k}" for k in range(len(regressors))]
    formula = f"y ~ {' + '.join(xs)} | fe_exp + fe_imp + fe_pair"
    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # separation notices; counted below
        fit = pf.fepois(formula, data=data, vcov={"CRV1": "fe_pair"})
    seconds = time.perf_counter() - started
    names = dict(zip(xs, regressors, strict=True))
    coef = fit.coef().rename(index=names)
    lost = [r for x, r in names.items() if x not in fit.coef().index]
    if lost:
        raise ValueError(f"no variation left to estimate {lost} after the fixed effects")
    vcov = pd.DataFrame(fit._vcov, index=coef.index, columns=coef.index)
    n_obs = int(fit._N)
    return GravityFit(
        coef=coef.astype("float64"),
        cov=vcov.astype("float64"),
        n_obs=n_obs,
        n_dropped=len(frame) - n_obs,
        n_clusters=int(pd.Series(data["fe_pair"]).nunique()),
        years=tuple(sorted(int(y) for y in np.unique(data["year"]))),
        fit_seconds=seconds,
        formula=formula.replace("y ~", f"{trade} ~").replace(
            " + ".join(xs), " + ".join(regressors)
        ),
    )


def combined_effect(
    fit: GravityFit, weights: Mapping[str, float], *, levels: Sequence[int] = (80, 95)
) -> dict[str, float]:
    """The effect ``w . b`` with normal intervals, in log points and in percent.

    Args:
        fit: A :class:`GravityFit`.
        weights: Coefficient name -> weight (e.g. ``{"rta": 1, "rta_lag4": 1}``).
        levels: Interval levels in percent.

    Returns:
        ``coef, se, lo_<l>, hi_<l>`` (log points) and ``effect_pct, effect_lo_<l>,
        effect_hi_<l>`` (``100 * (exp(.) - 1)``).

    Raises:
        KeyError: A weight names an unknown coefficient.
    """
    unknown = [k for k in weights if k not in fit.coef.index]
    if unknown:
        raise KeyError(f"unknown coefficient(s) {unknown}; have {list(fit.coef.index)}")
    w = pd.Series(weights, dtype="float64").reindex(fit.coef.index, fill_value=0.0)
    b = float(w @ fit.coef)
    se = float(np.sqrt(max(float(w @ fit.cov @ w), 0.0)))
    out = {"coef": b, "se": se}
    from scipy import stats  # heavy (0.8 s): imported when used

    for lv in levels:
        z = float(stats.norm.ppf(0.5 + lv / 200))
        out[f"lo_{lv}"], out[f"hi_{lv}"] = b - z * se, b + z * se
    out["effect_pct"] = 100 * float(np.expm1(b))
    for lv in levels:
        out[f"effect_lo_{lv}"] = 100 * float(np.expm1(out[f"lo_{lv}"]))
        out[f"effect_hi_{lv}"] = 100 * float(np.expm1(out[f"hi_{lv}"]))
    return out
