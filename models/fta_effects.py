"""FTA effects from the world structural gravity fit: phase-in, anticipation, depth, year by year.

Specification (the world panel of :mod:`features.world_gravity`, 4-year intervals)::

    X[i,j,t] = exp(pi[i,t] + chi[j,t] + mu[i,j] + b0 rta[t] + b4 rta[t-4] + b8 rta[t-8]
                   + d0 deep[t] + d4 deep[t-4])

``rta[t-k]`` is 1 when an agreement applied to the pair in year ``t - k``, so the effect of a
first agreement ``k`` years after entry is ``b0`` (k < 4), ``b0 + b4`` (4 <= k < 8) and
``b0 + b4 + b8`` (k >= 8): a step phase-in, as in Yotov et al. (2016, ch. 1) with 4-year lags.
``deep`` is 1 when two or more agreements apply (a deepening on top of an existing one, e.g.
a bilateral FTA on top of ASEAN-Korea); a deepening moves ``deep`` only, so its effect is
``d0`` and ``d0 + d4`` after 4 years. Anticipation (``rta[t+4]``, :data:`ANTICIPATION`) is
estimated ex post as a diagnostic: it reads agreements entering after ``t``, so ex ante fits
and scenario paths do not use it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Literal

import pandas as pd

from exportcast.features.sources.fta import IN_FORCE_STATUSES
from exportcast.features.world_gravity import (
    PSA_TYPES,
    interval_years,
    pair_agreements,
    select_countries,
    world_panel,
)
from exportcast.models.memo import world_fit_memo
from exportcast.models.structural_gravity import GravityFit, combined_effect, fit_structural_gravity

__all__ = [
    "ANTICIPATION",
    "DEPTH",
    "PHASED",
    "effect_path",
    "entries",
    "fit_world_gravity",
    "phase_weights",
]

PHASED = ("rta", "rta_lag4", "rta_lag8")
DEPTH = (*PHASED, "deep", "deep_lag4")
ANTICIPATION = ("rta_lead4", *PHASED)
Kind = Literal["first", "deepening"]


def phase_weights(years_since: int, kind: Kind) -> dict[str, float]:
    """Weights on the :data:`DEPTH` coefficients of the effect ``years_since`` after entry.

    Args:
        years_since: Calendar year minus entry year (0 in the entry year); negative -> no effect.
        kind: ``"first"`` (the pair had no agreement) or ``"deepening"``.

    Returns:
        Coefficient name -> weight (empty before entry).
    """
    if years_since < 0:
        return {}
    if kind == "first":
        w = {"rta": 1.0, "rta_lag4": float(years_since >= 4), "rta_lag8": float(years_since >= 8)}
    elif kind == "deepening":
        w = {"deep": 1.0, "deep_lag4": float(years_since >= 4)}
    else:
        raise ValueError(f"kind must be 'first' or 'deepening', got {kind!r}")
    return {k: v for k, v in w.items() if v}


def effect_path(
    fit: GravityFit,
    entry_year: int,
    years: Iterable[int],
    kind: Kind,
    *,
    levels: Sequence[int] = (80, 95),
) -> pd.DataFrame:
    """The phased effect of one agreement in each year, with intervals.

    Returns:
        ``year, years_since, coef, se, lo_<l>, hi_<l>, effect_pct, effect_lo_<l>,
        effect_hi_<l>`` (zero effect and zero width before entry).
    """
    rows = []
    for year in sorted({int(y) for y in years}):
        k = year - entry_year
        w = phase_weights(k, kind)
        eff = combined_effect(fit, w or {fit.coef.index[0]: 0.0}, levels=levels)
        rows.append({"year": year, "years_since": k, **eff})
    return pd.DataFrame(rows)


def fit_world_gravity(
    dots: pd.DataFrame,
    rtas: pd.DataFrame,
    fta: pd.DataFrame,
    *,
    last_year: int,
    first_year: int = 1990,
    step: int = 4,
    top_n: int | None = 100,
    regressors: Sequence[str] = DEPTH,
) -> tuple[GravityFit, pd.DataFrame]:
    """Fit the world structural gravity on years ``<= last_year`` only.

    The panel's years are ``last_year, last_year - step, ...``; countries are the ``top_n``
    traders over those years plus Korea. Only trade of those years and agreement statuses at
    those years and their lags are read (leads too, if ``regressors`` has ``rta_lead<k>``:
    then ``last_year`` must leave room for them, which is why ex ante fits use no lead).

    Returns:
        The fit and the panel it used.
    """
    years = interval_years(last_year, first_year, step)
    leads = sorted({int(r.removeprefix("rta_lead")) for r in regressors if "lead" in r})
    countries = select_countries(dots, years, top_n=top_n, always=["KOR"])
    panel = world_panel(
        dots, pair_agreements(rtas, fta), years=years, countries=countries, leads=leads
    )
    # the scenarios and the track record fit the same years: fit once per process
    args = ("world_gravity", int(last_year), int(first_year), int(step), top_n, tuple(regressors))
    fit = world_fit_memo((dots, rtas, fta), args, lambda: fit_structural_gravity(panel, regressors))
    return fit, panel


def entries(fta: pd.DataFrame, *, since: int, until: int) -> pd.DataFrame:
    """Korea's agreement entries by partner, with whether each is a first FTA or a deepening.

    A partner's entry is a ``deepening`` when another (non partial-scope) agreement already
    applied to it in the year before entry and goes on; a ``replacement`` (the previous
    agreement ended the year before, e.g. EU -> UK in 2021) is left out.

    Args:
        fta: Korea's agreement table.
        since: First entry year kept.
        until: Last entry year kept.

    Returns:
        ``agreement, partner, entry_year, kind`` sorted by entry year and partner.
    """
    ok = (
        fta["status"].isin(IN_FORCE_STATUSES)
        & fta["in_force_date"].notna()
        & ~fta["agreement_type"].isin(PSA_TYPES)
    )
    rows = fta.loc[ok].assign(
        first=lambda d: pd.to_datetime(d["in_force_date"]).dt.year,
        last=lambda d: pd.to_datetime(d["exit_date"]).dt.year.fillna(9999),
    )
    out = []
    for _, r in rows.iterrows():
        if not since <= r["first"] <= until:
            continue
        others = rows.loc[(rows["partner"] == r["partner"]) & (rows.index != r.name)]
        before = others.loc[others["first"] < r["first"]]
        if (before["last"] == r["first"] - 1).any() and not (before["last"] >= r["first"]).any():
            continue  # replacement of an agreement that just ended
        kind = "deepening" if (before["last"] >= r["first"]).any() else "first"
        out.append((r["agreement_short"], r["partner"], int(r["first"]), kind))
    frame = pd.DataFrame(out, columns=["agreement", "partner", "entry_year", "kind"])
    return frame.sort_values(["entry_year", "agreement", "partner"], ignore_index=True)
