"""Diversification opportunities: which partners would most lower export dependence.

Pure functions: frames in, a ranked frame out. The method is described in ``METHOD``, which
the policy report prints in its appendix.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from exportcast.features.open_registries import is_open_registry

__all__ = [
    "FTA_LABELS",
    "METHOD",
    "OPPORTUNITY_COLUMNS",
    "OPTIONAL_OPPORTUNITY_COLUMNS",
    "REST",
    "dependence_contributions",
    "fta_labels",
    "opportunities",
]

REST = "REST"  # the forecasts' aggregate of all small partners
OPPORTUNITY_COLUMNS = [
    "rank",
    "partner",
    "name",
    "current_share",
    "forecast_share",
    "forecast_growth_pct",
    "contribution_dhhi",
    "contribution_ddep",
    "fta_status",
    "distance_km",
    "income_group",
    "partner_gdp_growth_pct",
    "open_registry",
]
# Added after the first bundles were written: readers must not require them.
OPTIONAL_OPPORTUNITY_COLUMNS = ("partner_gdp_growth_pct", "open_registry")
# Agreement states in the snapshot's fta table, mapped to the three labels the report uses.
FTA_LABELS = {
    "in_force": "in force",
    "in_force_date_unknown": "in force",
    "signed_pending": "signed pending",
}
_FTA_ORDER = {"in force": 0, "signed pending": 1, "none": 2}
# fta_status when the FTA table has no agreements of the reporter at all (only Korea's are in
# the snapshot): "none" would claim there is no agreement
UNKNOWN_FTA = "not in the data"

METHOD = (
    "Diversification opportunities rank the partners outside the dependence set by how much "
    "their forecast growth lowers the dependence set's share of exports between the last "
    "observed year and the last forecast year. With x_i the exports to partner i, X their total "
    "(x' and X' at the end of the horizon, from the forecast means; small partners are summed "
    "as 'Other partners') and D the dependence set's share, the change of the share splits "
    "exactly into one term per partner: D' - D = sum over i of (1[i in set] - D) * (x'_i - x_i) "
    "/ X'. A partner outside the set contributes -D * (x'_i - x_i) / X': the more its exports "
    "grow, the more it lowers dependence; a partner whose exports shrink raises it. The terms "
    "add up to the forecast change of the share. The table also gives each partner's change of "
    "its own HHI term, s'_i^2 - s_i^2 in HHI points (0-10,000 scale), its annualised forecast "
    "growth (compound rate over the horizon), the state of a trade agreement with it (in force, "
    "signed pending, or none), the distance between the two countries, the partner's World "
    "Bank income group and its real GDP growth a year over the forecast years as projected by "
    "the IMF World Economic Outlook (demand that the export forecasts, which follow each "
    "partner's own history, do not use). The ranking follows the forecasts' means: it inherits their "
    "uncertainty, and it measures arithmetic contribution, not the effect of any policy. "
    "Open ship registries (flags of convenience on the ITF list, features/open_registries.py) "
    "are flagged: exports to them can be mostly ships registered there, not demand in the "
    "country, so by default (report.exclude_open_registries) they stay in the table without a "
    "rank."
)


def fta_labels(fta: pd.DataFrame, *, reporter: str | None = None) -> pd.Series:
    """The most advanced agreement state per partner: ``in force``, ``signed pending``, ``none``.

    Args:
        fta: The snapshot's fta table (``partner, status``, optionally ``reporter``).
        reporter: Keep only this reporter's agreements when the table has a reporter column.

    Returns:
        Labels indexed by partner code (partners without an agreement are absent: ``none``).
    """
    rows = fta
    if reporter is not None and "reporter" in fta.columns:
        rows = fta[fta["reporter"] == reporter]
    labels = rows["status"].map(FTA_LABELS).fillna("none")
    frame = pd.DataFrame({"partner": rows["partner"].to_numpy(), "label": labels.to_numpy()})
    frame = frame.assign(order=frame["label"].map(_FTA_ORDER)).sort_values(["partner", "order"])
    return frame.drop_duplicates("partner").set_index("partner")["label"]


def dependence_contributions(
    start: pd.Series, end: pd.Series, dependence_set: Sequence[str]
) -> pd.Series:
    """Each partner's term in the exact decomposition of the change of the dependence share.

    ``D' - D = sum_i (1[i in set] - D) * (x'_i - x_i) / X'`` where ``D`` is the set's share at
    the start and ``X'`` the total at the end; the terms sum to the change exactly.

    Args:
        start: Exports per partner at the start (index: partner codes).
        end: Exports per partner at the end, same partners.
        dependence_set: Partner codes of the dependence set.

    Returns:
        The terms (fractions of total exports), indexed like ``end``.

    Raises:
        ValueError: Different partners at both ends or a total that is not positive.
    """
    if not start.index.sort_values().equals(end.index.sort_values()):
        raise ValueError("dependence_contributions: start and end must cover the same partners")
    start = start.reindex(end.index).astype(float)
    end = end.astype(float)
    total_start, total_end = start.sum(), end.sum()
    if total_start <= 0 or total_end <= 0:
        raise ValueError("dependence_contributions: total exports must be positive at both ends")
    in_set = end.index.isin(list(dependence_set)).astype(float)
    d_start = float((start * in_set).sum() / total_start)
    return (in_set - d_start) * (end - start) / total_end


def _end_values(forecasts: pd.DataFrame, end: int) -> pd.Series:
    rows = forecasts[forecasts["year"] == end]
    if rows.empty:
        raise ValueError(f"opportunities: forecasts have no rows for the end year {end}")
    if rows["partner"].duplicated().any():
        dup = rows.loc[rows["partner"].duplicated(), "partner"].iloc[0]
        raise ValueError(f"opportunities: forecasts have two rows for partner {dup!r} in {end}")
    return rows.set_index("partner")["mean"].astype(float).clip(lower=0.0)


def _start_values(history: pd.DataFrame, start: int, partners: pd.Index) -> pd.Series:
    # Partners not forecast on their own are members of REST: their exports count there.
    rows = history[history["year"] == start]
    values = rows.groupby("partner")["export_usd"].sum().astype(float)
    own = values[values.index.isin(partners)]
    rest = values[~values.index.isin(partners)].sum()
    out = own.reindex(partners, fill_value=0.0)
    if REST in out.index:
        out[REST] = out[REST] + rest
    elif rest > 0:
        raise ValueError(
            "opportunities: history has partners that are neither forecast nor in REST"
        )
    return out


def _gdp_growth(indicators: pd.DataFrame | None, start: int, end: int) -> pd.Series:
    # mean IMF WEO real GDP growth per country over the forecast years start+1..end
    column = "weo_gdp_growth_pct"
    if indicators is None:
        return pd.Series(dtype=float)
    missing = [c for c in ("country", "year", column) if c not in indicators.columns]
    if missing:
        raise ValueError(f"opportunities: indicators lack column(s) {missing}")
    rows = indicators[indicators["year"].between(start + 1, end)]
    return rows.groupby("country")[column].mean().astype(float)


def _reporter_of(history: pd.DataFrame) -> str | None:
    if "reporter" not in history.columns:
        return None
    reporters = history["reporter"].dropna().unique()
    if len(reporters) > 1:
        raise ValueError(f"opportunities: history has several reporters {sorted(reporters)}")
    return str(reporters[0]) if len(reporters) else None


def _contributions(
    x_start: pd.Series, x_end: pd.Series, horizon: int, dependence_set: Sequence[str]
) -> pd.DataFrame:
    """Shares now and at the end, growth, and each partner's contribution to HHI and dependence.

    Raises:
        ValueError: Total exports are not positive at both ends.
    """
    total_start, total_end = x_start.sum(), x_end.sum()
    if total_start <= 0 or total_end <= 0:
        raise ValueError("opportunities: total exports must be positive at both ends")
    s_start, s_end = x_start / total_start, x_end / total_end
    with np.errstate(divide="ignore", invalid="ignore"):
        cagr = np.where(x_start > 0, (x_end / x_start) ** (1.0 / horizon) - 1.0, np.nan)
    table = pd.DataFrame(
        {
            "partner": x_end.index,
            "current_share": s_start.to_numpy(),
            "forecast_share": s_end.to_numpy(),
            "forecast_growth_pct": 100.0 * np.asarray(cagr, dtype=float),
            "contribution_dhhi": 10_000.0 * (s_end**2 - s_start**2).to_numpy(),
            "contribution_ddep": dependence_contributions(
                x_start, x_end, dependence_set
            ).to_numpy(),
        }
    )
    return table


def _describe(
    table: pd.DataFrame,
    history: pd.DataFrame,
    countries: pd.DataFrame,
    fta_status: pd.DataFrame,
    distances: pd.DataFrame,
    indicators: pd.DataFrame | None,
    start: int,
    end: int,
) -> pd.DataFrame:
    """``table`` with each partner's name, FTA status, distance, income group and GDP growth.

    Also the open-registry flag; the arguments as in :func:`opportunities`, ``start`` and
    ``end`` the first and last year.
    """
    names = countries.drop_duplicates("country").set_index("country")
    reporter = _reporter_of(history)
    labels = fta_labels(fta_status, reporter=reporter)
    # a table of other reporters' agreements says nothing about this reporter's: unknown
    covered = not (
        reporter is not None
        and "reporter" in fta_status.columns
        and reporter not in set(fta_status["reporter"])
    )
    if reporter is not None and "reporter" in distances.columns:
        distances = distances[distances["reporter"] == reporter]
    dist = distances.drop_duplicates("partner").set_index("partner")["distance_km"]
    table = table.assign(
        name=table["partner"].map(names["name"]).fillna(table["partner"]),
        fta_status=table["partner"].map(labels).fillna("none" if covered else UNKNOWN_FTA),
        distance_km=table["partner"].map(dist).astype(float),
        income_group=table["partner"].map(names["income_group"]),
        partner_gdp_growth_pct=table["partner"].map(_gdp_growth(indicators, start, end)),
        open_registry=table["partner"].map(is_open_registry).astype(bool),
    )
    return table


def opportunities(
    forecasts: pd.DataFrame,
    history: pd.DataFrame,
    *,
    dependence_set: Sequence[str],
    horizon: int,
    countries: pd.DataFrame,
    fta_status: pd.DataFrame,
    distances: pd.DataFrame,
    indicators: pd.DataFrame | None = None,
    exclude_open_registries: bool = True,
) -> pd.DataFrame:
    """Partners ranked by how much their forecast growth lowers dependence (see ``METHOD``).

    Args:
        forecasts: ``partner, year, mean`` (USD) for every forecast partner and ``REST``.
        history: ``partner, year, export_usd`` for all partners; its last year is the start.
        dependence_set: Partner codes whose summed share is the dependence share.
        horizon: Years from the last history year to the end year.
        countries: ``country, name, income_group``.
        fta_status: The fta table (``partner, status``, optionally ``reporter``). When it has
            a ``reporter`` column without the reporter of ``history``, every partner's
            ``fta_status`` is ``UNKNOWN_FTA`` rather than ``none``.
        distances: ``partner, distance_km``, optionally ``reporter``. Tables with a
            ``reporter`` column are narrowed to the reporter of ``history`` (the snapshot's
            pairs table covers every reporter).
        indicators: Optional ``country, year, weo_gdp_growth_pct`` (IMF WEO real GDP growth,
            % a year, projections for future years): ``partner_gdp_growth_pct`` is its mean
            over the forecast years (NaN without it, or for a partner with no such year).
        exclude_open_registries: Leave open ship registries (``open_registry`` True) out of
            the ranking: they follow the ranked partners, in the same order, with no rank.

    Returns:
        One row per partner outside the dependence set and ``REST``, most negative
        ``contribution_ddep`` first, with the columns of ``OPPORTUNITY_COLUMNS`` (``rank`` is a
        nullable integer, empty for excluded open registries). Shares and
        ``contribution_ddep`` are fractions; ``contribution_dhhi`` is in HHI points (0-10,000).

    Raises:
        ValueError: Missing years, duplicate rows, or history partners with nowhere to go.
    """
    if horizon < 1:
        raise ValueError(f"opportunities: horizon must be >= 1, got {horizon}")
    start = int(history["year"].max())
    end = start + horizon
    x_end = _end_values(forecasts, end)
    x_start = _start_values(history, start, x_end.index)
    table = _contributions(x_start, x_end, horizon, dependence_set)
    keep = ~table["partner"].isin([*dependence_set, REST])
    table = table[keep]
    table = _describe(table, history, countries, fta_status, distances, indicators, start, end)
    out = table.assign(excluded=table["open_registry"] & exclude_open_registries)
    out = out.sort_values(["excluded", "contribution_ddep", "partner"], kind="mergesort")
    out = out.reset_index(drop=True)
    ranked = int((~out["excluded"]).sum())
    rank = pd.array([*range(1, ranked + 1), *[pd.NA] * (len(out) - ranked)], dtype="Int64")
    return out.assign(rank=rank)[OPPORTUNITY_COLUMNS]
