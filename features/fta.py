"""Partner-year FTA indicators for Korea from the agreement table (pure functions, no file I/O).

Rule (INDICATORS.md §8): the pair (KOR, partner) has an FTA in year t when an agreement row with
status ``in_force`` or ``exited`` applied to that partner in t. Several agreements can overlap
(Vietnam: AKFTA 2007, KVFTA 2015, RCEP 2022); the indicator is "any FTA", so the earliest one
counts.

How a date inside a year counts: **an agreement is in force in year t if it applied on at least
one day of t**, i.e. ``in_force_date <= Dec 31 of t`` and (``exit_date`` empty or
``exit_date >= Jan 1 of t``), where ``exit_date`` is the last day it applied. Reasons: (1) the
annual trade flow of year t already contains the months under preferences (an entry on
2011-07-01 covers half of 2011's trade, and the Korean and partner customs data for that year
show the effect); (2) a start-of-year rule would put an agreement that entered into force on
2022-12-01 (Cambodia) at zero until 2023 and make the FTA look like it has a one-year lag; (3) it
keeps replacement agreements continuous: the UK left the Korea-EU FTA on 2020-12-31 and the
Korea-UK FTA applies from 2021-01-01, so the UK has an FTA in 2020 and in 2021. The price is that
an entry late in the year (Cambodia, Dec 2022; Philippines, 2024-12-31) counts as a full year;
use :func:`agreements_in_force_on` for exact dates.

Partial-scope agreements (APTA: tariff preferences on a short list of goods, since 1976 with
Bangladesh, India, Laos, Sri Lanka and 2002 with China) are **not** counted unless
``include_psa=True``: counting them would put India's FTA at 1976 instead of 2010 (CEPA) and
China's at 2002 instead of 2015 (KCFTA).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from exportcast.features.sources.fta import IN_FORCE_STATUSES

__all__ = ["PSA_TYPE", "agreements_in_force_on", "fta_by_year"]

PSA_TYPE = "partial scope (PSA)"
_NEEDED = ["partner", "agreement_short", "agreement_type", "status", "in_force_date", "exit_date"]
_OPEN_END = 9999  # "last year" of agreements still in force


def _applied(
    fta: pd.DataFrame, agreements: Iterable[str] | None, include_psa: bool
) -> pd.DataFrame:
    """Rows of ``fta`` that applied at some date, with first/last year of application."""
    missing = [c for c in _NEEDED if c not in fta.columns]
    if missing:
        raise ValueError(f"fta table lacks column(s) {missing}; expected the korea_fta frame")
    keep = fta["status"].isin(IN_FORCE_STATUSES) & fta["in_force_date"].notna()
    if not include_psa:
        keep &= fta["agreement_type"] != PSA_TYPE
    if agreements is not None:
        keep &= fta["agreement_short"].isin(set(agreements))
    rows = fta.loc[keep, ["partner", "agreement_short", "in_force_date", "exit_date"]]
    first = pd.to_datetime(rows["in_force_date"]).dt.year.astype("int64")
    exit_year = pd.to_datetime(rows["exit_date"]).dt.year
    last = exit_year.fillna(_OPEN_END).astype("int64")
    return rows.assign(first=first, last=last).sort_values(
        ["partner", "in_force_date", "agreement_short"], ignore_index=True
    )


def _spell_starts(applied: pd.DataFrame) -> pd.DataFrame:
    """Merge each partner's year intervals into continuous spells ``partner, start, end``.

    Intervals that touch (one ends in year y, the next starts in y or y + 1) form one spell.
    """
    spells = []
    for partner, grp in applied.groupby("partner", sort=True):
        start, end = None, None
        for a, b in sorted(zip(grp["first"].tolist(), grp["last"].tolist(), strict=True)):
            if start is None:
                start, end = a, b
            elif a <= end + 1:
                end = max(end, b)
            else:
                spells.append((partner, start, end))
                start, end = a, b
        spells.append((partner, start, end))
    return pd.DataFrame(spells, columns=["partner", "start", "end"])


def fta_by_year(
    fta: pd.DataFrame,
    years: Iterable[int],
    partners: Iterable[str] | None = None,
    *,
    agreements: Iterable[str] | None = None,
    include_psa: bool = False,
) -> pd.DataFrame:
    """Korea's FTA status with each partner in each year.

    Args:
        fta: The agreement table, ``load_korea_fta(...).frame`` (needs ``partner``,
            ``agreement_short``, ``agreement_type``, ``status``, ``in_force_date``,
            ``exit_date``).
        years: Calendar years wanted.
        partners: ISO3 partners wanted (any code; partners without an agreement get 0).
            Default: every partner in ``fta``.
        agreements: Only count these ``agreement_short`` codes (e.g. ``["KKFTA"]`` for the
            bilateral Korea-Cambodia FTA alone). Default: all agreements.
        include_psa: Also count partial-scope agreements (APTA). Default False.

    Returns:
        One row per partner-year, sorted, with ``partner``, ``year`` (int64), ``fta_in_force``
        (int8 0/1, the module's "at least one day in year t" rule), ``years_since_fta``
        (float: t minus the first year of the current uninterrupted FTA spell, 0 in the entry
        year; NaN without FTA; agreements replacing one another without a gap year, as EU ->
        UK, form one spell) and ``fta_agreement`` (``agreement_short`` codes in force in t,
        earliest entry first, joined with ``+``, e.g. ``"AKFTA+KVFTA"``; NaN without FTA).

    Raises:
        ValueError: ``fta`` lacks a needed column.
    """
    applied = _applied(fta, agreements, include_psa)
    years = sorted({int(y) for y in years})
    if partners is None:
        partners = fta["partner"]
    partner_list = sorted({str(p) for p in partners})
    grid = pd.MultiIndex.from_product([partner_list, years], names=["partner", "year"])
    grid = grid.to_frame(index=False).astype({"year": "int64"})
    if applied.empty or grid.empty:
        return grid.assign(
            fta_in_force=np.zeros(len(grid), dtype="int8"),
            years_since_fta=np.full(len(grid), np.nan),
            fta_agreement=pd.Series(np.nan, index=grid.index, dtype=object),
        )

    per_year = grid.merge(applied, on="partner")
    active = (per_year["first"] <= per_year["year"]) & (per_year["year"] <= per_year["last"])
    per_year = per_year.loc[active].sort_values(
        ["partner", "year", "in_force_date", "agreement_short"]
    )
    names = per_year.groupby(["partner", "year"], sort=False)["agreement_short"].agg("+".join)

    spells = grid.merge(_spell_starts(applied), on="partner")
    spells = spells.loc[(spells["start"] <= spells["year"]) & (spells["year"] <= spells["end"])]
    since = (spells["year"] - spells["start"]).set_axis(
        pd.MultiIndex.from_frame(spells[["partner", "year"]])
    )

    key = pd.MultiIndex.from_frame(grid)
    agreement = names.reindex(key)
    return grid.assign(
        fta_in_force=agreement.notna().to_numpy().astype("int8"),
        years_since_fta=since.reindex(key).to_numpy(dtype="float64"),
        fta_agreement=agreement.to_numpy(dtype=object),
    )


def agreements_in_force_on(
    fta: pd.DataFrame,
    date: str | pd.Timestamp,
    partner: str | None = None,
    *,
    include_psa: bool = False,
) -> pd.DataFrame:
    """Agreement rows that applied on an exact date (``in_force_date <= date <= exit_date``).

    Args:
        fta: The agreement table, ``load_korea_fta(...).frame``.
        date: The day to check.
        partner: Restrict to one ISO3 partner.
        include_psa: Also count partial-scope agreements (APTA).

    Returns:
        The matching rows of ``fta`` (same columns), sorted by partner and in_force_date.
    """
    day = pd.Timestamp(date)
    keep = (
        fta["status"].isin(IN_FORCE_STATUSES)
        & (fta["in_force_date"] <= day)
        & (fta["exit_date"].isna() | (fta["exit_date"] >= day))
    )
    if not include_psa:
        keep &= fta["agreement_type"] != PSA_TYPE
    if partner is not None:
        keep &= fta["partner"] == partner
    return fta.loc[keep].sort_values(["partner", "in_force_date"], ignore_index=True)
