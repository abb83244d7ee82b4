"""The report on partners: the largest, the fastest growing, open registries, drivers, opportunities."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np
import pandas as pd

from exportcast.features.open_registries import SOURCE as OPEN_REGISTRY_SOURCE
from exportcast.features.open_registries import is_open_registry
from exportcast.models.opportunities import UNKNOWN_FTA
from exportcast.reports.bundle import ReportBundle
from exportcast.reports.formatting import (
    REST,
    REST_NAME,
    Table,
    dependence_label,
    fmt_pct,
    is_missing,
    name_of,
    num,
    partner_names,
    report_years,
    signed,
    usd_bn,
    usd_bn_range,
    without_column,
)
from exportcast.reports.outlook import (
    driver_sentence,
    growth_vs_noise,
    none_stands_out_sentence,
    rule_sentence,
    total_growth_pct,
)

__all__ = [
    "MIN_SHARE_FAST",
    "N_TOP",
    "exclude_open_registries",
    "fastest_growing",
    "fastest_growing_frame",
    "forecast_drivers",
    "open_registry_table",
    "opportunities_table",
    "top_partners",
]


MIN_SHARE_FAST = 0.005  # "meaningful share" for the fastest-growing markets


N_TOP = 10


def _partner_frame(bundle: ReportBundle) -> pd.DataFrame:
    """Per partner: exports in the last history year and forecast at the horizon."""
    lv = bundle.levels[0]
    t0, t1 = report_years(bundle)
    hist = bundle.history
    now = hist[hist["year"] == t0].groupby("partner")["export_usd"].sum()
    fc = bundle.forecasts[bundle.forecasts["year"] == t1].set_index("partner")
    own = now[now.index.isin(fc.index)]
    rest_now = now[~now.index.isin(fc.index)].sum()
    if REST in fc.index:
        own = pd.concat([own, pd.Series({REST: own.get(REST, 0.0) + rest_now})])
        own = own[~own.index.duplicated(keep="last")]
    frame = pd.DataFrame({"now": own}).join(
        fc[["mean", f"lo_{lv}", f"hi_{lv}"]].rename(
            columns={"mean": "end", f"lo_{lv}": "lo", f"hi_{lv}": "hi"}
        ),
        how="outer",
    )
    frame["share_now"] = frame["now"] / now.sum()
    frame["share_end"] = frame["end"] / fc["mean"].sum()
    years = t1 - t0
    with np.errstate(divide="ignore", invalid="ignore"):
        growth = (frame["end"] / frame["now"]) ** (1.0 / years) - 1.0
    frame["growth"] = 100.0 * growth.where(frame["now"] > 0)
    return frame


def _partner_rows(frame: pd.DataFrame, names: dict[str, str]) -> list[list[str]]:
    return [
        [
            name_of(names, str(code)),
            usd_bn(r["now"]),
            usd_bn(r["end"]),
            usd_bn_range(r["lo"], r["hi"]),
            fmt_pct(r["share_now"]),
            fmt_pct(r["share_end"]),
            signed(r["growth"], 1),
        ]
        for code, r in frame.iterrows()
    ]


def _partner_columns(bundle: ReportBundle) -> list[str]:
    t0, t1 = report_years(bundle)
    lv = bundle.levels[0]
    return [
        "Partner",
        f"Exports {t0}, USD bn",
        f"Forecast {t1}, USD bn",
        f"{lv} % interval",
        f"Share {t0}",
        f"Share {t1}",
        "Growth, % a year",
    ]


def top_partners(bundle: ReportBundle, n: int = N_TOP) -> tuple[Table, list[str]]:
    """The largest partners in the last history year, with their forecasts.

    Args:
        bundle: The report bundle.
        n: Number of partners (``Other partners`` is added below them).

    Returns:
        The table and the partner codes shown (largest first, without ``REST``).
    """
    names = partner_names(bundle)
    frame = _partner_frame(bundle)
    top = frame.drop(index=REST, errors="ignore").sort_values("now", ascending=False).head(n)
    shown = pd.concat([top, frame.loc[[REST]]]) if REST in frame.index else top
    table = Table(
        columns=_partner_columns(bundle),
        rows=_partner_rows(shown, names),
        numeric=[1, 2, 3, 4, 5, 6],
        note=f"{REST_NAME}: all partners forecast together as one series. Growth: compound "
        "annual rate from the last observed year to the forecast mean.",
    )
    return table, [str(c) for c in top.index]


def exclude_open_registries(bundle: ReportBundle) -> bool:
    """``report.exclude_open_registries`` of the run (True for bundles older than the key)."""
    config = bundle.meta.get("config")
    report = config.get("report") if isinstance(config, dict) else None
    return bool((report or {}).get("exclude_open_registries", True))


def _fast_candidates(bundle: ReportBundle) -> tuple[pd.DataFrame, float]:
    # partners with a meaningful share (open registries out by default), against the noise rule
    t0, t1 = report_years(bundle)
    full = _partner_frame(bundle)
    total = total_growth_pct(full, t1 - t0)
    frame = full.drop(index=REST, errors="ignore")
    frame = frame[(frame["share_now"] >= MIN_SHARE_FAST) & frame["growth"].notna()]
    if exclude_open_registries(bundle):
        frame = frame[~frame.index.map(is_open_registry).to_numpy(dtype=bool)]
    return growth_vs_noise(frame, total, t1 - t0), total


def fastest_growing_frame(bundle: ReportBundle, n: int = N_TOP) -> pd.DataFrame:
    """Partners whose forecast growth stands out from the total's, fastest first (numbers).

    A partner qualifies with a meaningful share, outside the open registries (unless
    ``report.exclude_open_registries`` is false), when its forecast lead over total exports
    is larger than its interval's lower half-width (:mod:`reports.outlook`).

    Args:
        bundle: The report bundle.
        n: Number of partners.

    Returns:
        Indexed by partner: ``now, end, lo, hi, share_now, share_end, growth`` (% a year) and
        the noise rule's ``growth_lo, excess, noise, stands_out``; empty when none qualifies.
    """
    frame, _ = _fast_candidates(bundle)
    return frame[frame["stands_out"]].sort_values("growth", ascending=False).head(n)


def fastest_growing(bundle: ReportBundle, n: int = N_TOP) -> Table:
    """Partners whose forecast growth stands out from the total's, fastest first.

    Args:
        bundle: The report bundle.
        n: Number of partners.

    Returns:
        The table; without rows its note says plainly that no market stands out.
    """
    names = partner_names(bundle)
    checked, total = _fast_candidates(bundle)
    frame = checked[checked["stands_out"]].sort_values("growth", ascending=False).head(n)
    lv = bundle.levels[0]
    coverage = (bundle.meta.get("interval_coverage_backtest") or {}).get(str(lv))
    scope = f"Partners that took at least {fmt_pct(MIN_SHARE_FAST)} of exports in {report_years(bundle)[0]}"
    scope += ", open ship registries apart (below)." if exclude_open_registries(bundle) else "."
    head = (
        rule_sentence(lv, total, None if coverage is None else float(coverage))
        if len(frame)
        else none_stands_out_sentence(lv, total, len(checked))
    )
    return Table(
        columns=_partner_columns(bundle),
        rows=_partner_rows(frame, names),
        numeric=[1, 2, 3, 4, 5, 6],
        note=f"{head} {scope}",
    )


def open_registry_table(bundle: ReportBundle, n: int = N_TOP) -> Table:
    """Partners that are open ship registries (ITF flags of convenience), largest first.

    Args:
        bundle: The report bundle.
        n: Number of partners.

    Returns:
        The table (no rows when no forecast partner is on the list).
    """
    frame = _partner_frame(bundle).drop(index=REST, errors="ignore")
    frame = frame[frame.index.map(is_open_registry).to_numpy(dtype=bool) & (frame["now"] > 0)]
    frame = frame.sort_values("now", ascending=False).head(n)
    left_out = (
        " They are left out of the growth and opportunity rankings "
        "(report.exclude_open_registries)."
        if exclude_open_registries(bundle)
        else ""
    )
    return Table(
        columns=_partner_columns(bundle),
        rows=_partner_rows(frame, partner_names(bundle)),
        numeric=[1, 2, 3, 4, 5, 6],
        note=f"Open-registry flags ({OPEN_REGISTRY_SOURCE}): ships registered under these flags "
        "count as exports to them, so exports there can be mostly ships rather than demand in "
        "the country (the list marks ship registries, not goods: some of these countries also "
        f"buy ordinary goods).{left_out}",
    )


def forecast_drivers(bundle: ReportBundle, top: Sequence[str]) -> list[str]:
    """For each of ``top``: what drives its forecast and where it differs from no change.

    Args:
        bundle: The report bundle.
        top: Partner codes (the top-partner table's, largest first).

    Returns:
        One paragraph per partner forecast on its own, every number from the bundle.
    """
    t0, t1 = report_years(bundle)
    frame = _partner_frame(bundle)
    fc = bundle.forecasts
    models = fc[fc["year"] == t1].set_index("partner")["model"] if "model" in fc else None
    first_step = fc[fc["year"] == t0 + 1].set_index("partner")["mean"]
    hist = bundle.history.groupby(["year", "partner"])["export_usd"].sum()
    then = max(t0 - 5, int(bundle.history["year"].min()))
    x_then, x_now = hist.get(then, pd.Series(dtype=float)), hist.get(t0, pd.Series(dtype=float))
    opp = bundle.opportunities.set_index("partner")
    weo = opp.get("partner_gdp_growth_pct", pd.Series(dtype=float))
    names = partner_names(bundle)
    out = []
    for code in (c for c in top if c in frame.index and c != REST):
        r, a, b = frame.loc[code], float(x_then.get(code, np.nan)), float(x_now.get(code, np.nan))
        momentum = 100.0 * ((b / a) ** (1.0 / (t0 - then)) - 1.0) if a > 0 and t0 > then else np.nan
        out.append(
            driver_sentence(
                {
                    "name": name_of(names, code),
                    "model": "Selected" if models is None else str(models.get(code, "Selected")),
                    "first": int(bundle.meta.get("first_year", then)),
                    "t0": t0,
                    "t1": t1,
                    "level": bundle.levels[0],
                    "now": r["now"],
                    "end": r["end"],
                    "lo": r["lo"],
                    "hi": r["hi"],
                    "step": float(first_step.get(code, np.nan)) - r["now"],
                    "momentum_from": then,
                    "momentum_pct": momentum,
                    "share_then": a / x_then.sum() if x_then.sum() > 0 else np.nan,
                    "share_now": b / x_now.sum() if x_now.sum() > 0 else np.nan,
                    "weo_pct": float(weo.get(code, np.nan)),
                }
            )
        )
    return out


def opportunities_table(bundle: ReportBundle, n: int = 12) -> Table:
    """The ranked diversification opportunities.

    Args:
        bundle: The report bundle.
        n: Number of rows.

    Returns:
        The table of the first ``n`` opportunities.
    """
    names = partner_names(bundle)
    dep = dependence_label(bundle, names)
    t0, t1 = report_years(bundle)
    opp = bundle.opportunities.sort_values("rank")
    opp = opp[opp["rank"].notna()].head(n)
    rows = [
        [
            str(int(r["rank"])),
            name_of(names, str(r["partner"])),
            fmt_pct(r["current_share"]),
            fmt_pct(r["forecast_share"]),
            signed(r["forecast_growth_pct"], 1),
            signed(100.0 * r["contribution_ddep"], 2),
            signed(r["contribution_dhhi"], 1),
            str(r["fta_status"]),
            num(r["distance_km"], 0),
            "n/a" if is_missing(r["income_group"]) else str(r["income_group"]),
            "n/a"
            if is_missing(r.get("partner_gdp_growth_pct"))
            else signed(r["partner_gdp_growth_pct"], 1),
        ]
        for _, r in opp.iterrows()
    ]
    table = Table(
        columns=[
            "Rank",
            "Partner",
            f"Share {t0}",
            f"Share {t1}",
            "Growth, % a year",
            f"Change of {dep} share, points",
            "Change of HHI, points",
            "Trade agreement",
            "Distance, km",
            "Income group",
            "Partner GDP growth, % a year",
        ],
        rows=rows,
        numeric=[0, 2, 3, 4, 5, 6, 8, 10],
        note=f"Negative: the partner's forecast growth lowers the {dep} share. HHI points on "
        "the 0\u201310,000 scale. Partner GDP growth: IMF World Economic Outlook projection of "
        f"real growth, mean {t0 + 1}\u2013{t1}. See the appendix for the method.",
    )
    unranked = int(bundle.opportunities["rank"].isna().sum())
    if unranked:
        table = dataclasses.replace(
            table,
            note=f"{table.note} {unranked} open ship "
            f"{'registry is' if unranked == 1 else 'registries are'} left out of the ranking "
            "(report.exclude_open_registries; see Fastest-growing markets).",
        )
    if len(opp) and (opp["fta_status"].astype(str) == UNKNOWN_FTA).all():
        # a reporter the FTA table does not cover: a column of "not in the data" says nothing
        table = dataclasses.replace(
            without_column(table, "Trade agreement"),
            note=f"{table.note} {bundle.meta.get('reporter_name', 'The reporter')}\u2019s "
            "trade agreements are not in the data (the FTA table covers Korea only).",
        )
    return table
