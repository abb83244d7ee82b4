"""The report's FTA appendix: the ex ante track record and the old vs new scenario effect.

Two blocks of the scenario appendix (docs/fta-gravity.md), built only from the bundle:

* :func:`track_record_section`: the ex ante track record of the FTA effect on the reporter's
  past agreements (``fta_track_record.csv``): summary sentences from
  :func:`models.fta_track_record.summarize` (the same function MLflow and
  ``benchmarks/fta_track_record.py`` use), one table row per agreement
  (:func:`models.fta_track_record.agreement_outcomes`) and one chart. ``None`` when the bundle
  has no track record (older bundles, runs without scenarios).
* :func:`effect_comparison`: for scenarios priced by the world gravity, the old partner-panel
  effect beside the new one, once, and which agreements identify each. ``None`` without such
  scenarios.

Everything returned is plain text, :class:`reports.formatting.Table` or a PNG data URI; the
template escapes the text.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from exportcast.models.fta_track_record import agreement_outcomes, summarize, z80
from exportcast.reports.bundle import ReportBundle
from exportcast.reports.charts import memoised, new_figure, png_data_uri
from exportcast.reports.formatting import Table, partner_names

__all__ = ["effect_comparison", "track_record_chart", "track_record_section"]

_MINUS = "\u2212"
_DASH = "\u2013"
_BLUE, _ORANGE, _GREY = "#1f4e79", "#c55a11", "#595959"


# scenario basis -> (the partner-panel coefficient, its label, the world model's term)
_OLD_TERM = {
    "any_fta": ("fta_in_force", "any-FTA", "rta"),
    "additional_agreement": ("extra_agreements", "extra-agreement", "deep"),
}
_KIND_LABEL = {"first": "first FTA", "deepening": "deepening of an FTA in force"}


def _signed(x: float, digits: int = 1) -> str:
    if x is None or pd.isna(x):
        return "n/a"
    return f"{float(x):+.{digits}f}".replace("-", _MINUS)


def _num(x: float, digits: int = 1) -> str:
    return f"{float(x):.{digits}f}".replace("-", _MINUS)


def _band(lo: float, hi: float) -> str:
    return f"{_signed(lo)} to {_signed(hi)}"


def _share(x: float) -> str:
    return f"{100 * float(x):.0f} %"


def _partners(codes: str, names: dict[str, str], most: int = 3) -> str:
    items = [c for c in str(codes).split(";") if c]
    if len(items) > most:
        return f"{len(items)} partners"
    return ", ".join(names.get(c, c) for c in items)


def _label(row: pd.Series) -> str:
    return f"{row['agreement']} {int(row['entry_year'])}"


def track_record_sentences(rows: pd.DataFrame, reporter: str) -> list[str]:
    """The track record in plain words (every number from :func:`summarize`).

    Args:
        rows: ``fta_track_record.csv`` (:data:`models.fta_track_record.COLUMNS`).
        reporter: Reporter's display name.

    Returns:
        Three sentences: what was scored, the errors against assuming no effect, the coverage
        of the two 80 % bands.
    """
    s = summarize(rows).set_index("level")
    p, a = s.loc["partner-year"], s.loc["agreement-year"]
    entries = rows[["agreement", "partner", "entry_year"]].drop_duplicates()
    first, last = int(entries["entry_year"].min()), int(entries["entry_year"].max())
    better = p["median_abs_err_effect"] < p["median_abs_err_no_effect"]
    return [
        f"Track record: for {len(entries)} entries (agreement and partner) of "
        f"{rows['agreement'].nunique()} of {reporter}'s trade agreements that entered into "
        f"force {first}{_DASH}{last}, the FTA effect was estimated with data up to the year "
        "before entry only, then compared with what happened in the first 1 to 5 years: "
        "exports against the no-agreement forecast made at the same time "
        f"({int(p['n'])} partner-years).",
        f"The ex ante effect missed the outcome by a median of "
        f"{_num(p['median_abs_err_effect'])} percentage points (mean "
        f"{_num(p['mean_abs_err_effect'])}); assuming no effect at all missed it by a median of "
        f"{_num(p['median_abs_err_no_effect'])} points (mean "
        f"{_num(p['mean_abs_err_no_effect'])}), so the estimate did "
        + ("better than" if better else "no better than")
        + " assuming no effect. Pooled by agreement and year "
        f"({int(a['n'])} agreement-years): a median of {_num(a['median_abs_err_effect'])} "
        f"against {_num(a['median_abs_err_no_effect'])} points.",
        f"The outcome fell inside the 80 % band of the effect alone in "
        f"{_share(p['share_inside_80'])} of partner-years ({_share(a['share_inside_80'])} of "
        "agreement-years) and inside the 80 % predictive band, which adds the uncertainty of "
        f"the no-agreement forecast, in {_share(p['share_inside_pred_80'])} "
        f"({_share(a['share_inside_pred_80'])}); a well calibrated 80 % band holds about 80 % "
        "of outcomes. What happened to exports after an agreement is mostly the forecast error "
        "of exports, not the agreement.",
    ]


def _track_table(per: pd.DataFrame, names: dict[str, str]) -> Table:
    rows = []
    for _, r in per.iterrows():
        kind = {"first": "", "deepening": " (deepening)"}.get(r["kind"], " (first and deepening)")
        rows.append(
            [
                f"{r['agreement']}{kind}",
                _partners(r["partners"], names),
                str(int(r["entry_year"])),
                str(int(r["year"])),
                f"{_signed(r['effect_pct'])} ({_band(r['effect_lo_80'], r['effect_hi_80'])})",
                _band(r["pred_lo_80"], r["pred_hi_80"]),
                _signed(r["outcome_effect_pct"]),
                "yes" if bool(r["inside_80"]) else "no",
                "yes" if bool(r["inside_pred_80"]) else "no",
                f"{int(r['years_inside_pred_80'])} of {int(r['years'])}",
            ]
        )
    return Table(
        columns=[
            "Agreement",
            "Partner(s)",
            "Entry year",
            "Outcome year",
            "Ex ante effect, % (80 % band)",
            "Predictive 80 % band, %",
            "Outcome effect, %",
            "Inside effect band",
            "Inside predictive band",
            "Years inside predictive band",
        ],
        rows=rows,
        numeric=[2, 3, 4, 5, 6],
        note="One row per agreement and entry year, partners pooled (exports summed, effects "
        "weighted by the baseline), in the last outcome year scored (at most 5 years after the "
        "year before entry). Outcome effect: actual exports against the no-agreement forecast "
        "made the year before entry. Predictive band: the effect's band plus the uncertainty "
        "of that forecast. Full rows per partner and year: fta_track_record.csv.",
    )


@memoised
def track_record_chart(per: pd.DataFrame) -> str:
    """Ex ante effect with its 80 % bands against the outcome effect, one line per agreement.

    Args:
        per: :func:`models.fta_track_record.agreement_outcomes`.

    Returns:
        The chart as a PNG data URI.
    """
    fig = new_figure(figsize=(7.2, 0.26 * max(len(per), 4) + 0.9))
    ax = fig.add_subplot()
    y = np.arange(len(per))[::-1]
    ax.hlines(y, per["pred_lo_80"], per["pred_hi_80"], color=_ORANGE, alpha=0.3, linewidth=6,
              label="80 % predictive band")  # fmt: skip
    ax.hlines(y, per["effect_lo_80"], per["effect_hi_80"], color=_ORANGE, linewidth=2.5,
              label="80 % band of the effect")  # fmt: skip
    ax.plot(per["effect_pct"], y, "|", color=_ORANGE, markersize=10, label="ex ante effect")
    ax.plot(per["outcome_effect_pct"], y, "o", color=_BLUE, markersize=4, label="outcome effect")
    ax.set_yticks(y, labels=[_label(r) for _, r in per.iterrows()])
    ax.axvline(0, color=_GREY, linewidth=0.8)
    ax.set_title("Ex ante FTA effect and outcome, last year scored", loc="left", fontsize=10,
                 color="#222222")  # fmt: skip
    ax.set_xlabel("% against the no-agreement forecast", fontsize=8, color=_GREY)
    ax.tick_params(labelsize=7, colors=_GREY)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.grid(axis="x", color="#dddddd", linewidth=0.6)
    ax.legend(fontsize=7, frameon=False, loc="best")
    return png_data_uri(fig)


def track_record_section(bundle: ReportBundle) -> dict[str, Any] | None:
    """The track record block: ``sentences``, ``table`` and ``chart``; None without the file.

    Args:
        bundle: The report bundle.

    Returns:
        The block, or None when ``fta_track_record.csv`` is absent or empty.
    """
    rows = bundle.fta_track_record
    if rows.empty:
        return None
    per = agreement_outcomes(rows)
    reporter = str(bundle.meta.get("reporter_name") or bundle.meta["reporter"])
    return {
        "sentences": track_record_sentences(rows, reporter),
        "table": _track_table(per, partner_names(bundle)),
        "chart": track_record_chart(per),
    }


def _old_effect(meta: dict[str, Any], basis: str) -> str:
    name, label, _ = _OLD_TERM[basis]
    c = (meta.get("coefficients") or {}).get(name)
    if not isinstance(c, dict) or "coef" not in c or "se" not in c:
        return "n/a"
    b, se = float(c["coef"]), float(c["se"])
    lo, hi = 100 * np.expm1(b - z80() * se), 100 * np.expm1(b + z80() * se)
    return f"{_signed(100 * np.expm1(b))} ({_band(lo, hi)}); {label} {_signed(b, 3)}"


def _new_effect(parts: pd.DataFrame, partner: str, year: int, lv: int) -> str:
    rows = parts[(parts["partner"] == partner) & (parts["year"] >= year)].sort_values("year")
    if rows.empty:
        return "n/a"
    out = []
    for _, r in rows.iloc[[0, -1]].drop_duplicates("year").iterrows():
        band = _band(r[f"effect_lo_{lv}"], r[f"effect_hi_{lv}"])
        out.append(f"{int(r['year'])}: {_signed(r['effect_pct'])} ({band})")
    return "; ".join(out)


def _entries_text(items: list[dict[str, Any]], names: dict[str, str]) -> str:
    if not items:
        return "none"
    return ", ".join(
        f"{e['agreement']} {e['entry_year']} ({_partners(';'.join(e['partners']), names)})"
        for e in items
    )


def _identification(meta: dict[str, Any], names: dict[str, str], reporter: str) -> list[str]:
    """Which agreements identify the old and the new coefficients of one scenario's fits."""
    src = meta["effect_sources"]
    y0, y1 = src["partner_panel_years"]
    kor = src["korea_entries"]
    wy0, wy1 = src["world_years"]
    pairs, wkor = src["world_pairs"], src["world_korea_entries"]
    terms = meta["world_gravity"]["coefficients"]
    coef = {
        t: f"{t} {_signed(v['coef'], 3)} [{_signed(v['lo_95'], 3)}, {_signed(v['hi_95'], 3)}]"
        for t, v in terms.items()
    }
    return [
        f"Old model for {meta.get('title') or meta['name']} (partner-panel PPML, {reporter}'s "
        f"exports {y0}{_DASH}{y1}): "
        f"the any-FTA coefficient is identified by {reporter}'s {len(kor['first'])} first FTAs "
        f"entering in those years ({_entries_text(kor['first'], names)}); the extra-agreement "
        f"coefficient by its {len(kor['deepening'])} deepenings of an FTA already in force "
        f"({_entries_text(kor['deepening'], names)}).",
        f"New model (world structural gravity, DOTS {wy0}{_DASH}{wy1}): "
        f"{coef.get('rta', 'rta')} (95 %) is identified by the {pairs['first']:,} country pairs "
        f"(each direction counted) whose agreement status changed within those years, "
        f"{coef.get('deep', 'deep')} by the {pairs['deepening']:,} pairs whose number of "
        f"agreements changed between one and two or more; {reporter}'s among them: first FTAs "
        f"{_entries_text(wkor['first'], names)}; deepenings "
        f"{_entries_text(wkor['deepening'], names)}.",
    ]


def effect_comparison(bundle: ReportBundle) -> dict[str, Any] | None:
    """The old (partner-panel) and new (world gravity) FTA effect side by side, once.

    Args:
        bundle: The report bundle.

    Returns:
        ``table`` (one row per FTA change of each world-priced scenario) and ``sentences``
        (which agreements identify each model's effect, once per distinct fit); None when no
        scenario of the bundle is priced by the world gravity or its meta predates
        ``effect_sources``.
    """
    names = partner_names(bundle)
    reporter = str(bundle.meta.get("reporter_name") or bundle.meta["reporter"])
    lv = bundle.levels[0]
    rows, sentences = [], []
    for meta in bundle.scenarios:
        if "world_gravity" not in meta or "effect_sources" not in meta:
            continue
        sp = bundle.scenario_partners
        parts = sp[(sp["scenario"] == meta["name"]) & (sp["origin"] == int(meta["origin"]))]
        for change in meta["effect_sources"]["changes"]:
            basis, kind = change["basis"], change["kind"]
            if basis not in _OLD_TERM or kind is None:
                continue
            partner = str(change["partner"])
            rows.append(
                [
                    str(meta.get("title") or meta["name"]),
                    names.get(partner, partner),
                    f"{_KIND_LABEL[kind]} from {change['year']}",
                    _old_effect(meta, basis),
                    _new_effect(parts, partner, int(change["year"]), lv),
                ]
            )
        sentences += _identification(meta, names, reporter)
    if not rows:
        return None
    table = Table(
        columns=[
            "Scenario",
            "Partner",
            "Priced as",
            "Old: partner-panel PPML, % (80 %); coefficient",
            f"New: world gravity, % ({lv} %), first and last year",
        ],
        rows=rows,
        numeric=[],
        note="Old: the partner-panel PPML of earlier versions, fitted on the same data up to "
        "the origin; it no longer moves the scenario paths. New: the phased world gravity "
        "effect that prices the paths (median of the sample paths); it can step up 4 years "
        "after entry.",
    )
    return {"table": table, "sentences": list(dict.fromkeys(sentences))}
