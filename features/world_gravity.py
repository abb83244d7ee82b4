"""The world gravity panel: DOTS flows between many countries with RTA dummies, lags and leads.

Pure functions on snapshot tables (no file I/O):

* :func:`pair_agreements` joins the WTO RTA pairs (``rtas`` table) with Korea's own agreement
  table (``fta``): Korea's pairs come from the Korea table only (member-specific AKFTA, RCEP and
  Korea-Philippines dates, which the WTO export lacks or gives at agreement level), all other
  pairs from the WTO table. Partial-scope agreements (PSA: GSTP, APTA, LAIA ...) are left out
  by default, as in :mod:`features.fta`.
* :func:`pair_year_counts` counts the agreements that apply to an (unordered) pair in a year,
  with :mod:`features.fta`'s rule: an agreement counts in year t if it applied on at least one
  day of t.
* :func:`world_panel` builds the exporter-importer-year panel at the requested years (the
  literature uses 4- or 5-year intervals: Yotov et al. 2016, ch. 1) with ``rta`` (any
  agreement), its lags ``rta_lag<k>`` (status k years earlier: phase-in), leads
  ``rta_lead<k>`` (status k years later: anticipation) and ``deep`` (two or more agreements:
  a deepening on top of an existing one) with its lags.

The flow i -> j in year t is reporter i's exports to partner j in DOTS (USD). Rows DOTS does
not report are absent (not zeros). No intra-national flows exist in DOTS, so the panel has
international trade only (the AGTPA panel, with domestic flows, is the textbook case).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

from exportcast.features.sources.fta import IN_FORCE_STATUSES

__all__ = [
    "PSA_TYPES",
    "add_income_interaction",
    "interval_years",
    "pair_agreements",
    "pair_year_counts",
    "select_countries",
    "world_panel",
]

PSA_TYPES = frozenset({"PSA", "PSA & EIA", "partial scope (PSA)"})
_OPEN_END = 9999
REPORTER = "KOR"


def interval_years(last: int, first: int, step: int) -> list[int]:
    """``last, last - step, ...`` down to ``first`` (ascending): an interval grid ending at ``last``."""
    if step < 1:
        raise ValueError(f"step must be >= 1, got {step}")
    return sorted(range(last, first - 1, -step))


def pair_agreements(
    rtas: pd.DataFrame, fta: pd.DataFrame, *, include_psa: bool = False, reporter: str = REPORTER
) -> pd.DataFrame:
    """One row per agreement and unordered pair, with first and last year of application.

    Args:
        rtas: The snapshot ``rtas`` table (``rta_id, rta_name, rta_type, country_a, country_b,
            start_date, end_date``).
        fta: Korea's agreement table (``partner, agreement_short, agreement_type, status,
            in_force_date, exit_date``).
        include_psa: Keep partial-scope agreements.
        reporter: The country whose pairs come from ``fta`` instead of ``rtas``.

    Returns:
        ``country_a < country_b, agreement, first, last`` (``last = 9999`` while in force).

    Raises:
        ValueError: A table lacks a needed column.
    """
    need_r = ["rta_id", "rta_type", "country_a", "country_b", "start_date", "end_date"]
    need_f = ["partner", "agreement_short", "agreement_type", "status", "in_force_date",
              "exit_date"]  # fmt: skip
    for name, frame, need in (("rtas", rtas, need_r), ("fta", fta, need_f)):
        missing = [c for c in need if c not in frame.columns]
        if missing:
            raise ValueError(f"{name} table lacks column(s) {missing}")
    world = rtas.loc[(rtas["country_a"] != reporter) & (rtas["country_b"] != reporter)]
    if not include_psa:
        world = world.loc[~world["rta_type"].isin(PSA_TYPES)]
    world = pd.DataFrame(
        {
            "country_a": world["country_a"].to_numpy(),
            "country_b": world["country_b"].to_numpy(),
            "agreement": "WTO" + world["rta_id"].astype(str).to_numpy(),
            "start": world["start_date"].to_numpy(),
            "end": world["end_date"].to_numpy(),
        }
    )
    own = fta.loc[fta["status"].isin(IN_FORCE_STATUSES) & fta["in_force_date"].notna()]
    if not include_psa:
        own = own.loc[~own["agreement_type"].isin(PSA_TYPES)]
    partner = own["partner"].astype(str)
    a = partner.where(partner < reporter, reporter).to_numpy()
    b = partner.where(partner > reporter, reporter).to_numpy()
    own = pd.DataFrame(
        {"country_a": a, "country_b": b, "agreement": own["agreement_short"].to_numpy(),
         "start": own["in_force_date"].to_numpy(), "end": own["exit_date"].to_numpy()}
    )  # fmt: skip
    both = pd.concat([world, own], ignore_index=True)
    first = pd.to_datetime(both["start"]).dt.year.astype("int64")
    last = pd.to_datetime(both["end"]).dt.year.fillna(_OPEN_END).astype("int64")
    out = both[["country_a", "country_b", "agreement"]].assign(first=first, last=last)
    return out.sort_values(["country_a", "country_b", "first", "agreement"], ignore_index=True)


def pair_year_counts(agreements: pd.DataFrame, years: Iterable[int]) -> pd.DataFrame:
    """Agreements in force per unordered pair and year (only pairs with at least one).

    Args:
        agreements: :func:`pair_agreements`.
        years: Calendar years wanted.

    Returns:
        ``country_a, country_b, year, n_rta`` (int64), ``n_rta >= 1``.
    """
    years_arr = np.array(sorted({int(y) for y in years}), dtype="int64")
    first = agreements["first"].to_numpy()[:, None]
    last = agreements["last"].to_numpy()[:, None]
    active = (first <= years_arr[None, :]) & (years_arr[None, :] <= last)
    rows, cols = np.nonzero(active)
    hits = pd.DataFrame(
        {
            "country_a": agreements["country_a"].to_numpy()[rows],
            "country_b": agreements["country_b"].to_numpy()[rows],
            "year": years_arr[cols],
        }
    )
    return (
        hits.groupby(["country_a", "country_b", "year"], as_index=False)
        .size()
        .rename(columns={"size": "n_rta"})
    )


def select_countries(
    dots: pd.DataFrame, years: Sequence[int], *, top_n: int | None, always: Iterable[str] = ()
) -> list[str]:
    """The ``top_n`` countries by exports plus imports over ``years`` (all when None)."""
    rows = dots.loc[dots["year"].isin(list(years))]
    size = (
        rows.groupby("reporter")["export_usd"]
        .sum()
        .add(rows.groupby("partner")["export_usd"].sum(), fill_value=0.0)
    )
    ranked = size.sort_values(ascending=False).index.tolist()
    chosen = ranked if top_n is None else ranked[:top_n]
    return sorted(set(chosen) | set(always))


def _status(counts: pd.DataFrame, flows: pd.DataFrame, shift: int) -> np.ndarray:
    """``n_rta`` of each flow's pair in year ``t + shift``."""
    exp, imp = flows["exporter"], flows["importer"]
    first = exp < imp
    a, b = exp.where(first, imp).to_numpy(), imp.where(first, exp).to_numpy()
    key = pd.MultiIndex.from_arrays([a, b, flows["year"].to_numpy() + shift])
    n = counts.set_index(["country_a", "country_b", "year"])["n_rta"]
    return n.reindex(key).fillna(0).to_numpy(dtype="int64")


def world_panel(
    dots: pd.DataFrame,
    agreements: pd.DataFrame,
    *,
    years: Sequence[int],
    countries: Iterable[str] | None = None,
    lags: Sequence[int] = (4, 8),
    leads: Sequence[int] = (4,),
) -> pd.DataFrame:
    """The exporter-importer-year panel with RTA dummies, lags, leads and depth.

    Args:
        dots: The snapshot ``dots_exports`` table (``reporter, partner, year, export_usd``).
        agreements: :func:`pair_agreements`.
        years: The panel's years (e.g. :func:`interval_years`); other years are not used,
            except that lags and leads read the agreement table at ``t - k`` / ``t + k``.
        countries: Keep flows whose exporter and importer are both in this set (all if None).
        lags: Lag lengths in years (``rta_lag<k>``, ``deep_lag<k>``).
        leads: Lead lengths in years (``rta_lead<k>``; they read agreements that enter after
            ``t``, so an ex ante fit must not use them at years whose ``t + k`` is after its
            origin).

    Returns:
        ``exporter, importer, year, trade, pair`` (directional id ``"EXP>IMP"``), ``rta``,
        ``deep`` (int8), ``rta_lag<k>``, ``deep_lag<k>``, ``rta_lead<k>``.

    Raises:
        ValueError: ``dots`` lacks a needed column or has negative flows.
    """
    missing = [c for c in ("reporter", "partner", "year", "export_usd") if c not in dots.columns]
    if missing:
        raise ValueError(f"dots_exports table lacks column(s) {missing}")
    rows = dots.loc[dots["year"].isin(list(years))]  # the years first: far fewer rows to compare
    rows = rows.loc[rows["reporter"] != rows["partner"]]
    if countries is not None:
        keep = set(countries)
        rows = rows.loc[rows["reporter"].isin(keep) & rows["partner"].isin(keep)]
    bad = rows["export_usd"].isna() | (rows["export_usd"] < 0)
    if bad.any():
        r = rows.loc[bad].iloc[0]
        raise ValueError(
            f"dots_exports: export_usd must be >= 0, found {r['export_usd']!r} for "
            f"{r['reporter']}->{r['partner']} in {r['year']}"
        )
    flows = pd.DataFrame(
        {
            "exporter": rows["reporter"].astype(str).to_numpy(),
            "importer": rows["partner"].astype(str).to_numpy(),
            "year": rows["year"].astype("int64").to_numpy(),
            "trade": rows["export_usd"].astype("float64").to_numpy(),
        }
    )
    flows["pair"] = flows["exporter"] + ">" + flows["importer"]
    shifts = {0, *[-k for k in lags], *[k for k in leads]}
    need = {int(y) + s for y in years for s in shifts}
    counts = pair_year_counts(agreements, need)
    n = _status(counts, flows, 0)
    flows["rta"], flows["deep"] = (n >= 1).astype("int8"), (n >= 2).astype("int8")
    for k in lags:
        n = _status(counts, flows, -k)
        flows[f"rta_lag{k}"] = (n >= 1).astype("int8")
        flows[f"deep_lag{k}"] = (n >= 2).astype("int8")
    for k in leads:
        flows[f"rta_lead{k}"] = (_status(counts, flows, k) >= 1).astype("int8")
    return flows.sort_values(["exporter", "importer", "year"], ignore_index=True)


def add_income_interaction(
    panel: pd.DataFrame, income_groups: pd.DataFrame, *, high: str = "High income"
) -> pd.DataFrame:
    """Add ``rta_nonhigh`` = ``rta`` x (the importer is not high income in year t).

    Args:
        panel: :func:`world_panel`.
        income_groups: The snapshot ``income_groups`` table (``country, year, income_group``,
            World Bank historical classification).
        high: The label of the high-income group.

    Returns:
        The panel with ``importer_nonhigh`` (1/0; importers without a classification that
        year count as not high income) and ``rta_nonhigh``.
    """
    group = income_groups.set_index(["country", "year"])["income_group"]
    key = pd.MultiIndex.from_arrays([panel["importer"], panel["year"]])
    nonhigh = (group.reindex(key).to_numpy() != high).astype("int8")
    return panel.assign(
        importer_nonhigh=nonhigh, rta_nonhigh=(panel["rta"].to_numpy() * nonhigh).astype("int8")
    )
