"""FTA effects and the ex ante track record on the committed snapshot (no raw files needed)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from exportcast.flows.io import CODE_ROOT
from exportcast.flows.snapshot import load_snapshot
from exportcast.models.fta_effects import effect_path, entries, fit_world_gravity, phase_weights
from exportcast.models.fta_track_record import (
    COLUMNS,
    agreement_outcomes,
    baseline_forecast,
    summarize,
    track_metrics,
    track_record,
)

ORIGIN = 2010


@pytest.fixture(scope="module")
def snap():
    names = ["dots_exports", "rtas", "fta", "kor_exports"]
    return load_snapshot(CODE_ROOT / "data" / "snapshot", names).tables


def _corrupt_after(tables: dict[str, pd.DataFrame], origin: int, seed: int = 1) -> dict:
    """Every value dated after ``origin`` replaced by noise (dates stay after the origin)."""
    rng = np.random.default_rng(seed)
    out = dict(tables)
    for name in ("dots_exports", "kor_exports"):
        t = tables[name].copy()
        late = t["year"] > origin
        t.loc[late, "export_usd"] = rng.lognormal(20, 3, late.sum())
        out[name] = t.drop(t.index[late & (rng.random(len(t)) < 0.3)])
    rtas = tables["rtas"].copy()
    late = rtas["start_date"].dt.year > origin
    rtas.loc[late, "start_date"] = pd.Timestamp(f"{origin + 1}-01-01") + pd.to_timedelta(
        rng.integers(0, 3000, late.sum()), unit="D"
    )
    rtas.loc[rtas["end_date"].dt.year > origin, "end_date"] = pd.Timestamp(f"{origin + 2}-06-30")
    out["rtas"] = rtas
    fta = tables["fta"].copy()
    late = fta["in_force_date"].dt.year > origin
    fta.loc[late, "in_force_date"] = pd.Timestamp(f"{origin + 3}-03-01")
    out["fta"] = fta
    return out


def _ex_ante(t: dict, origin: int):
    fit, _ = fit_world_gravity(t["dots_exports"], t["rtas"], t["fta"], last_year=origin, top_n=40)
    usa = t["kor_exports"].loc[t["kor_exports"]["partner"] == "USA"].set_index("year")
    base = baseline_forecast(usa["export_usd"], origin=origin, horizon=5)
    path = effect_path(fit, origin + 1, range(origin + 1, origin + 6), "first")
    return fit, base, path


def test_ex_ante_estimate_is_identical_when_later_data_are_corrupted(snap):
    fit, base, path = _ex_ante(snap, ORIGIN)
    bad = _corrupt_after(snap, ORIGIN)
    assert not bad["dots_exports"].equals(snap["dots_exports"])
    fit2, base2, path2 = _ex_ante(bad, ORIGIN)
    pd.testing.assert_series_equal(fit.coef, fit2.coef, check_exact=True)
    pd.testing.assert_frame_equal(fit.cov, fit2.cov, check_exact=True)
    pd.testing.assert_frame_equal(base, base2, check_exact=True)
    pd.testing.assert_frame_equal(path, path2, check_exact=True)
    # the check can fail: touching the origin year itself moves the estimate
    touched = dict(snap)
    dots = snap["dots_exports"].copy()
    at = dots["year"] == ORIGIN
    dots.loc[at, "export_usd"] *= np.random.default_rng(0).lognormal(0, 0.5, at.sum())
    touched["dots_exports"] = dots
    fit3, _, _ = _ex_ante(touched, ORIGIN)
    assert not np.allclose(fit.coef.to_numpy(), fit3.coef.to_numpy())


def test_phase_weights_step_in():
    assert phase_weights(-1, "first") == {}
    assert phase_weights(0, "first") == {"rta": 1.0}
    assert phase_weights(4, "first") == {"rta": 1.0, "rta_lag4": 1.0}
    assert phase_weights(9, "first") == {"rta": 1.0, "rta_lag4": 1.0, "rta_lag8": 1.0}
    assert phase_weights(5, "deepening") == {"deep": 1.0, "deep_lag4": 1.0}
    with pytest.raises(ValueError, match="kind"):
        phase_weights(1, "other")


def test_entries_classify_korea_agreements(snap):
    e = entries(snap["fta"], since=2004, until=2023).set_index(["agreement", "partner"])
    assert e.loc[("KCFTA", "CHL"), "kind"] == "first"
    assert e.loc[("AKFTA", "SGP"), "kind"] == "deepening"  # KSFTA since 2006
    assert e.loc[("KVFTA", "VNM"), "kind"] == "deepening"  # on top of AKFTA
    assert e.loc[("KCNFTA", "CHN"), "kind"] == "first"  # APTA is partial scope
    assert e.loc[("KKFTA", "KHM"), "kind"] == "deepening"
    assert ("KUKFTA", "GBR") not in e.index  # replaces the EU agreement, not a new one


def test_track_record_rows_are_consistent(snap):
    fta = snap["fta"].loc[snap["fta"]["agreement_short"].isin(["KCFTA", "KORUS"])]
    rows, fits = track_record(
        snap["kor_exports"], snap["dots_exports"], snap["rtas"], fta, top_n=40, horizon=3
    )
    assert list(rows.columns) == COLUMNS
    assert set(rows["agreement"]) == {"KCFTA", "KORUS"}
    assert sorted(fits) == [2003, 2011]
    assert (rows["h"] == rows["year"] - rows["origin"]).all() and rows["h"].between(1, 3).all()
    assert (rows["effect_lo_80"] <= rows["effect_pct"]).all()
    assert (rows["pred_lo_80"] <= rows["effect_lo_80"]).all()
    assert (rows["pred_hi_80"] >= rows["effect_hi_80"]).all()
    usa = rows.loc[rows["partner"] == "USA"].iloc[0]
    assert usa["outcome_effect_pct"] == pytest.approx(100 * (usa["actual"] / usa["baseline"] - 1))
    summary = summarize(rows)
    assert list(summary["level"]) == ["partner-year", "agreement-year"]
    assert summary["n"].tolist() == [6, 6]


def hand_rows() -> pd.DataFrame:
    """Five partner-years of two agreements with answers worked out by hand.

    Agreement A (first FTA, partners P1 and P2, entry 2010, origin 2009), years 2010 and 2011;
    agreement B (deepening, P3, entry 2015), year 2015.
    """
    cols = ["agreement", "partner", "kind", "entry_year", "year", "effect_pct", "effect_lo_80",
            "effect_hi_80", "pred_lo_80", "pred_hi_80", "baseline", "actual"]  # fmt: skip
    data = [
        ("A", "P1", "first", 2010, 2010, 10.0, 5.0, 15.0, -20.0, 40.0, 100.0, 120.0),
        ("A", "P2", "first", 2010, 2010, 10.0, 5.0, 15.0, -20.0, 40.0, 100.0, 95.0),
        ("A", "P1", "first", 2010, 2011, 10.0, 5.0, 15.0, -30.0, 50.0, 100.0, 112.0),
        ("A", "P2", "first", 2010, 2011, 10.0, 5.0, 15.0, -30.0, 50.0, 300.0, 240.0),
        ("B", "P3", "deepening", 2015, 2015, -5.0, -8.0, -2.0, -40.0, 30.0, 50.0, 100.0),
    ]
    rows = pd.DataFrame(data, columns=cols)
    rows["origin"] = rows["entry_year"] - 1
    rows["fit_last_year"] = rows["origin"]
    rows["h"] = rows["year"] - rows["origin"]
    rows["outcome_effect_pct"] = 100 * (rows["actual"] / rows["baseline"] - 1)
    # outcomes 20, -5, 12, -20, 100: inside the effect band only the third
    rows["inside_80"] = [False, False, True, False, False]
    rows["inside_pred_80"] = [True, True, True, True, False]
    return rows[COLUMNS]


def test_summarize_on_a_hand_made_frame():
    s = summarize(hand_rows()).set_index("level")
    p = s.loc["partner-year"]
    # |outcome - effect| = 10, 15, 2, 30, 105; |outcome| = 20, 5, 12, 20, 100
    assert p["n"] == 5
    assert p["mean_abs_err_effect"] == pytest.approx(32.4)
    assert p["median_abs_err_effect"] == pytest.approx(15.0)
    assert p["mean_abs_err_no_effect"] == pytest.approx(31.4)
    assert p["median_abs_err_no_effect"] == pytest.approx(20.0)
    assert p["share_inside_80"] == pytest.approx(0.2)
    assert p["share_inside_pred_80"] == pytest.approx(0.8)
    # pooled: A 2010 outcome 215/200 -> +7.5 %, A 2011 352/400 -> -12 %, B 2015 +100 %;
    # effects 10, 10, -5; A 2011's predictive band -30..50 (baseline-weighted)
    a = s.loc["agreement-year"]
    assert a["n"] == 3
    assert a["mean_abs_err_effect"] == pytest.approx((2.5 + 22 + 105) / 3)
    assert a["median_abs_err_effect"] == pytest.approx(22.0)
    assert a["mean_abs_err_no_effect"] == pytest.approx((7.5 + 12 + 100) / 3)
    assert a["median_abs_err_no_effect"] == pytest.approx(12.0)
    assert a["share_inside_80"] == pytest.approx(1 / 3)  # only A 2010 (7.5 in 5..15)
    assert a["share_inside_pred_80"] == pytest.approx(2 / 3)


def test_track_metrics_are_the_summary():
    m = track_metrics(hand_rows())
    assert m["fta_track_median_abs_error_pp"] == pytest.approx(15.0)
    assert m["fta_track_median_abs_error_no_effect_pp"] == pytest.approx(20.0)
    assert m["fta_track_mean_abs_error_pp"] == pytest.approx(32.4)
    assert m["fta_track_inside_80_effect"] == pytest.approx(0.2)
    assert m["fta_track_inside_80_predictive"] == pytest.approx(0.8)
    assert m["fta_track_agreement_median_abs_error_pp"] == pytest.approx(22.0)
    assert m["fta_track_agreement_inside_80_predictive"] == pytest.approx(2 / 3)
    assert m["fta_track_n"] == 5 and m["fta_track_agreement_n"] == 3
    assert track_metrics(pd.DataFrame(columns=COLUMNS)) == {}


def test_agreement_outcomes_take_the_last_year_pooled():
    per = agreement_outcomes(hand_rows()).set_index("agreement")
    assert list(per.index) == ["A", "B"]
    a, b = per.loc["A"], per.loc["B"]
    assert (a["year"], a["h"], a["partners"], a["kind"]) == (2011, 2, "P1;P2", "first")
    assert a["effect_pct"] == pytest.approx(10.0)
    assert a["outcome_effect_pct"] == pytest.approx(-12.0)
    assert (a["pred_lo_80"], a["pred_hi_80"]) == (pytest.approx(-30.0), pytest.approx(50.0))
    assert not a["inside_80"] and a["inside_pred_80"]
    assert (a["years"], a["years_inside_pred_80"]) == (2, 2)
    assert (b["year"], b["h"], b["kind"], b["years"], b["years_inside_pred_80"]) == (
        2015, 1, "deepening", 1, 0,
    )  # fmt: skip
    assert b["outcome_effect_pct"] == pytest.approx(100.0)
