"""FTA effects and the ex ante track record on the committed snapshot (no raw files needed)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from flows.io import PROJECT_ROOT
from flows.snapshot import load_snapshot
from models.fta_effects import effect_path, entries, fit_world_gravity, phase_weights
from models.fta_track_record import COLUMNS, baseline_forecast, summarize, track_record

ORIGIN = 2010


@pytest.fixture(scope="module")
def snap():
    names = ["dots_exports", "rtas", "fta", "kor_exports"]
    return load_snapshot(PROJECT_ROOT / "data" / "snapshot", names).tables


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
