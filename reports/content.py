"""What the report says: numbers and plain sentences computed from a report bundle.

Every number in the report comes from here, formatted from the bundle's frames; nothing is
typed in. The functions return plain text and ``Table``s of formatted strings; the HTML
template escapes all of it.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pycountry

from features.open_registries import SOURCE as OPEN_REGISTRY_SOURCE
from features.open_registries import is_open_registry
from models.index_backtest import ALL, summarize_index_backtest
from models.opportunities import UNKNOWN_FTA
from reports.bundle import ReportBundle
from reports.outlook import (
    driver_sentence,
    growth_vs_noise,
    none_stands_out_sentence,
    rule_sentence,
    total_growth_pct,
)
from reports.provisional import provisional_sentences

__all__ = [
    "MIN_SHARE_FAST",
    "REST",
    "REST_NAME",
    "Table",
    "accuracy_section",
    "config_text",
    "data_update_sentences",
    "fastest_growing",
    "fastest_growing_frame",
    "fmt_pct",
    "fmt_pct_range",
    "forecast_drivers",
    "index_backtest_section",
    "index_table",
    "open_registry_table",
    "opportunities_table",
    "partner_names",
    "scenario_sections",
    "sources_table",
    "summary_sentences",
    "top_partners",
]

REST = "REST"
REST_NAME = "Other partners"
MIN_SHARE_FAST = 0.005  # "meaningful share" for the fastest-growing markets
N_TOP = 10
_DASH = "\u2013"
_MINUS = "\u2212"
_INDEX_LABELS = {
    "dependence_share": "share of exports",
    "hhi": "HHI",
    "n_effective": "effective partners",
}


@dataclass(frozen=True)
class Table:
    """A table of formatted cells.

    Attributes:
        columns: Header cells.
        rows: Rows of cells (strings, escaped by the template).
        numeric: Indices of right-aligned (numeric) columns.
        note: A sentence printed under the table.
    """

    columns: list[str]
    rows: list[list[str]]
    numeric: list[int] = field(default_factory=list)
    note: str = ""


def _without_column(table: Table, name: str) -> Table:
    """``table`` without the column headed ``name`` (numeric indices shifted to match)."""
    i = table.columns.index(name)
    return Table(
        columns=table.columns[:i] + table.columns[i + 1 :],
        rows=[row[:i] + row[i + 1 :] for row in table.rows],
        numeric=[k - (k > i) for k in table.numeric if k != i],
        note=table.note,
    )


def _is_missing(x: Any) -> bool:
    return x is None or (isinstance(x, float | np.floating) and math.isnan(x))


def _num(x: float, digits: int = 1) -> str:
    """Plain number with a real minus sign."""
    if _is_missing(x):
        return "n/a"
    text = f"{x:,.{digits}f}"
    return text.replace("-", _MINUS) if text.startswith("-") else text


def _digits_for(*values: float) -> int:
    """Decimals that keep small differences visible: 1, or 2/3 when every value is tiny."""
    finite = [abs(v) for v in values if not _is_missing(v)]
    largest = max(finite, default=1.0)
    return 1 if largest >= 0.5 else 2 if largest >= 0.05 else 3


def _signed(x: float, digits: int = 1) -> str:
    if _is_missing(x):
        return "n/a"
    text = f"{x:+,.{digits}f}"
    return text.replace("-", _MINUS)


def fmt_pct(share: float, digits: int = 1) -> str:
    """A fraction as a percentage: ``0.345 -> '34.5 %'``.

    Args:
        share: Fraction.
        digits: Decimals.

    Returns:
        The formatted percentage (``n/a`` for a missing value).
    """
    if _is_missing(share):
        return "n/a"
    return f"{_num(100.0 * share, digits)} %"


def fmt_pct_range(lo: float, hi: float, digits: int = 1) -> str:
    """An interval of fractions as percentages: ``(0.246, 0.379) -> '24.6–37.9 %'``.

    Args:
        lo: Lower bound (fraction).
        hi: Upper bound (fraction).
        digits: Decimals.

    Returns:
        The formatted interval.
    """
    if _is_missing(lo) or _is_missing(hi):
        return "n/a"
    return f"{_num(100.0 * lo, digits)}{_DASH}{_num(100.0 * hi, digits)} %"


def _range(lo: float, hi: float, digits: int) -> str:
    if _is_missing(lo) or _is_missing(hi):
        return "n/a"
    return f"{_num(lo, digits)}{_DASH}{_num(hi, digits)}"


def _signed_range(lo: float, hi: float, digits: int = 1) -> str:
    if _is_missing(lo) or _is_missing(hi):
        return "n/a"
    return f"{_signed(lo, digits)} to {_signed(hi, digits)}"


def _usd_bn(x: float) -> str:
    if _is_missing(x):
        return "n/a"
    bn = x / 1e9
    return _num(bn, 1 if abs(bn) >= 10 else 2)


def _usd_bn_range(lo: float, hi: float) -> str:
    if _is_missing(lo) or _is_missing(hi):
        return "n/a"
    return f"{_usd_bn(lo)}{_DASH}{_usd_bn(hi)}"


def _iso3_name(code: str) -> str:
    # last resort when the bundle carries no name for a code
    country = pycountry.countries.get(alpha_3=code) if len(code) == 3 else None
    if country is None:
        return code
    return str(getattr(country, "common_name", None) or country.name)


def partner_names(bundle: ReportBundle) -> dict[str, str]:
    """Display names by partner code.

    ``report.json`` ``partner_names`` wins, then the names in ``opportunities.csv``, then
    pycountry's ISO 3166 name.

    Args:
        bundle: The report bundle.

    Returns:
        Names by code; ``REST`` is ``Other partners``. Codes without a name map to themselves
        through ``name_of``.
    """
    names: dict[str, str] = {}
    codes = {*bundle.forecasts["partner"].astype(str), *bundle.history["partner"].astype(str)}
    names.update({c: _iso3_name(c) for c in codes | set(bundle.dependence_set)})
    opp = bundle.opportunities
    names.update(zip(opp["partner"].astype(str), opp["name"].astype(str), strict=True))
    names.update({str(k): str(v) for k, v in (bundle.meta.get("partner_names") or {}).items()})
    names[REST] = REST_NAME
    return names


def _name_of(names: dict[str, str], code: str) -> str:
    return names.get(code, code)


def _dep_label(bundle: ReportBundle, names: dict[str, str]) -> str:
    return " + ".join(_name_of(names, c) for c in bundle.dependence_set)


def _years(bundle: ReportBundle) -> tuple[int, int]:
    conc = bundle.concentration
    t0 = int(conc.loc[conc["kind"] == "history", "year"].max())
    t1 = int(conc.loc[conc["kind"] == "forecast", "year"].max())
    return t0, t1


def _row(bundle: ReportBundle, year: int) -> pd.Series:
    conc = bundle.concentration
    return conc[conc["year"] == year].iloc[-1]


def _latest_origin(frame: pd.DataFrame, scenario: str) -> pd.DataFrame:
    rows = frame[frame["scenario"] == scenario]
    if rows.empty:
        return rows
    return rows[rows["origin"] == rows["origin"].max()]


def _centrals(row: pd.Series) -> tuple[tuple[float, float, float], bool]:
    """Central baseline, scenario and difference of a ``scenario_indices`` row, and their kind.

    The indices of the point forecasts (``<kind>_point``, True), or the path medians
    (``<kind>_p50``, False) in a bundle written before the point columns existed; never a mix.
    """
    points = [row.get(f"{kind}_point", np.nan) for kind in ("baseline", "scenario", "diff")]
    if not any(_is_missing(v) for v in points):
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
            f"{_num(abs(100.0 * (r['actual'] / base - 1.0)), 0)} % "
            f"{'below' if r['actual'] < base else 'above'} the baseline forecast "
            f"(USD {_usd_bn(base)} bn)"
            if base > 0
            else f"against a baseline forecast of USD {_usd_bn(base)} bn"
        )
        judged = (
            f"{pos} the scenario's {level} % interval (USD "
            f"{_usd_bn_range(r[f'scenario_lo_{level}'], r[f'scenario_hi_{level}'])} bn)"
            if pos != "without"
            else f"the scenario has no {level} % interval"
        )
        clauses.append(
            f"exports to {_name_of(names, str(r['partner']))} were USD {_usd_bn(r['actual'])} bn, "
            f"{vs_base} and {judged}"
        )
    text = f"{prefix}in {year} " + "; ".join(clauses) + "."
    return f"{text} {_ONE_YEAR}" if caveat else text


def _scenario_headline(bundle: ReportBundle, dep: str) -> list[str]:
    names = partner_names(bundle)
    lv = bundle.levels[0]
    out = []
    idx = bundle.scenario_indices
    for meta in bundle.scenarios:
        rows = _latest_origin(idx, str(meta["name"]))
        rows = rows[rows["index"] == "dependence_share"]
        title = str(meta.get("title") or meta["name"])
        if rows.empty:
            out.append(f"Scenario \u201c{title}\u201d: no results in this run.")
            continue
        last = rows[rows["year"] == rows["year"].max()].iloc[0]
        (base, scen, diff), is_point = _centrals(last)
        diff = 100.0 * diff
        lo = 100.0 * float(last.get(f"diff_lo_{lv}", np.nan))
        hi = 100.0 * float(last.get(f"diff_hi_{lv}", np.nan))
        digits = _digits_for(diff, lo, hi)
        if diff == 0:
            change = "the same as without it"
        else:
            way = "lower" if diff < 0 else "higher"
            change = f"{_num(abs(diff), digits)} percentage points {way} than without it"
        central = (
            "the index of the partner point forecasts"
            if is_point
            else "the median over the sample paths"
        )
        check = outcome_check(
            _latest_origin(bundle.scenario_partners, str(meta["name"])), names, lv
        )
        origin = int(last["origin"])
        # an ex ante scenario's baseline is a forecast from its origin, not the headline's
        ex_ante = f" forecast with data to {origin}" if origin < _years(bundle)[0] else ""
        out.append(
            f"Scenario \u201c{title}\u201d: the {dep} share in {int(last['year'])} would be "
            f"{fmt_pct(scen, digits)} against {fmt_pct(base, digits)} in the baseline{ex_ante}, "
            f"{change} ({central}; {lv} % interval of the difference over the sample paths "
            f"{_signed_range(lo, hi, digits)} points)." + (f" {check}" if check else "")
        )
    if not out:
        out.append("No scenarios were configured for this run.")
    return out


def _accuracy_sentences(bundle: ReportBundle) -> list[str]:
    acc = bundle.accuracy.set_index("model")
    row = acc.loc["Selected"] if "Selected" in acc.index else acc.iloc[0]
    period = bundle.meta.get("backtest_period")
    where = (
        f"Over {int(period[0])}{_DASH}{int(period[1])}"
        if isinstance(period, Sequence) and len(period) == 2
        else "In the rolling backtest"
    )
    out = []
    rel = float(row["relMASE"])
    if not _is_missing(rel):
        gap = 100.0 * abs(1.0 - rel)
        way = "less" if rel < 1 else "more"
        how = f"by {_num(gap, 0)} % {way} than" if round(gap) >= 1 else "about as much as"
        out.append(
            f"{where}, the forecasts missed {how} simply assuming "
            f"no change from the last year (relative error {_num(rel, 2)})."
        )
    coverage = bundle.meta.get("interval_coverage_backtest") or {}
    parts = [
        f"{lv} % intervals contained the outcome {fmt_pct(float(coverage[str(lv)]))} of the time"
        for lv in bundle.levels
        if str(lv) in coverage and not _is_missing(coverage[str(lv)])
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


@dataclass(frozen=True)
class _IndexTrack:
    """The index backtest in numbers: what the sentences and the table say."""

    summary: pd.DataFrame  # summarize_index_backtest output
    first: int  # first and last origin scored
    last: int
    steps: str  # the horizons scored: "1–5" (or "1")
    horizons: str  # "1–5 years ahead"
    mae: float  # share points, over every horizon
    mae_no_change: float
    bias: float
    n: int


def _index_track(bundle: ReportBundle) -> _IndexTrack | None:
    """The index backtest of the bundle, or None (older bundle, nothing scored)."""
    frame = bundle.index_backtest
    if frame.empty:
        return None
    summary = summarize_index_backtest(frame)
    if summary.empty:
        return None
    values = frame[["forecast", "actual", "no_change"]].apply(pd.to_numeric, errors="coerce")
    scored = frame[np.isfinite(values.to_numpy(dtype=float)).all(axis=1)]
    cutoffs = pd.to_numeric(scored["cutoff"]).astype(int)
    steps = [int(h) for h in summary["h"] if h != ALL]
    h0, h1 = min(steps), max(steps)
    steps_text = f"{h0}{_DASH}{h1}" if h0 != h1 else str(h0)
    ahead = f"{steps_text} year{'s' * (h0 != 1 or h1 != 1)} ahead"
    overall = summary.set_index("h").loc[ALL]
    return _IndexTrack(
        summary=summary,
        first=int(cutoffs.min()),
        last=int(cutoffs.max()),
        steps=steps_text,
        horizons=ahead,
        mae=float(overall["mae"]),
        mae_no_change=float(overall["mae_no_change"]),
        bias=float(overall["bias"]),
        n=int(overall["n"]),
    )


def _origins(track: _IndexTrack) -> str:
    if track.first == track.last:
        return f"origin {track.first}"
    return f"origins {track.first}{_DASH}{track.last}"


def _points(x: float) -> str:
    # index errors are small: two decimals keep forecast and no change apart
    return _num(x, 2)


# Index errors closer than this (relative to no change) are a tie: the origins overlap, so
# about ten independent windows cannot tell 2-3 % apart (BENCHMARKS.md: ~0.03 relMASE).
INDEX_TIE = 0.05


def _versus(x: float, y: float) -> str:
    """``better``, ``worse`` or ``tie`` (within :data:`INDEX_TIE`) of error x against y."""
    if y <= 0:
        return "tie" if x <= 0 else "worse"
    rel = (y - x) / y
    return "better" if rel >= INDEX_TIE else "worse" if rel <= -INDEX_TIE else "tie"


def _index_summary(bundle: ReportBundle, dep: str) -> list[str]:
    """One summary sentence on the index forecast's track record (none in older bundles)."""
    track = _index_track(bundle)
    if track is None:
        return []
    x, y = round(track.mae, 2), round(track.mae_no_change, 2)
    versus = {
        "better": f"better than assuming no change ({_points(track.mae_no_change)} points)",
        "worse": f"worse than assuming no change ({_points(track.mae_no_change)} points)",
        "tie": f"no better than assuming no change ({_points(track.mae_no_change)} points"
        + ("; too close to tell apart)" if x != y else ")"),
    }[_versus(x, y)]
    return [
        f"Track record of the {dep} share forecast: tested on {_origins(track)}, it missed "
        f"the actual share by {_points(track.mae)} percentage points on average "
        f"({track.horizons}), {versus}."
    ]


def index_backtest_section(bundle: ReportBundle) -> tuple[list[str], Table | None]:
    """The track record of the dependence share forecast: sentences and a table by horizon.

    The share is computed from each backtest origin's partner forecasts (the model chosen
    then from past errors only) and compared with the actual share and with "no change" (the
    share at the origin), in percentage points.

    Args:
        bundle: The report bundle.

    Returns:
        Sentences and the table by years ahead; no sentences and None when the bundle has no
        index backtest (bundles of older runs).
    """
    track = _index_track(bundle)
    if track is None:
        return [], None
    dep = _dep_label(bundle, partner_names(bundle))
    x, y = round(track.mae, 2), round(track.mae_no_change, 2)
    sentences = [
        f"Tested on {_origins(track)}, the {dep} share computed from the forecasts missed the "
        f"actual share by {_points(track.mae)} percentage points on average "
        f"({track.horizons}, {track.n} forecasts); assuming the share stays at its last value "
        f"missed by {_points(track.mae_no_change)} points."
    ]
    if x == y or y <= 0:
        sentences.append("The forecast of the share did not beat simply assuming no change.")
    else:
        rel = 100.0 * abs(x - y) / y
        rel_text = f"{_num(rel, 0 if rel >= 1 else 1)} %"
        if _versus(x, y) == "tie":
            n_origins = track.last - track.first + 1
            sentences.append(
                "The forecast of the share did not beat simply assuming no change: the "
                f"difference ({_points(abs(y - x))} points, {rel_text}) is too small to tell "
                f"apart on {n_origins} overlapping origins."
            )
        elif x < y:
            sentences.append(
                f"The forecast of the share beat this no-change benchmark: it missed by "
                f"{_points(y - x)} points ({rel_text}) less."
            )
        else:
            sentences.append(
                "The forecast of the share did not beat simply assuming no change: it missed "
                f"by {_points(x - y)} points ({rel_text}) more."
            )
    bias = round(track.bias, 2)
    if bias == 0:
        sentences.append(
            f"On average the forecast share was neither too high nor too low (forecast minus "
            f"actual {_signed(track.bias, 2)} points)."
        )
    else:
        sentences.append(
            f"On average the forecast share was {_points(abs(track.bias))} points too "
            f"{'low' if bias < 0 else 'high'}."
        )
    rows = [
        [
            track.steps if r["h"] == ALL else str(int(r["h"])),
            _points(r["mae"]),
            _points(r["mae_no_change"]),
            _signed(r["bias"], 2),
            str(int(r["n"])),
        ]
        for _, r in track.summary.iterrows()
    ]
    table = Table(
        columns=[
            "Years ahead",
            "Forecast error, points",
            "No-change error, points",
            "Bias, points",
            "Forecasts",
        ],
        rows=rows,
        numeric=[1, 2, 3, 4],
        note="Error: mean absolute difference from the actual share, in percentage points, "
        f"over the origins {track.first}{_DASH}{track.last}. Forecast: the share computed from "
        "the partner forecasts of the model chosen at each origin using only the data "
        "available then (\u201cSelected\u201d). No change: the share in the origin year. Bias: "
        "mean of forecast minus actual (negative: too low). All three shares are computed over "
        "the same partners.",
    )
    return sentences, table


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
    dep = _dep_label(bundle, names)
    lv = bundle.levels[0]
    t0, t1 = _years(bundle)
    now, end = _row(bundle, t0), _row(bundle, t1)
    out = [
        f"{dep} are forecast to take {fmt_pct(end['dependence_share'])} of "
        f"{bundle.meta['reporter_name']}\u2019s exports in {t1}, {lv} % interval "
        f"{fmt_pct_range(end[f'dependence_share_lo_{lv}'], end[f'dependence_share_hi_{lv}'])}; "
        f"{fmt_pct(now['dependence_share'])} in {t0}.",
        f"Export concentration (HHI) is forecast at {_num(end['hhi'], 3)} in {t1} ({lv} % "
        f"interval {_range(end[f'hhi_lo_{lv}'], end[f'hhi_hi_{lv}'], 3)}; {_num(now['hhi'], 3)} "
        f"in {t0}): as concentrated as selling equally to {_num(end['n_effective'], 1)} "
        f"partners ({_num(now['n_effective'], 1)} in {t0}).",
    ]
    p = end.get("p_dependence_below", np.nan)
    if not _is_missing(p):
        out.append(
            f"The probability that {dep} take less than "
            f"{fmt_pct(float(bundle.meta['dependence_threshold']), 0)} of exports in {t1} is "
            f"{fmt_pct(float(p), 0)}."
        )
    opp = bundle.opportunities.sort_values("rank")
    if not opp.empty and float(opp.iloc[0]["contribution_ddep"]) < 0:
        top = opp.iloc[0]
        out.append(
            f"Biggest diversification opportunity: {_name_of(names, str(top['partner']))}, forecast to grow "
            f"{_num(top['forecast_growth_pct'], 1)} % a year and to take "
            f"{fmt_pct(top['forecast_share'])} of exports in {t1} "
            f"({fmt_pct(top['current_share'])} in {t0}); this alone lowers the {dep} share by "
            f"{_num(-100.0 * top['contribution_ddep'], 1)} percentage points."
        )
    else:
        out.append(f"No partner outside {dep} is forecast to lower their share of exports.")
    out += _scenario_headline(bundle, dep)
    out += _index_summary(bundle, dep)
    out += _accuracy_sentences(bundle)
    out += data_update_sentences(bundle)
    out += provisional_sentences(bundle.meta, partner_names(bundle))  # reports/provisional.py
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
            f"partners; the other USD {_usd_bn(p['rest_usd'])} bn of the USD "
            f"{_usd_bn(p['total_usd'])} bn total (REST) is not yet assigned to partners, and those partners' values for "
            "that year are unknown, not zero."
        )
    return out


def index_table(bundle: ReportBundle) -> Table:
    """Dependence share, HHI and effective partners by year (history tail and forecasts).

    Args:
        bundle: The report bundle.

    Returns:
        One row per year from five years before the last history year to the horizon.
    """
    names = partner_names(bundle)
    lv = bundle.levels[0]
    t0, _ = _years(bundle)
    conc = bundle.concentration[bundle.concentration["year"] > t0 - 5]
    dep = _dep_label(bundle, names)
    rows = []
    for _, r in conc.iterrows():
        fc = r["kind"] == "forecast"

        def band(name: str, r: pd.Series = r, fc: bool = fc) -> str:
            if not fc:
                return ""
            lo, hi = r[f"{name}_lo_{lv}"], r[f"{name}_hi_{lv}"]
            if name == "dependence_share":
                return fmt_pct_range(lo, hi)
            return _range(lo, hi, 3 if name == "hhi" else 1)

        rows.append(
            [
                f"{int(r['year'])}{' forecast' if fc else ''}",
                fmt_pct(r["dependence_share"]),
                band("dependence_share"),
                _num(r["hhi"], 3),
                band("hhi"),
                _num(r["n_effective"], 1),
                band("n_effective"),
                fmt_pct(r["p_dependence_below"], 0) if fc else "",
            ]
        )
    threshold = fmt_pct(float(bundle.meta["dependence_threshold"]), 0)
    return Table(
        columns=[
            "Year",
            f"{dep} share",
            f"{lv} % interval",
            "HHI",
            f"{lv} % interval",
            "Effective partners",
            f"{lv} % interval",
            f"P(share < {threshold})",
        ],
        rows=rows,
        numeric=[1, 2, 3, 4, 5, 6, 7],
        note=(
            "Forecast years: the index of the partner forecasts; intervals and probabilities "
            "over the joint sample paths of all partners."
        ),
    )


def _partner_frame(bundle: ReportBundle) -> pd.DataFrame:
    """Per partner: exports in the last history year and forecast at the horizon."""
    lv = bundle.levels[0]
    t0, t1 = _years(bundle)
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
            _name_of(names, str(code)),
            _usd_bn(r["now"]),
            _usd_bn(r["end"]),
            _usd_bn_range(r["lo"], r["hi"]),
            fmt_pct(r["share_now"]),
            fmt_pct(r["share_end"]),
            _signed(r["growth"], 1),
        ]
        for code, r in frame.iterrows()
    ]


def _partner_columns(bundle: ReportBundle) -> list[str]:
    t0, t1 = _years(bundle)
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
    t0, t1 = _years(bundle)
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
    scope = (
        f"Partners that took at least {fmt_pct(MIN_SHARE_FAST)} of exports in {_years(bundle)[0]}"
    )
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
    t0, t1 = _years(bundle)
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
                    "name": _name_of(names, code),
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
    dep = _dep_label(bundle, names)
    t0, t1 = _years(bundle)
    opp = bundle.opportunities.sort_values("rank")
    opp = opp[opp["rank"].notna()].head(n)
    rows = [
        [
            str(int(r["rank"])),
            _name_of(names, str(r["partner"])),
            fmt_pct(r["current_share"]),
            fmt_pct(r["forecast_share"]),
            _signed(r["forecast_growth_pct"], 1),
            _signed(100.0 * r["contribution_ddep"], 2),
            _signed(r["contribution_dhhi"], 1),
            str(r["fta_status"]),
            _num(r["distance_km"], 0),
            "n/a" if _is_missing(r["income_group"]) else str(r["income_group"]),
            "n/a"
            if _is_missing(r.get("partner_gdp_growth_pct"))
            else _signed(r["partner_gdp_growth_pct"], 1),
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
            _without_column(table, "Trade agreement"),
            note=f"{table.note} {bundle.meta.get('reporter_name', 'The reporter')}\u2019s "
            "trade agreements are not in the data (the FTA table covers Korea only).",
        )
    return table


def _method_text(method: object) -> str:
    # scenario meta gives the method as a list of notes (or one text)
    if isinstance(method, (list, tuple)):
        return " ".join(str(m) for m in method)
    return str(method or "")


def _index_value(index: str, x: float) -> str:
    if index == "dependence_share":
        return fmt_pct(x)
    return _num(x, 3 if index == "hhi" else 1)


def _index_diff(index: str, x: float) -> str:
    if index == "dependence_share":
        return _signed(100.0 * x, _digits_for(100.0 * x)) + " points"
    return _signed(x, 4 if index == "hhi" else 2)


def _index_range(index: str, lo: float, hi: float) -> str:
    if index == "dependence_share":
        return fmt_pct_range(lo, hi)
    return _range(lo, hi, 3 if index == "hhi" else 1)


def _diff_range(index: str, lo: float, hi: float) -> str:
    if index == "dependence_share":
        return _signed_range(100.0 * lo, 100.0 * hi, _digits_for(100.0 * lo, 100.0 * hi))
    return _signed_range(lo, hi, 4 if index == "hhi" else 2)


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
    regs = [float(r) for r in regs if not _is_missing(r)]
    if _is_missing(ppml) or not regs:
        return None
    reg = float(np.mean(regs))
    gap = abs(float(ppml) - reg)
    if np.sign(ppml) == np.sign(reg) and gap <= max(5.0, 0.5 * max(abs(ppml), abs(reg))):
        return None
    return (
        f"For {name} in {int(row['year'])} the PPML gravity model and the regression models "
        f"disagree (PPML {_signed(ppml)} %, gradient boosting "
        f"{_signed(row.get('gbm_effect_pct', np.nan))} %, ridge "
        f"{_signed(row.get('ridge_effect_pct', np.nan))} %): treat the size of this effect as "
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


def scenario_sections(bundle: ReportBundle) -> list[dict[str, Any]]:
    """One block per scenario: what changes, partner effects, index effects, checks.

    Args:
        bundle: The report bundle.

    Returns:
        Dicts with ``title, description, method, changes, partners (Table), indices (Table),
        outcomes (Table or None), sentences``; an empty list without scenarios.
    """
    names = partner_names(bundle)
    dep = _dep_label(bundle, names)
    lv = bundle.levels[0]
    hi_lv = bundle.levels[-1]
    out = []
    for meta in bundle.scenarios:
        name = str(meta["name"])
        parts = _latest_origin(bundle.scenario_partners, name)
        if len(parts) > 12:  # keep the page short: the horizon year per partner
            parts = parts[parts["year"] == parts["year"].max()]
        p_rows, sentences, disagreeing = [], [], []
        horizon_year = parts["year"].max() if not parts.empty else None
        for _, r in parts.sort_values(["partner", "year"]).iterrows():
            partner = _name_of(names, str(r["partner"]))
            p_rows.append(
                [
                    partner,
                    str(int(r["year"])),
                    _usd_bn(r["baseline_mean"]),
                    _usd_bn(r["scenario_mean"]),
                    _signed(r["effect_pct"]),
                    _signed_range(r.get(f"effect_lo_{lv}"), r.get(f"effect_hi_{lv}")),
                    _signed_range(r.get(f"effect_lo_{hi_lv}"), r.get(f"effect_hi_{hi_lv}")),
                    _signed(r["ppml_effect_pct"]),
                    _signed(r["gbm_effect_pct"]),
                    _signed(r["ridge_effect_pct"]),
                    "not yet known" if _is_missing(r["actual"]) else _usd_bn(r["actual"]),
                ]
            )
            # judged at the horizon year: one sentence per partner, not one per year
            sentence = _disagreement(r, partner) if r["year"] == horizon_year else None
            if sentence:
                sentences.append(sentence)
                disagreeing.append(partner)
        if len(sentences) > 2:  # one sentence, not one per partner of a bloc agreement
            sentences = [_disagreements(disagreeing, horizon_year)]
        check = outcome_check(_latest_origin(bundle.scenario_partners, name), names, lv)
        if p_rows and not sentences:
            sentences.append(
                "The PPML gravity model and the regression models agree on the direction and "
                "rough size of the partner effects."
            )
        if check:
            sentences.append(check)
        idx = _latest_origin(bundle.scenario_indices, name)
        idx = idx[idx["year"] == idx["year"].max()] if not idx.empty else idx
        i_rows, point_rows = [], []
        for _, r in idx.iterrows():
            index = str(r["index"])
            (base, scen, diff), is_point = _centrals(r)
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
                    "not yet known"
                    if _is_missing(r["actual"])
                    else _index_value(index, r["actual"]),
                ]
            )
        known = bundle.scenario_indices[
            (bundle.scenario_indices["scenario"] == name)
            & bundle.scenario_indices["actual"].notna()
        ]
        # the last known year of each earlier origin keeps the table short
        known = known[known["year"] == known.groupby("origin")["year"].transform("max")]
        o_rows = [
            [
                str(int(r["origin"])),
                str(int(r["year"])),
                _INDEX_LABELS.get(str(r["index"]), str(r["index"])),
                _index_value(str(r["index"]), _centrals(r)[0][0]),
                _index_value(str(r["index"]), _centrals(r)[0][1]),
                _index_value(str(r["index"]), r["actual"]),
            ]
            for _, r in known.sort_values(["origin", "year", "index"]).iterrows()
        ]
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
            p_table = _without_column(p_table, "PPML point, %")
            p_table.columns[4] = "Effect, % (PPML)"  # the list is the table's own copy
        out.append(
            {
                "title": str(meta.get("title") or name),
                "description": str(meta.get("description") or ""),
                "method": _method_text(meta.get("method")),
                "changes": [str(c) for c in meta.get("changes") or []],
                "partners": p_table,
                "indices": Table(
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
                ),
                "outcomes": Table(
                    columns=["Origin", "Year", "Index", "Baseline", "Scenario", "Actual"],
                    rows=o_rows,
                    numeric=[3, 4, 5],
                )
                if o_rows
                else None,
                "sentences": sentences,
            }
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
        if not _is_missing(w):
            way = "less" if w < 1 else "more"
            sentences.append(
                f"Weighting partners by their share of exports, the forecasts missed by "
                f"{_num(100.0 * abs(1 - w), 0)} % {way} than assuming no change."
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
    rows = [[str(r["model"]), *[_num(r[c], 2) for c in cols]] for _, r in acc.iterrows()]
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
