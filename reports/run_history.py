"""Report sections on earlier runs: "What changed since the last run" and the track record.

Both come from the bundle (``report.json`` key ``run_history``, ``changes_since_last_run.csv``
and ``vintage_track.csv``, written by :mod:`flows.run_history`); nothing is typed in. A bundle
from before these files existed has no ``run_history`` key and gets neither section.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from exportcast.reports.bundle import ReportBundle
from exportcast.reports.formatting import Table, fmt_pct, partner_names

__all__ = ["MAX_REVISION_ROWS", "track_section", "what_changed_section"]

MAX_REVISION_ROWS = 10  # largest revisions shown; the CSV has them all
_MINUS = "\u2212"


def _missing(x: Any) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x))


def _num(x: Any, digits: int = 1, sign: bool = False) -> str:
    if _missing(x):
        return "n/a"
    text = f"{float(x):+,.{digits}f}" if sign else f"{float(x):,.{digits}f}"
    return text.replace("-", _MINUS)


def _bn(x: Any) -> str:
    return "n/a" if _missing(x) else _num(float(x) / 1e9, 1 if abs(float(x)) >= 1e10 else 2)


def _dep(bundle: ReportBundle) -> str:
    names = partner_names(bundle)
    return " + ".join(names.get(c, c) for c in bundle.dependence_set)


def _short(vintage: Any) -> str:
    return str(vintage)[:12]


def _headline_sentences(bundle: ReportBundle, meta: dict[str, Any]) -> list[str]:
    move, prev = meta.get("headline"), meta["previous"]
    if not move:
        return []
    dep = _dep(bundle)
    out = [
        f"Headline: the previous run forecast the {dep} share of exports at "
        f"{fmt_pct(move['previous_share'])} in {move['previous_year']} (data vintage "
        f"{_short(prev['data_vintage'])}); this run forecasts {fmt_pct(move['current_share'])} "
        f"in {move['current_year']} (data vintage {_short(bundle.meta['data_vintage'])}), "
        f"{_num(move['change_pp'], 1, sign=True)} percentage points."
    ]
    if move.get("same_year_share") is not None and move["current_year"] != move["previous_year"]:
        what = "the data now show" if move["same_year_kind"] == "history" else "this run forecasts"
        out.append(
            f"For {move['previous_year']} {what} {fmt_pct(move['same_year_share'])} "
            f"({_num(move['same_year_change_pp'], 1, sign=True)} points against the previous "
            "run's forecast)."
        )
    return out


def _revision_table(bundle: ReportBundle, revisions: pd.DataFrame) -> Table:
    names = partner_names(bundle)
    top = revisions.assign(_a=revisions["change_usd"].abs()).nlargest(MAX_REVISION_ROWS, "_a")
    rows = [
        [names.get(str(r.partner), str(r.partner)), str(int(r.year)), _bn(r.old_usd),
         _bn(r.new_usd), _num(float(r.change_usd) / 1e9, 2, sign=True),
         _num(r.change_pct, 1, sign=True)]
        for r in top.itertuples()
    ]  # fmt: skip
    note = (
        f"The {MAX_REVISION_ROWS} largest of {len(revisions)} revisions; all are in "
        "changes_since_last_run.csv."
        if len(revisions) > MAX_REVISION_ROWS
        else ""
    )
    return Table(
        columns=["Partner", "Year", "Before (USD bn)", "Now (USD bn)", "Change (USD bn)",
                 "Change (%)"],
        rows=rows, numeric=[1, 2, 3, 4, 5], note=note,
    )  # fmt: skip


def what_changed_section(bundle: ReportBundle) -> dict[str, Any] | None:
    """The section "What changed since the last run": sentences and the revision table.

    Returns:
        ``sentences`` and ``table`` (None without revisions); None for a bundle without the
        ``run_history`` key (older runs).
    """
    meta = bundle.meta.get("run_history")
    if meta is None:
        return None
    name = bundle.meta["reporter_name"]
    if meta.get("error"):
        return {"sentences": [f"Earlier runs could not be read from MLflow: {meta['error']}."],
                "table": None}  # fmt: skip
    prev = meta.get("previous")
    if prev is None:
        same = int(meta.get("n_same") or 0)
        if same:
            line = (f"No earlier run on another data vintage or config is on record for {name}: "
                    f"the {same} earlier run(s) had this run's data vintage and config, so there "
                    "is nothing to compare.")  # fmt: skip
        else:
            line = (f"This is the first run on record for {name}: MLflow has no earlier "
                    "finished run with forecasts.")  # fmt: skip
        return {"sentences": [line], "table": None}
    out = [
        f"Compared with the previous run {prev['run_id']} of {prev['run_date']} (data vintage "
        f"{_short(prev['data_vintage'])}, data to {prev['last_year']}); this run: data vintage "
        f"{_short(bundle.meta['data_vintage'])}, data to {bundle.meta['last_year']}."
    ]
    changes = bundle.changes_since_last_run
    table = None
    if meta.get("changes_compared"):
        years = changes.loc[changes["kind"] == "new year"]
        out.append(
            "New years of data: "
            + "; ".join(
                f"{int(r.year)} (USD {_bn(r.new_usd)} bn in all)" for r in years.itertuples()
            )
            + "."
            if len(years)
            else "No new years of data."
        )
        revisions = changes.loc[changes["kind"] == "revision"]
        pct, usd = meta["revision_pct"], meta["revision_usd"]
        added = int((changes["kind"] == "new").sum())
        removed = int((changes["kind"] == "removed").sum())
        count = f"{len(revisions)} partner-year(s)" if len(revisions) else "No partner-year"
        out.append(
            f"{count} revised by more than {_num(pct, 0)} % and more "
            f"than USD {_num(usd / 1e6, 0)} m"
            + (
                f"; {added} partner-year(s) added and {removed} gone in years both runs had"
                if added or removed
                else ""
            )
            + "."
        )
        table = _revision_table(bundle, revisions) if len(revisions) else None
    out += _headline_sentences(bundle, meta)
    out += [f"Note: {n}" for n in meta.get("notes") or []]
    return {"sentences": out, "table": table}


_MEASURE = {"total_usd": "Total exports", "dependence_share": "{dep} share",
            "partner_mape": "Partners (MAPE)"}  # fmt: skip


def _track_cells(r: Any) -> list[str]:
    if r.measure == "total_usd":
        return [f"USD {_bn(r.forecast)} bn", f"USD {_bn(r.actual)} bn",
                f"{_num(r.error, 1, sign=True)} %", f"{_num(r.no_change_error, 1, sign=True)} %"]  # fmt: skip
    if r.measure == "dependence_share":
        return [fmt_pct(r.forecast), fmt_pct(r.actual), f"{_num(r.error, 1, sign=True)} pp",
                f"{_num(r.no_change_error, 1, sign=True)} pp"]  # fmt: skip
    n = "" if _missing(r.n_partners) else f" ({int(r.n_partners)} partners)"
    return ["", "", f"{_num(r.error)} %{n}", f"{_num(r.no_change_error)} %"]


def track_section(bundle: ReportBundle) -> dict[str, Any] | None:
    """The track record across vintages: sentences, the table and the reading notes.

    Returns:
        ``sentences``, ``table`` (None when empty) and ``notes``; None for a bundle without
        the ``run_history`` key (older runs).
    """
    meta = bundle.meta.get("run_history")
    if meta is None:
        return None
    notes = [str(n) for n in meta.get("track_notes") or []]
    track = bundle.vintage_track
    if track.empty:
        line = ("No earlier run's forecast years have data published after it yet: the track "
                "record across vintages is empty.")  # fmt: skip
        return {"sentences": [line], "table": None, "notes": notes}
    dep = _dep(bundle)
    scored = track[["run_id", "year"]].drop_duplicates()

    def mean_abs(measure: str, column: str) -> float:
        return float(track.loc[track["measure"] == measure, column].astype(float).abs().mean())

    out = [
        f"{track['run_id'].nunique()} earlier run(s) scored on {len(scored)} forecast year(s) "
        "with data published after them. Total exports were missed by "
        f"{_num(mean_abs('total_usd', 'error'))} % on average (no change: "
        f"{_num(mean_abs('total_usd', 'no_change_error'))} %), the {dep} share by "
        f"{_num(mean_abs('dependence_share', 'error'))} points (no change: "
        f"{_num(mean_abs('dependence_share', 'no_change_error'))} points), partners by "
        f"{_num(mean_abs('partner_mape', 'error'))} % (MAPE; no change: "
        f"{_num(mean_abs('partner_mape', 'no_change_error'))} %)."
    ]
    order = {m: i for i, m in enumerate(_MEASURE)}
    track = track.assign(_m=track["measure"].map(order)).sort_values(
        ["run_date", "year", "_m"], ascending=[False, True, True], kind="mergesort"
    )
    rows = [
        [str(r.run_date), _short(r.data_vintage), str(int(r.last_year)), str(int(r.year)),
         _MEASURE.get(str(r.measure), str(r.measure)).format(dep=dep), *_track_cells(r)]
        for r in track.itertuples()
    ]  # fmt: skip
    table = Table(
        columns=["Run date", "Data vintage", "Last data year", "Forecast year", "Measure",
                 "Forecast", "Actual", "Error", "No-change error"],
        rows=rows, numeric=[2, 3, 5, 6, 7, 8],
        note="Error: forecast minus actual (% of the actual for totals, percentage points for "
        "the share); no change: the run's last data year carried forward. All in "
        "vintage_track.csv.",
    )  # fmt: skip
    return {"sentences": out, "table": table, "notes": notes}
