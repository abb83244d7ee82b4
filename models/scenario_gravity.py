"""The gravity PPML that prices a scenario: baseline agreements, the panel, the fit.

Fitted on the reporter's own partner-year panel with years ``<= origin`` only; the model and
its regressors are described in :mod:`models.scenarios`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from exportcast.features.build import build_gravity_frame
from exportcast.features.fta import PSA_TYPE
from exportcast.features.sources.fta import IN_FORCE_STATUSES
from exportcast.models.gravity import PPMLResult, fit_ppml

__all__ = [
    "OPEN_END",
    "REGRESSORS",
    "ScenarioGravity",
    "agreement_status",
    "baseline_agreements",
    "fit_scenario_gravity",
    "scenario_gravity_frame",
]


REGRESSORS = ("log_partner_gdp", "fta_in_force", "extra_agreements")


OPEN_END = 9999


@dataclass(frozen=True)
class ScenarioGravity:
    """The PPML behind a scenario.

    Attributes:
        coef: Point estimates of ``REGRESSORS`` (log points).
        cov: Their cluster-robust (by partner) covariance matrix.
        origin: Last year the fit saw.
        n_obs: Partner-years used.
        n_clusters: Partners (clusters).
        ppml: The fit's coefficients and standard errors (fixed effects included), without
            statsmodels' results object (``result`` is None): that object holds about 250 MB
            of design copies for a Korea panel, which a scenario would otherwise keep to its
            end (peak memory, docs/operations.md).
    """

    coef: pd.Series
    cov: pd.DataFrame
    origin: int
    n_obs: int
    n_clusters: int
    ppml: PPMLResult = field(repr=False)

    def summary(self, level: float = 0.95) -> dict[str, dict[str, float]]:
        """Coefficients with standard errors, ``level`` intervals and percent effects."""
        from scipy import stats

        z = float(stats.norm.ppf(0.5 + level / 2))
        out = {}
        for name in REGRESSORS:
            b, se = float(self.coef[name]), float(np.sqrt(self.cov.loc[name, name]))
            out[name] = {
                "coef": b,
                "se": se,
                "ci_low": b - z * se,
                "ci_high": b + z * se,
                "effect_pct": 100 * float(np.expm1(b)),
                "effect_pct_ci_low": 100 * float(np.expm1(b - z * se)),
                "effect_pct_ci_high": 100 * float(np.expm1(b + z * se)),
            }
        return out


# --- baseline agreements and their status --------------------------------------------------------


def baseline_agreements(fta: pd.DataFrame, *, origin: int) -> pd.DataFrame:
    """Agreements known to be in force at the origin, one row per partner and agreement.

    Args:
        fta: The agreement table (``partner, agreement_short, agreement_type, status,
            in_force_date, exit_date``).
        origin: The forecast origin; agreements entering into force after it are left out,
            exits after it are ignored (the agreement is assumed to go on).

    Returns:
        ``partner, agreement, first, last``: first and last calendar year of application
        (``last = 9999`` while in force). Partial-scope agreements (APTA) are not counted.
    """
    keep = (
        fta["status"].isin(IN_FORCE_STATUSES)
        & fta["in_force_date"].notna()
        & (fta["agreement_type"] != PSA_TYPE)
    )
    rows = fta.loc[keep]
    first = pd.to_datetime(rows["in_force_date"]).dt.year
    rows, first = rows.loc[first <= origin], first.loc[first <= origin]
    exit_year = pd.to_datetime(rows["exit_date"]).dt.year
    last = exit_year.where(exit_year <= origin).fillna(OPEN_END)
    return pd.DataFrame(
        {
            "partner": rows["partner"].astype(str).to_numpy(),
            "agreement": rows["agreement_short"].astype(str).to_numpy(),
            "first": first.astype("int64").to_numpy(),
            "last": last.astype("int64").to_numpy(),
        }
    ).sort_values(["partner", "first", "agreement"], ignore_index=True)


def agreement_status(
    agreements: pd.DataFrame, partners: Iterable[str], years: Iterable[int]
) -> pd.DataFrame:
    """Per partner-year: agreements in force, the FTA dummy, extra agreements, years since.

    Args:
        agreements: ``partner, agreement, first, last`` (see :func:`baseline_agreements`).
        partners: Partners wanted.
        years: Years wanted.

    Returns:
        ``partner, year, n_agreements, fta_in_force, extra_agreements, years_since_fta``
        (years since the start of the current uninterrupted FTA spell, NaN without FTA).
    """
    years = sorted({int(y) for y in years})
    out = []
    for partner in sorted(set(partners)):
        rows = agreements.loc[agreements["partner"] == partner]
        lo = min([*rows["first"].tolist(), *years])
        span = np.arange(lo, max(years) + 1)
        n = np.zeros(len(span), dtype="int64")
        for a, b in zip(rows["first"], rows["last"], strict=True):
            n += (span >= a) & (span <= b)
        since = np.full(len(span), np.nan)
        start = None
        for i, year in enumerate(span):
            start = (start if start is not None else year) if n[i] > 0 else None
            since[i] = np.nan if start is None else year - start
        frame = pd.DataFrame({"year": span, "n_agreements": n, "years_since_fta": since})
        out.append(frame.loc[frame["year"].isin(years)].assign(partner=partner))
    status = (
        pd.concat(out, ignore_index=True)
        if out
        else pd.DataFrame(columns=["partner", "year", "n_agreements", "years_since_fta"])
    )
    n = status["n_agreements"].astype("int64")
    return status.assign(
        year=status["year"].astype("int64"),
        n_agreements=n,
        fta_in_force=(n > 0).astype("int64"),
        extra_agreements=(n - 1).clip(lower=0).astype("int64"),
    )[["partner", "year", "n_agreements", "fta_in_force", "extra_agreements", "years_since_fta"]]


# --- the gravity fit -------------------------------------------------------------------------------


def scenario_gravity_frame(
    panel: pd.DataFrame,
    indicators: pd.DataFrame,
    pairs: pd.DataFrame,
    fta: pd.DataFrame,
    *,
    origin: int,
) -> pd.DataFrame:
    """The gravity panel of years ``<= origin``, with the FTA dummy and extra agreements.

    Args:
        panel: Trade panel ``reporter, partner, year, export_usd`` (later years are dropped).
        indicators: Partner indicators with ``gdp_usd`` (``weo_gdp_usd`` as fallback).
        pairs: Pair table with ``distance_km``.
        fta: The agreement table.
        origin: Last year used.

    Returns:
        :func:`features.build.build_gravity_frame`'s columns plus ``extra_agreements``;
        ``fta_in_force`` and ``extra_agreements`` count the agreements of
        :func:`baseline_agreements` (non partial-scope, in force by the origin).
    """
    past = panel.loc[panel["year"] <= origin]
    known = indicators.loc[indicators["year"] <= origin]
    frame = build_gravity_frame(past, known, pairs, fta)
    status = agreement_status(
        baseline_agreements(fta, origin=origin), frame["partner"].unique(), frame["year"].unique()
    )
    frame = frame.drop(columns="fta_in_force").merge(
        status[["partner", "year", "fta_in_force", "extra_agreements"]],
        on=["partner", "year"],
        how="left",
    )
    return frame.assign(
        fta_in_force=frame["fta_in_force"].fillna(0).astype("int64"),
        extra_agreements=frame["extra_agreements"].fillna(0).astype("int64"),
    )


def fit_scenario_gravity(
    panel: pd.DataFrame,
    indicators: pd.DataFrame,
    pairs: pd.DataFrame,
    fta: pd.DataFrame,
    *,
    origin: int,
) -> ScenarioGravity:
    """Fit the scenario PPML on years ``<= origin`` (partner and year FE, SEs by partner).

    Args:
        panel: Trade panel of the reporter (years after ``origin`` are never used).
        indicators: Partner indicators.
        pairs: Pair table.
        fta: The agreement table.
        origin: Last year the fit may see.

    Returns:
        The coefficients of ``REGRESSORS`` and their cluster-robust covariance.

    Raises:
        ValueError: A regressor is absorbed by the fixed effects (no variation).
    """
    frame = scenario_gravity_frame(panel, indicators, pairs, fta, origin=origin)
    ppml = fit_ppml(frame, regressors=REGRESSORS, fta_column="fta_in_force")
    if ppml.absorbed:
        raise ValueError(f"no variation left to estimate {list(ppml.absorbed)} by {origin}")
    names = list(REGRESSORS)
    cov = ppml.result.cov_params().loc[names, names]  # cluster-robust (fit_ppml's cov_type)
    return ScenarioGravity(
        coef=ppml.params[names].astype("float64"),
        cov=cov.astype("float64"),
        origin=origin,
        n_obs=ppml.n_obs,
        n_clusters=ppml.n_clusters,
        ppml=replace(ppml, result=None),
    )
