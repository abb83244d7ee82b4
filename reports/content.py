"""What the report says: numbers and plain sentences computed from a report bundle.

Every number in the report comes from here, formatted from the bundle's frames; nothing is
typed in. The functions return plain text and ``Table``s of formatted strings; the HTML
template escapes all of it.

This module holds the summary, the accuracy section, sources and configuration; the other
sections live beside it: ``reports.sections_index`` (the dependence index and its track
record), ``reports.sections_partners`` (partner tables, drivers, opportunities),
``reports.sections_scenarios`` (FTA scenarios) and ``reports.formatting`` (numbers and names).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import numpy as np

from exportcast.reports.bundle import ReportBundle
from exportcast.reports.formatting import (
    DASH,
    Table,
    concentration_row,
    dependence_label,
    fmt_pct,
    fmt_pct_range,
    fmt_range,
    is_missing,
    name_of,
    num,
    partner_names,
    report_years,
    usd_bn,
)
from exportcast.reports.sections_index import index_summary
from exportcast.reports.sections_scenarios import scenario_headline

__all__ = [
    "accuracy_section",
    "config_text",
    "data_update_sentences",
    "sources_table",
    "summary_sentences",
]


def _accuracy_sentences(bundle: ReportBundle) -> list[str]:
    acc = bundle.accuracy.set_index("model")
    row = acc.loc["Selected"] if "Selected" in acc.index else acc.iloc[0]
    period = bundle.meta.get("backtest_period")
    where = (
        f"Over {int(period[0])}{DASH}{int(period[1])}"
        if isinstance(period, Sequence) and len(period) == 2
        else "In the rolling backtest"
    )
    out = []
    rel = float(row["relMASE"])
    if not is_missing(rel):
        gap = 100.0 * abs(1.0 - rel)
        way = "less" if rel < 1 else "more"
        how = f"by {num(gap, 0)} % {way} than" if round(gap) >= 1 else "about as much as"
        out.append(
            f"{where}, the forecasts missed {how} simply assuming "
            f"no change from the last year (relative error {num(rel, 2)})."
        )
    coverage = bundle.meta.get("interval_coverage_backtest") or {}
    parts = [
        f"{lv} % intervals contained the outcome {fmt_pct(float(coverage[str(lv)]))} of the time"
        for lv in bundle.levels
        if str(lv) in coverage and not is_missing(coverage[str(lv)])
    ]
    if parts:
        out.append("; ".join(parts) + ".")
    return out


def fallback_sentence(rows: list[dict[str, Any]] | None) -> str | None:
    """Say how often the no-change fallback stood in for a model (None for older bundles).

    Args:
        rows: The run's fallback counts, ``stage, model, replaced, fits`` per model and stage.
    """
    if rows is None:
        return None
    used = [r for r in rows if int(r["replaced"]) > 0]
    if not used:
        return "Every model could be fitted on every partner and origin (no fallback was needed)."
    parts = [
        f"{r['model']} on {int(r['replaced']):,} of {int(r['fits']):,} {r['stage']} fits "
        f"({fmt_pct(int(r['replaced']) / int(r['fits']))})"
        for r in used
    ]
    return (
        "Where a model could not be fitted (too few years, a constant series), the no-change "
        "forecast stood in for it: " + "; ".join(parts) + "."
    )


def summary_sentences(bundle: ReportBundle) -> list[str]:
    """The executive summary: one plain sentence per finding.

    Args:
        bundle: The report bundle.

    Returns:
        Sentences on dependence, concentration, the probability of lower dependence, the
        biggest opportunity, the scenarios, the track record of the dependence share forecast
        (when the bundle has it) and forecast accuracy.
    """
    names = partner_names(bundle)
    dep = dependence_label(bundle, names)
    lv = bundle.levels[0]
    t0, t1 = report_years(bundle)
    now, end = concentration_row(bundle, t0), concentration_row(bundle, t1)
    out = [
        f"{dep} are forecast to take {fmt_pct(end['dependence_share'])} of "
        f"{bundle.meta['reporter_name']}\u2019s exports in {t1}, {lv} % interval "
        f"{fmt_pct_range(end[f'dependence_share_lo_{lv}'], end[f'dependence_share_hi_{lv}'])}; "
        f"{fmt_pct(now['dependence_share'])} in {t0}.",
        f"Export concentration (HHI) is forecast at {num(end['hhi'], 3)} in {t1} ({lv} % "
        f"interval {fmt_range(end[f'hhi_lo_{lv}'], end[f'hhi_hi_{lv}'], 3)}; {num(now['hhi'], 3)} "
        f"in {t0}): as concentrated as selling equally to {num(end['n_effective'], 1)} "
        f"partners ({num(now['n_effective'], 1)} in {t0}).",
    ]
    p = end.get("p_dependence_below", np.nan)
    if not is_missing(p):
        out.append(
            f"The probability that {dep} take less than "
            f"{fmt_pct(float(bundle.meta['dependence_threshold']), 0)} of exports in {t1} is "
            f"{fmt_pct(float(p), 0)}."
        )
    opp = bundle.opportunities.sort_values("rank")
    if not opp.empty and float(opp.iloc[0]["contribution_ddep"]) < 0:
        top = opp.iloc[0]
        out.append(
            f"Biggest diversification opportunity: {name_of(names, str(top['partner']))}, forecast to grow "
            f"{num(top['forecast_growth_pct'], 1)} % a year and to take "
            f"{fmt_pct(top['forecast_share'])} of exports in {t1} "
            f"({fmt_pct(top['current_share'])} in {t0}); this alone lowers the {dep} share by "
            f"{num(-100.0 * top['contribution_ddep'], 1)} percentage points."
        )
    else:
        out.append(f"No partner outside {dep} is forecast to lower their share of exports.")
    out += scenario_headline(bundle, dep)
    out += index_summary(bundle, dep)
    out += _accuracy_sentences(bundle)
    out += data_update_sentences(bundle)
    return out


def data_update_sentences(bundle: ReportBundle) -> list[str]:
    """What the data vintage changed and which figures are provisional (docs/data-updates.md).

    Empty for the embedded snapshot; else one sentence on new years and revisions since the
    vintage it was made from, and one per partial release (its REST is provisional).
    """
    notes = bundle.meta.get("data_update")
    if not notes:
        return []
    years = ", ".join(notes.get("new_years") or []) or "no new years"
    out = [
        f"Data vintage {notes['vintage']} (made from {', '.join(notes.get('sources') or [])}) "
        f"changed since vintage {notes.get('base_vintage')}: {years}; "
        f"{notes.get('revisions', 0)} partner-year revision(s) above 5 % and USD 50 m."
    ]
    for p in notes.get("provisional") or []:
        out.append(
            f"Provisional: {p['reporter']}’s {p['year']} figures list {p['n_partners']} "
            f"partners; the other USD {usd_bn(p['rest_usd'])} bn of the USD "
            f"{usd_bn(p['total_usd'])} bn total (REST) is not yet assigned to partners, and those partners' values for "
            "that year are unknown, not zero."
        )
    return out


def accuracy_section(bundle: ReportBundle) -> tuple[list[str], Table]:
    """Forecast accuracy in words, and the per-model table.

    Args:
        bundle: The report bundle.

    Returns:
        Sentences and the table of backtest scores.
    """
    sentences = _accuracy_sentences(bundle)
    acc = bundle.accuracy
    if "wrelMASE" in acc.columns and "Selected" in set(acc["model"]):
        w = float(acc.set_index("model").loc["Selected", "wrelMASE"])
        if not is_missing(w):
            way = "less" if w < 1 else "more"
            sentences.append(
                f"Weighting partners by their share of exports, the forecasts missed by "
                f"{num(100.0 * abs(1 - w), 0)} % {way} than assuming no change."
            )
    fallback = fallback_sentence(bundle.meta.get("fallbacks"))
    if fallback:
        sentences.append(fallback)
    sentences.append(
        "The relative error compares each model's typical miss with that of the "
        "\u201cno change\u201d forecast: below 1 is better, above 1 is worse. \u201cSelected\u201d "
        "is the model chosen at each backtest origin using only the data available then, "
        f"the same rule that chose this run's model ({bundle.meta['selected_model']})."
    )
    cols = [c for c in ["MASE", "sMAPE", "RMSSE", "relMASE", "wMASE", "wrelMASE"] if c in acc]
    labels = {
        "MASE": "MASE",
        "sMAPE": "sMAPE, %",
        "RMSSE": "RMSSE",
        "relMASE": "Relative error vs no change",
        "wMASE": "Weighted MASE",
        "wrelMASE": "Weighted relative error",
    }
    rows = [[str(r["model"]), *[num(r[c], 2) for c in cols]] for _, r in acc.iterrows()]
    return sentences, Table(
        columns=["Model", *[labels[c] for c in cols]],
        rows=rows,
        numeric=list(range(1, len(cols) + 1)),
    )


def sources_table(bundle: ReportBundle) -> Table:
    """Data sources with publisher and license.

    Args:
        bundle: The report bundle.

    Returns:
        One row per source.
    """
    keys = ["table", "publisher", "title", "license", "url"]
    rows = [[str(s.get(k) or "") for k in keys] for s in bundle.meta["sources"]]
    return Table(columns=["Table", "Publisher", "Title", "License", "Address"], rows=rows)


def config_text(bundle: ReportBundle) -> str:
    """The run's configuration, pretty-printed.

    Args:
        bundle: The report bundle.

    Returns:
        Indented JSON text.
    """
    return json.dumps(bundle.meta["config"], indent=2, sort_keys=True, default=str)
