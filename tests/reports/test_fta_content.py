"""The FTA appendix: the ex ante track record and the old vs new scenario effect.

Present when the bundle has ``fta_track_record.csv`` / world-priced scenarios, absent otherwise
(older bundles still build)."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest

from exportcast.models.fta_track_record import COLUMNS, summarize
from exportcast.reports import build_report, load_bundle
from exportcast.reports.build import render_html
from exportcast.reports.fta_content import effect_comparison, track_record_section

UAE = "uae_cepa"


def track_rows() -> pd.DataFrame:
    """A small track record: KCFTA (Chile, first FTA) and AKFTA (five partners), 3 years each."""
    rng = np.random.default_rng(3)
    rows = []
    plan = [("KCFTA", "CHL", "first", 2004)] + [
        ("AKFTA", p, "first", 2007) for p in ("IDN", "MYS", "PHL", "THA")
    ]
    plan.append(("AKFTA", "SGP", "deepening", 2007))
    for agreement, partner, kind, entry in plan:
        for h in (1, 2, 3):
            eff = -6.0 if kind == "first" else 5.0
            base = float(rng.uniform(1e9, 5e9))
            actual = base * float(rng.lognormal(0.1, 0.3))
            rows.append(
                {
                    "agreement": agreement, "partner": partner, "kind": kind,
                    "entry_year": entry, "origin": entry - 1, "fit_last_year": entry - 1,
                    "year": entry - 1 + h, "h": h, "effect_pct": eff,
                    "effect_lo_80": eff - 3, "effect_hi_80": eff + 3,
                    "pred_lo_80": eff - 30, "pred_hi_80": eff + 35,
                    "baseline": base, "actual": actual,
                    "outcome_effect_pct": 100 * (actual / base - 1),
                }
            )  # fmt: skip
    out = pd.DataFrame(rows)
    out["inside_80"] = out["outcome_effect_pct"].between(out["effect_lo_80"], out["effect_hi_80"])
    out["inside_pred_80"] = out["outcome_effect_pct"].between(out["pred_lo_80"], out["pred_hi_80"])
    return out[COLUMNS]


WORLD = {
    "world_gravity": {
        "coefficients": {
            "rta": {"coef": 0.055, "se": 0.026, "lo_95": 0.004, "hi_95": 0.105},
            "deep": {"coef": -0.009, "se": 0.02, "lo_95": -0.048, "hi_95": 0.030},
        },
        "n_obs": 66068,
        "n_pairs": 9600,
        "years": [1992, 2020],
    },
    "coefficients": {"fta_in_force": {"coef": 0.21, "se": 0.1}},
}


def _sources(year: int) -> dict:
    change = {"partner": "ARE", "agreement": None, "year": year, "basis": "any_fta"}
    change["kind"] = "first"
    return {
        "changes": [change],
        "korea_entries": {
            "first": [{"agreement": "KCFTA", "entry_year": 2004, "partners": ["CHL"]}],
            "deepening": [{"agreement": "KVFTA", "entry_year": 2015, "partners": ["VNM"]}],
        },
        "partner_panel_years": [1995, year - 1],
        "world_years": [1992, 2020],
        "world_pairs": {"first": 1234, "deepening": 567},
        "world_korea_entries": {
            "first": [{"agreement": "KORUS", "entry_year": 2012, "partners": ["USA"]}],
            "deepening": [{"agreement": "KVFTA", "entry_year": 2015, "partners": ["VNM"]}],
        },
    }


@pytest.fixture(scope="module")
def fta_bundle_dir(tmp_path_factory, bundle_dir):
    """The synthetic bundle plus a track record and a world-priced UAE scenario."""
    folder = tmp_path_factory.mktemp("fta-bundle") / "bundle"
    shutil.copytree(bundle_dir, folder)
    track_rows().to_csv(folder / "fta_track_record.csv", index=False)
    meta = json.loads((folder / "report.json").read_text("utf-8"))
    for s in meta["scenarios"]:
        if s["name"] == UAE:
            s.update(WORLD, effect_sources=_sources(int(s["origin"]) + 1))
    (folder / "report.json").write_text(json.dumps(meta), "utf-8")
    return folder


def test_track_record_section_says_the_summary_numbers(fta_bundle_dir):
    bundle = load_bundle(fta_bundle_dir)
    assert len(bundle.fta_track_record) == 18
    section = track_record_section(bundle)
    s = summarize(track_rows()).set_index("level").loc["partner-year"]
    text = " ".join(section["sentences"])
    assert "6 entries (agreement and partner) of 2 of Korea's" in text
    assert f"median of {s['median_abs_err_effect']:.1f} percentage points" in text
    assert f"missed it by a median of {s['median_abs_err_no_effect']:.1f} points" in text
    assert f"in {100 * s['share_inside_pred_80']:.0f} % (" in text
    better = s["median_abs_err_effect"] < s["median_abs_err_no_effect"]
    assert ("did better than" in text) is bool(better)
    table = section["table"]
    assert [r[0] for r in table.rows] == ["KCFTA", "AKFTA (first and deepening)"]
    assert table.rows[0][1] == "Chile" and table.rows[1][1] == "5 partners"
    assert table.rows[0][2:4] == ["2004", "2006"]  # last outcome year scored: h = 3
    assert table.rows[0][4] == "\u22126.0 (\u22129.0 to \u22123.0)"
    assert table.rows[0][-1].endswith("of 3")
    assert section["chart"].startswith("data:image/png;base64,")


def test_effect_comparison_shows_old_and_new_once(fta_bundle_dir):
    bundle = load_bundle(fta_bundle_dir)
    cmp = effect_comparison(bundle)
    (row,) = cmp["table"].rows  # one world-priced scenario, one change
    origin = int(next(s["origin"] for s in bundle.scenarios if s["name"] == UAE))
    assert row[2] == f"first FTA from {origin + 1}"
    # old: exp(0.21) - 1 = +23.4 %, 80 %: exp(0.21 -/+ 1.2816 * 0.1) - 1
    assert row[3] == "+23.4 (+8.5 to +40.2); any-FTA +0.210"
    # new: the scenario's partner rows (conftest: 12 % * min(h, 3) / 3, 80 % band +/- 4)
    assert row[4] == f"{origin + 1}: +4.0 (+0.0 to +8.0); {origin + 5}: +12.0 (+8.0 to +16.0)"
    old, new = cmp["sentences"]
    assert "KCFTA 2004 (Chile)" in old and "KVFTA 2015 (Viet Nam)" in old
    assert "1,234 country pairs" in new and "rta +0.055 [+0.004, +0.105]" in new
    assert "KORUS 2012 (United States)" in new


def test_report_has_the_fta_appendix_and_older_bundles_build_without(
    fta_bundle_dir, bundle_dir, tmp_path
):
    files = build_report(fta_bundle_dir, tmp_path, pdf=False)
    html = files.html.read_text("utf-8")
    appendix = html[html.index('<section id="appendix">') :]
    assert appendix.count('<h3 id="fta-track-record">') == 1
    assert appendix.count('<h3 id="fta-effects">') == 1
    assert "Inside predictive band" in appendix and "KCFTA" in appendix
    assert appendix.count("data:image/png;base64,") == 1  # the track record chart
    # the synthetic bundle without the file and without world-priced scenarios
    old = load_bundle(bundle_dir)
    assert old.fta_track_record.empty
    assert track_record_section(old) is None and effect_comparison(old) is None
    html = render_html(old)
    assert "fta-track-record" not in html and "fta-effects" not in html
