"""The report on FTA scenarios: one block per scenario, its headline and how it turned out."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from exportcast.reports.bundle import ReportBundle
from exportcast.reports.formatting import (
    Table,
    dependence_label,
    digits_for,
    fmt_pct,
    fmt_pct_range,
    fmt_range,
    is_missing,
    name_of,
    num,
    partner_names,
    report_years,
    signed,
    signed_range,
    usd_bn,
    usd_bn_range,
    without_column,
)

__all__ = ["centrals", "latest_origin", "outcome_check", "scenario_headline", "scenario_sections"]


_INDEX_LABELS = {
    "dependence_share": "share of exports",
    "hhi": "HHI",
    "n_effective": "effective partners",
}


def latest_origin(frame: pd.DataFrame, scenario: str) -> pd.DataFrame:
    """The rows of ``scenario`` at its latest origin (empty when it has none)."""
    rows = frame[frame["scenario"] == scenario]
    if rows.empty:
        return rows
    return rows[rows["origin"] == rows["origin"].max()]


def centrals(row: pd.Series) -> tuple[tuple[float, float, float], bool]:
    """Central baseline, scenario and difference of a ``scenario_indices`` row, and their kind.

    The indices of the point forecasts (``<kind>_point``, True), or the path medians
    (``<kind>_p50``, False) in a bundle written before the point columns existed; never a mix.
    """
    points = [row.get(f"{kind}_point", np.nan) for kind in ("baseline", "scenario", "diff")]
    if not any(is_missing(v) for v in points):
        return (float(points[0]), float(points[1]), float(points[2])), True
    medians = [float(row.get(f"{kind}_p50", np.nan)) for kind in ("baseline", "scenario", "diff")]
    return (medians[0], medians[1], medians[2]), False


_ONE_YEAR = (
    "One year of outcomes cannot measure the agreement's effect: the baseline is a forecast too."
)


def outcome_check(
    parts: pd.DataFrame,
    names: dict[str, str],
    level: int,
    *,
    prefix: str = "How it turned out: ",
    caveat: bool = True,
) -> str | None:
    """How an ex ante scenario turned out: the realised exports against its interval.

    Args:
        parts: ``scenario_partners`` rows of one scenario and origin.
        names: Partner names by code.
        level: The interval level to judge by (the first configured level).
        prefix: Text before the sentence.
        caveat: End with the caveat that one year cannot measure the effect.

    Returns:
        One sentence about the last year with realised exports (per partner for up to two
        partners, else counted), or None when no year of the scenario is known yet.
    """
    known = parts[parts["actual"].notna()] if "actual" in parts.columns else parts.iloc[0:0]
    if known.empty:
        return None
    year = int(known["year"].max())
    rows = known[known["year"] == year].sort_values("partner")
    lo, hi = rows[f"scenario_lo_{level}"], rows[f"scenario_hi_{level}"]
    where = np.where(rows["actual"] < lo, "below", np.where(rows["actual"] > hi, "above", "inside"))
    where = np.where(lo.isna() | hi.isna(), "without", where)  # no interval to judge by
    if len(rows) > 2:
        counts = pd.Series(where[where != "without"]).value_counts()
        text = (
            f"{prefix}in {year}, the realised exports of "
            f"{counts.get('inside', 0)} of {int(counts.sum())} partners were inside the scenario's "
            f"{level} % interval, {counts.get('below', 0)} below and {counts.get('above', 0)} "
            "above it."
        )
        return f"{text} {_ONE_YEAR}" if caveat else text
    clauses = []
    for (_, r), pos in zip(rows.iterrows(), where, strict=True):
        base = float(r["baseline_mean"])
        vs_base = (
            f"{num(abs(100.0 * (r['actual'] / base - 1.0)), 0)} % "
            f"{'below' if r['actual'] < base else 'above'} the baseline forecast "
            f"(USD {usd_bn(base)} bn)"
            if base > 0
            else f"against a baseline forecast of USD {usd_bn(base)} bn"
        )
        judged = (
            f"{pos} the scenario's {level} % interval (USD "
            f"{usd_bn_range(r[f'scenario_lo_{level}'], r[f'scenario_hi_{level}'])} bn)"
            if pos != "without"
            else f"the scenario has no {level} % interval"
        )
        clauses.append(
            f"exports to {name_of(names, str(r['partner']))} were USD {usd_bn(r['actual'])} bn, "
            f"{vs_base} and {judged}"
        )
    text = f"{prefix}in {year} " + "; ".join(clauses) + "."
    return f"{text} {_ONE_YEAR}" if caveat else text


def scenario_headline(bundle: ReportBundle, dep: str) -> list[str]:
    """One summary sentence per scenario: the dependence share with and without it."""
    names = partner_names(bundle)
    lv = bundle.levels[0]
    out = []
    idx = bundle.scenario_indices
    for meta in bundle.scenarios:
        rows = latest_origin(idx, str(meta["name"]))
        rows = rows[rows["index"] == "dependence_share"]
        title = str(meta.get("title") or meta["name"])
        if rows.empty:
            out.append(f"Scenario \u201c{title}\u201d: no results in this run.")
            continue
        last = rows[rows["year"] == rows["year"].max()].iloc[0]
        (base, scen, diff), is_point = centrals(last)
        diff = 100.0 * diff
        lo = 100.0 * float(last.get(f"diff_lo_{lv}", np.nan))
        hi = 100.0 * float(last.get(f"diff_hi_{lv}", np.nan))
        digits = digits_for(diff, lo, hi)
        if diff == 0:
            change = "the same as without it"
        else:
            way = "lower" if diff < 0 else "higher"
            change = f"{num(abs(diff), digits)} percentage points {way} than without it"
        central = (
            "the index of the partner point forecasts"
            if is_point
            else "the median over the sample paths"
        )
        check = outcome_check(latest_origin(bundle.scenario_partners, str(meta["name"])), names, lv)
        origin = int(last["origin"])
        # an ex ante scenario's baseline is a forecast from its origin, not the headline's
        ex_ante = f" forecast with data to {origin}" if origin < report_years(bundle)[0] else ""
        out.append(
            f"Scenario \u201c{title}\u201d: the {dep} share in {int(last['year'])} would be "
            f"{fmt_pct(scen, digits)} against {fmt_pct(base, digits)} in the baseline{ex_ante}, "
            f"{change} ({central}; {lv} % interval of the difference over the sample paths "
            f"{signed_range(lo, hi, digits)} points)." + (f" {check}" if check else "")
        )
    if not out:
        out.append("No scenarios were configured for this run.")
    return out


def _method_text(method: object) -> str:
    # scenario meta gives the method as a list of notes (or one text)
    if isinstance(method, (list, tuple)):
        return " ".join(str(m) for m in method)
    return str(method or "")


def _index_value(index: str, x: float) -> str:
    if index == "dependence_share":
        return fmt_pct(x)
    return num(x, 3 if index == "hhi" else 1)


def _index_diff(index: str, x: float) -> str:
    if index == "dependence_share":
        return signed(100.0 * x, digits_for(100.0 * x)) + " points"
    return signed(x, 4 if index == "hhi" else 2)


def _index_range(index: str, lo: float, hi: float) -> str:
    if index == "dependence_share":
        return fmt_pct_range(lo, hi)
    return fmt_range(lo, hi, 3 if index == "hhi" else 1)


def _diff_range(index: str, lo: float, hi: float) -> str:
    if index == "dependence_share":
        return signed_range(100.0 * lo, 100.0 * hi, digits_for(100.0 * lo, 100.0 * hi))
    return signed_range(lo, hi, 4 if index == "hhi" else 2)


def _same_effects(parts: pd.DataFrame) -> bool:
    """Whether the paths' median effect equals the PPML point effect as printed (0.1 %)."""
    if parts.empty or "ppml_effect_pct" not in parts.columns:
        return False
    a = pd.to_numeric(parts["effect_pct"], errors="coerce").to_numpy(dtype=float)
    b = pd.to_numeric(parts["ppml_effect_pct"], errors="coerce").to_numpy(dtype=float)
    return bool(np.all(np.abs(a - b) < 0.05))


def _disagreement(row: pd.Series, name: str) -> str | None:
    """A sentence when PPML and the regressions disagree (sign, or size by > 5 points/half)."""
    ppml = row.get("ppml_effect_pct", np.nan)
    regs = [row.get("gbm_effect_pct", np.nan), row.get("ridge_effect_pct", np.nan)]
    regs = [float(r) for r in regs if not is_missing(r)]
    if is_missing(ppml) or not regs:
        return None
    reg = float(np.mean(regs))
    gap = abs(float(ppml) - reg)
    if np.sign(ppml) == np.sign(reg) and gap <= max(5.0, 0.5 * max(abs(ppml), abs(reg))):
        return None
    return (
        f"For {name} in {int(row['year'])} the PPML gravity model and the regression models "
        f"disagree (PPML {signed(ppml)} %, gradient boosting "
        f"{signed(row.get('gbm_effect_pct', np.nan))} %, ridge "
        f"{signed(row.get('ridge_effect_pct', np.nan))} %): treat the size of this effect as "
        "uncertain."
    )


def _disagreements(who: list[str], year: Any) -> str:
    """One sentence for many partners whose PPML and regression effects disagree."""
    return (
        f"For {len(who)} partners ({', '.join(who)}) in {int(year)} the PPML gravity model and "
        "the regression models disagree on the sign or size of the effect (see the table): "
        "treat the size of these effects as uncertain."
    )


def _scenario_index_note(is_point: bool) -> str:
    """What the central values and intervals of the scenario index table are."""
    central = (
        "Baseline, Scenario and Difference: the index of the point forecasts (the partner "
        "forecasts, the scenario's partners moved by the PPML estimate). "
        if is_point
        else "Baseline, Scenario and Difference: medians over the sample paths. "
    )
    return (
        central + "Intervals: over the sample paths; baseline and scenario come from the same "
        "paths, so the paired interval of the difference is narrower than the two bands suggest. "
        "The intervals need not be centred on the central values."
    )


def _partner_effects(
    parts: pd.DataFrame, names: dict[str, str], lv: int, hi_lv: int
) -> tuple[list[list[str]], list[str]]:
    """Rows of the partner effects table, and the sentences on PPML/regression disagreement."""
    p_rows, sentences, disagreeing = [], [], []
    horizon_year = parts["year"].max() if not parts.empty else None
    for _, r in parts.sort_values(["partner", "year"]).iterrows():
        partner = name_of(names, str(r["partner"]))
        p_rows.append(
            [
                partner,
                str(int(r["year"])),
                usd_bn(r["baseline_mean"]),
                usd_bn(r["scenario_mean"]),
                signed(r["effect_pct"]),
                signed_range(r.get(f"effect_lo_{lv}"), r.get(f"effect_hi_{lv}")),
                signed_range(r.get(f"effect_lo_{hi_lv}"), r.get(f"effect_hi_{hi_lv}")),
                signed(r["ppml_effect_pct"]),
                signed(r["gbm_effect_pct"]),
                signed(r["ridge_effect_pct"]),
                "not yet known" if is_missing(r["actual"]) else usd_bn(r["actual"]),
            ]
        )
        # judged at the horizon year: one sentence per partner, not one per year
        sentence = _disagreement(r, partner) if r["year"] == horizon_year else None
        if sentence:
            sentences.append(sentence)
            disagreeing.append(partner)
    if len(sentences) > 2:  # one sentence, not one per partner of a bloc agreement
        sentences = [_disagreements(disagreeing, horizon_year)]
    return p_rows, sentences


def _partner_table(parts: pd.DataFrame, p_rows: list[list[str]], lv: int, hi_lv: int) -> Table:
    """The partner effects table (one effect column when the paths' median is the PPML point)."""
    p_columns = [
        "Partner",
        "Year",
        "Baseline, USD bn",
        "Scenario, USD bn",
        "Effect, % (median of paths)",
        f"{lv} % interval",
        f"{hi_lv} % interval",
        "PPML point, %",
        "Gradient boosting, %",
        "Ridge, %",
        "Actual, USD bn",
    ]
    p_table = Table(columns=p_columns, rows=p_rows, numeric=list(range(2, len(p_columns))))
    if _same_effects(parts):
        # antithetic coefficient draws: the paths' median is the PPML point, one column
        p_table = without_column(p_table, "PPML point, %")
        p_table.columns[4] = "Effect, % (PPML)"  # the list is the table's own copy
    return p_table


def _index_effects_table(idx: pd.DataFrame, dep: str, lv: int) -> Table:
    """The scenario's index effects at its horizon year: baseline, scenario, difference."""
    idx = idx[idx["year"] == idx["year"].max()] if not idx.empty else idx
    i_rows, point_rows = [], []
    for _, r in idx.iterrows():
        index = str(r["index"])
        (base, scen, diff), is_point = centrals(r)
        point_rows.append(is_point)
        label = f"{dep} {_INDEX_LABELS.get(index, index)}"
        if index != "dependence_share":
            label = _INDEX_LABELS.get(index, index)
        i_rows.append(
            [
                label,
                str(int(r["year"])),
                _index_value(index, base),
                _index_range(index, r.get(f"baseline_lo_{lv}"), r.get(f"baseline_hi_{lv}")),
                _index_value(index, scen),
                _index_range(index, r.get(f"scenario_lo_{lv}"), r.get(f"scenario_hi_{lv}")),
                _index_diff(index, diff),
                _diff_range(index, r.get(f"diff_lo_{lv}"), r.get(f"diff_hi_{lv}")),
                "not yet known" if is_missing(r["actual"]) else _index_value(index, r["actual"]),
            ]
        )
    return Table(
        columns=[
            "Index",
            "Year",
            "Baseline",
            f"{lv} % interval",
            "Scenario",
            f"{lv} % interval",
            "Difference",
            f"{lv} % interval (paired)",
            "Actual",
        ],
        rows=i_rows,
        numeric=list(range(2, 9)),
        note=_scenario_index_note(all(point_rows)),
    )


def _outcomes_table(indices: pd.DataFrame, name: str) -> Table | None:
    """Earlier origins of the scenario against the realised index (None when none is known)."""
    known = indices[(indices["scenario"] == name) & indices["actual"].notna()]
    # the last known year of each earlier origin keeps the table short
    known = known[known["year"] == known.groupby("origin")["year"].transform("max")]
    o_rows = [
        [
            str(int(r["origin"])),
            str(int(r["year"])),
            _INDEX_LABELS.get(str(r["index"]), str(r["index"])),
            _index_value(str(r["index"]), centrals(r)[0][0]),
            _index_value(str(r["index"]), centrals(r)[0][1]),
            _index_value(str(r["index"]), r["actual"]),
        ]
        for _, r in known.sort_values(["origin", "year", "index"]).iterrows()
    ]
    if not o_rows:
        return None
    return Table(
        columns=["Origin", "Year", "Index", "Baseline", "Scenario", "Actual"],
        rows=o_rows,
        numeric=[3, 4, 5],
    )


def scenario_sections(bundle: ReportBundle) -> list[dict[str, Any]]:
    """One block per scenario: what changes, partner effects, index effects, checks.

    Args:
        bundle: The report bundle.

    Returns:
        Dicts with ``title, description, method, changes, partners (Table), indices (Table),
        outcomes (Table or None), sentences``; an empty list without scenarios.
    """
    names = partner_names(bundle)
    dep = dependence_label(bundle, names)
    lv = bundle.levels[0]
    hi_lv = bundle.levels[-1]
    out = []
    for meta in bundle.scenarios:
        name = str(meta["name"])
        parts = latest_origin(bundle.scenario_partners, name)
        if len(parts) > 12:  # keep the page short: the horizon year per partner
            parts = parts[parts["year"] == parts["year"].max()]
        p_rows, sentences = _partner_effects(parts, names, lv, hi_lv)
        check = outcome_check(latest_origin(bundle.scenario_partners, name), names, lv)
        if p_rows and not sentences:
            sentences.append(
                "The PPML gravity model and the regression models agree on the direction and "
                "rough size of the partner effects."
            )
        if check:
            sentences.append(check)
        out.append(
            {
                "title": str(meta.get("title") or name),
                "description": str(meta.get("description") or ""),
                "method": _method_text(meta.get("method")),
                "changes": [str(c) for c in meta.get("changes") or []],
                "partners": _partner_table(parts, p_rows, lv, hi_lv),
                "indices": _index_effects_table(
                    latest_origin(bundle.scenario_indices, name), dep, lv
                ),
                "outcomes": _outcomes_table(bundle.scenario_indices, name),
                "sentences": sentences,
            }
        )
    return out
