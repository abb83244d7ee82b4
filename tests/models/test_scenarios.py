"""The scenario effect model on the real snapshot (PPML) and small synthetic paths."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from exportcast.features.concentration import concentration_from_paths
from exportcast.features.panel import build_trade_panel, series_to_panel
from exportcast.flows.snapshot import load_snapshot
from exportcast.models import scenario_effects, scenario_gravity
from exportcast.models import scenarios as sc

ROOT = Path(__file__).resolve().parents[2]
ORIGIN = 2021
YEARS = range(ORIGIN + 1, ORIGIN + 6)


@pytest.fixture(scope="module")
def tables():
    return load_snapshot(ROOT / "data" / "snapshot").tables


@pytest.fixture(scope="module")
def panel(tables):
    exports = tables["kor_exports"]
    return build_trade_panel(exports, reporter="KOR", start=1990, end=int(exports["year"].max()))


@pytest.fixture(scope="module")
def gravity(tables, panel):
    return scenario_gravity.fit_scenario_gravity(
        panel, tables["indicators"], tables["pairs"], tables["fta"], origin=ORIGIN
    )


@pytest.fixture(scope="module")
def agreements(tables):
    return scenario_gravity.baseline_agreements(tables["fta"], origin=ORIGIN)


def _paths(partners=("CHN", "USA", "KHM", "ARE", "REST"), n_paths=50, seed=0):
    rng = np.random.default_rng(seed)
    rows = []
    for i, p in enumerate(partners):
        for year in YEARS:
            y = 1e9 * (i + 1) * np.exp(rng.normal(0, 0.1, n_paths))
            rows.append(
                pd.DataFrame({"unique_id": f"KOR|{p}", "ds": year, "path": range(n_paths), "y": y})
            )
    return pd.concat(rows, ignore_index=True)


def _forecast(paths):
    # point forecasts of the paths' engine: here their mean (any value per series and year)
    forecast = paths.groupby(["unique_id", "ds"], as_index=False)["y"].mean()
    return forecast.rename(columns={"y": "mean"})


def _multipliers(design, coef, cov, n_paths=50, seed=0):
    draws = sc.draw_coefficients(coef, cov, n_paths=n_paths, seed=seed)
    return sc.scenario_multipliers(design.delta, draws, list(range(n_paths)))


def test_ppml_fit_ignores_years_after_origin(tables, panel, gravity):
    rng = np.random.default_rng(1)
    late = panel["year"] > ORIGIN
    corrupt = panel.assign(
        export_usd=panel["export_usd"].where(~late, rng.uniform(0, 1e12, len(panel)))
    )
    ind = tables["indicators"]
    later = ind["year"] > ORIGIN
    ind = ind.assign(gdp_usd=ind["gdp_usd"].where(~later, rng.uniform(1e6, 1e14, len(ind))))
    refit = scenario_gravity.fit_scenario_gravity(
        corrupt, ind, tables["pairs"], tables["fta"], origin=ORIGIN
    )
    pd.testing.assert_series_equal(refit.coef, gravity.coef)
    pd.testing.assert_frame_equal(refit.cov, gravity.cov)
    assert gravity.n_obs == refit.n_obs
    # and the origin does matter: a later origin sees more partner-years
    frame = scenario_gravity.scenario_gravity_frame(
        panel, tables["indicators"], tables["pairs"], tables["fta"], origin=ORIGIN
    )
    assert frame["year"].max() == ORIGIN


def test_gravity_has_coefficients_and_robust_covariance(gravity):
    assert list(gravity.coef.index) == list(scenario_gravity.REGRESSORS)
    cov = gravity.cov.to_numpy()
    assert np.allclose(cov, cov.T)
    assert np.all(np.linalg.eigvalsh(cov) > 0)
    # cluster-robust SEs are the ones fit_ppml reports
    assert np.allclose(np.sqrt(np.diag(cov)), gravity.ppml.bse[list(scenario_gravity.REGRESSORS)])
    summary = gravity.summary()
    assert summary["log_partner_gdp"]["ci_low"] < summary["log_partner_gdp"]["coef"]


def test_extra_agreements_count_deepening_of_an_existing_fta(tables):
    spells = scenario_gravity.baseline_agreements(tables["fta"], origin=2023)
    st = scenario_gravity.agreement_status(
        spells, ["VNM", "KHM", "ARE"], [2014, 2016, 2023]
    ).set_index(["partner", "year"])
    assert st.loc[("VNM", 2014), "extra_agreements"] == 0  # AKFTA only
    assert st.loc[("VNM", 2016), "extra_agreements"] == 1  # + KVFTA
    assert st.loc[("VNM", 2023), "extra_agreements"] == 2  # + RCEP
    assert st.loc[("KHM", 2023), "n_agreements"] == 3
    assert st.loc[("ARE", 2023), "fta_in_force"] == 0
    assert st.loc[("VNM", 2016), "years_since_fta"] == 2016 - 2007


def test_baseline_holds_only_agreements_in_force_by_the_origin(agreements):
    khm = agreements.loc[agreements["partner"] == "KHM", "agreement"]
    assert list(khm) == ["AKFTA"]  # KKFTA and RCEP entered in 2022
    assert "ARE" not in set(agreements["partner"])


def test_auto_basis_is_additional_for_cambodia_and_any_for_uae(agreements):
    changes = [
        sc.FtaChange("KHM", "KKFTA", "enter", 2022),
        sc.FtaChange("ARE", "KUAECEPA", "enter", 2024),
    ]
    design = sc.scenario_design(agreements, changes, [], years=YEARS)
    assert design.bases == ("additional_agreement", "any_fta")
    d = design.delta.set_index(["partner", "year"])
    assert d.loc[("KHM", 2022), "extra_agreements"] == 1
    assert d.loc[("KHM", 2022), "fta_in_force"] == 0
    assert d.loc[("ARE", 2023), "fta_in_force"] == 0
    assert d.loc[("ARE", 2024), "fta_in_force"] == 1


def test_zero_change_scenario_gives_multipliers_one_and_identical_indices(agreements, gravity):
    design = sc.scenario_design(agreements, [], [], years=YEARS)
    draws = sc.draw_coefficients(gravity.coef, gravity.cov, n_paths=50, seed=0)
    assert sc.scenario_multipliers(design.delta, draws, list(range(50))).empty
    # a change whose partner is in the design but moves nothing: exactly 1
    noop = sc.scenario_design(
        agreements, [], [sc.GdpShock("CHN", YEARS[-1] + 1, YEARS[-1] + 2, -1)], years=YEARS
    )
    mult = sc.scenario_multipliers(noop.delta, draws, list(range(50)))
    assert (mult["multiplier"] == 1.0).all()
    paths = _paths()
    scen = sc.apply_multipliers(paths, mult)
    pd.testing.assert_frame_equal(scen, paths)
    forecast = _forecast(paths)
    same = scenario_effects.partner_effects(
        forecast, paths, mult, noop.delta, gravity.coef, pd.DataFrame(columns=["partner", "year"]),
        pd.DataFrame(columns=["partner", "year", "export_usd"]), levels=(80,),
    )  # fmt: skip
    idx = scenario_effects.index_effects(
        paths, scen, pd.DataFrame(columns=["year", *scenario_effects.INDEX_NAMES]), forecast=forecast,
        scenario_mean=same, dependence_set=("CHN", "USA"), rest="REST",
        rest_shares=(0.5, 0.3, 0.2), n_partners=100, levels=(80, 95),
    )  # fmt: skip
    assert (idx.filter(like="diff_") == 0).all().all()
    for band in ("point", "p50", "lo_80", "hi_95"):
        np.testing.assert_array_equal(idx[f"baseline_{band}"], idx[f"scenario_{band}"])


def test_leave_and_enter_have_opposite_signs(tables, gravity):
    spells = scenario_gravity.baseline_agreements(tables["fta"], origin=2023)
    years = range(2024, 2029)
    enter = sc.scenario_design(
        spells, [sc.FtaChange("ARE", None, "enter", 2025, "additional_agreement")], [], years=years
    )
    leave = sc.scenario_design(
        spells, [sc.FtaChange("VNM", "KVFTA", "leave", 2025, "additional_agreement")], [],
        years=years,
    )  # fmt: skip
    coef = gravity.coef.to_numpy()
    eta_enter = enter.delta[list(scenario_gravity.REGRESSORS)].to_numpy() @ coef
    eta_leave = leave.delta[list(scenario_gravity.REGRESSORS)].to_numpy() @ coef
    assert eta_enter[0] == 0 and eta_leave[0] == 0  # 2024: before the change
    assert np.all(eta_enter[1:] > 0)
    np.testing.assert_allclose(eta_leave[1:], -eta_enter[1:])
    # leaving Cambodia's only baseline FTA is priced by the any-FTA dummy
    only = sc.scenario_design(
        scenario_gravity.baseline_agreements(tables["fta"], origin=ORIGIN),
        [sc.FtaChange("KHM", "AKFTA", "leave", 2023)], [], years=YEARS,
    )  # fmt: skip
    assert only.bases == ("any_fta",)
    d = only.delta.set_index("year")["fta_in_force"]
    assert d.loc[2022] == 0 and (d.loc[2023:] == -1).all()


def test_fta_change_touches_only_its_partner_and_years_from_entry(agreements, gravity):
    design = sc.scenario_design(
        agreements, [sc.FtaChange("KHM", "KKFTA", "enter", 2024)], [], years=YEARS
    )
    mult = _multipliers(design, gravity.coef, gravity.cov)
    moved = mult.loc[mult["multiplier"] != 1.0]
    assert set(moved["partner"]) == {"KHM"}
    assert moved["year"].min() == 2024
    assert (mult.loc[mult["year"] < 2024, "multiplier"] == 1.0).all()
    paths = _paths()
    scen = sc.apply_multipliers(paths, mult)
    changed = scen["y"].to_numpy() != paths["y"].to_numpy()
    assert set(scen.loc[changed, "unique_id"]) == {"KOR|KHM"}
    assert scen.loc[changed, "ds"].min() == 2024


def test_entering_an_agreement_already_in_force_raises(agreements):
    with pytest.raises(ValueError, match="already has AKFTA in force"):
        sc.scenario_design(
            agreements, [sc.FtaChange("KHM", "AKFTA", "enter", 2022)], [], years=YEARS
        )
    with pytest.raises(ValueError, match="no KKFTA in force"):
        sc.scenario_design(
            agreements, [sc.FtaChange("KHM", "KKFTA", "leave", 2022)], [], years=YEARS
        )


def test_seeds_reproduce_the_draws(gravity):
    a = sc.draw_coefficients(gravity.coef, gravity.cov, n_paths=20, seed=3)
    b = sc.draw_coefficients(gravity.coef, gravity.cov, n_paths=20, seed=3)
    c = sc.draw_coefficients(gravity.coef, gravity.cov, n_paths=20, seed=4)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


def test_antithetic_draws_put_the_median_effect_on_the_point_estimate(gravity):
    draws = sc.draw_coefficients(gravity.coef, gravity.cov, n_paths=1000, seed=0)
    assert draws.shape == (1000, len(gravity.coef))
    point = gravity.coef.to_numpy()
    np.testing.assert_allclose(draws[:500] + draws[500:], np.tile(2 * point, (500, 1)))
    rng = np.random.default_rng(5)
    for d in rng.normal(size=(5, len(point))):
        assert np.median(draws @ d) == pytest.approx(d @ point, abs=1e-12)
    # the spread is still the covariance's
    se = np.sqrt(np.diag(gravity.cov.loc[gravity.coef.index, gravity.coef.index]))
    np.testing.assert_allclose(draws.std(axis=0), se, rtol=0.1)
    assert sc.draw_coefficients(gravity.coef, gravity.cov, n_paths=7, seed=0).shape[0] == 7


def test_multiplier_spread_matches_the_coefficient_se(agreements, gravity):
    design = sc.scenario_design(
        agreements, [sc.FtaChange("KHM", "KKFTA", "enter", 2022)], [], years=YEARS
    )
    mult = _multipliers(design, gravity.coef, gravity.cov, n_paths=4000, seed=0)
    log_m = np.log(mult.loc[mult["year"] == 2022, "multiplier"])
    se = float(np.sqrt(gravity.cov.loc["extra_agreements", "extra_agreements"]))
    assert np.std(log_m) == pytest.approx(se, rel=0.1)
    assert np.median(log_m) == pytest.approx(gravity.coef["extra_agreements"], abs=0.1 * se)


def test_gdp_shock_scales_cumulatively_with_b_gdp(agreements, gravity):
    shock = sc.GdpShock("CHN", 2023, 2025, -1.5)
    design = sc.scenario_design(agreements, [], [shock], years=YEARS)
    d = design.delta.set_index("year")["log_partner_gdp"]
    np.testing.assert_allclose(d.to_numpy(), [0, -0.015, -0.03, -0.045, -0.045])
    mult = _multipliers(design, gravity.coef, gravity.cov)
    point = sc.scenario_multipliers(design.delta, gravity.coef.to_numpy()[None, :], [0]).set_index(
        "year"
    )["multiplier"]
    np.testing.assert_allclose(np.log(point), gravity.coef["log_partner_gdp"] * d)
    assert (mult.loc[mult["year"] == 2022, "multiplier"] == 1.0).all()
    assert (mult.loc[mult["year"] >= 2023, "multiplier"] < 1.0).mean() > 0.95


def test_partner_effects_columns_and_interval_contains_point(agreements, gravity):
    design = sc.scenario_design(
        agreements, [sc.FtaChange("KHM", "KKFTA", "enter", 2022)], [], years=YEARS
    )
    paths = _paths()
    mult = _multipliers(design, gravity.coef, gravity.cov)
    forecast = _forecast(paths)
    actual = pd.DataFrame({"partner": "KHM", "year": [2022, 2023], "export_usd": [1.0, 2.0]})
    out = scenario_effects.partner_effects(
        forecast, paths, mult, design.delta, gravity.coef, pd.DataFrame(columns=["partner", "year"]),
        actual, levels=(80,),
    )  # fmt: skip
    assert list(out.columns) == [
        "partner", "year", "baseline_mean", "scenario_mean", "scenario_lo_80", "scenario_hi_80",
        "effect_pct", "effect_lo_80", "effect_hi_80", "ppml_effect_pct", "gbm_effect_pct",
        "ridge_effect_pct", "actual",
    ]  # fmt: skip
    assert (out["effect_lo_80"] <= out["ppml_effect_pct"]).all()
    assert (out["ppml_effect_pct"] <= out["effect_hi_80"]).all()
    assert out["actual"].tolist()[:2] == [1.0, 2.0] and out["actual"].iloc[2:].isna().all()


def test_changes_read_as_sentences_with_names():
    changes = [
        sc.FtaChange("KHM", "KKFTA", "enter", 2022),
        sc.FtaChange("GBR", "KOREU", "leave", 2021),
    ]
    text = sc.describe_changes(
        changes,
        [sc.GdpShock("CHN", 2025, 2028, -1.5)],
        ["additional_agreement", "any_fta"],
        partner_names={"KHM": "Cambodia", "GBR": "United Kingdom", "CHN": "China"},
        agreement_names={"KKFTA": "Korea-Cambodia FTA"},
    )
    assert text[0] == (
        "Cambodia (KHM): the Korea-Cambodia FTA (KKFTA) in force from 2022, "
        "priced as an additional agreement (b_extra)."
    )
    assert text[1].startswith("United Kingdom (GBR): KOREU ends after 2020")
    assert text[2].startswith("China (CHN): GDP growth -1.5 pp a year in 2025-2028")
    # without names, the codes
    assert sc.describe_changes(changes[:1], [], ["any_fta"])[0].startswith("KHM: KKFTA in force")


def _hand_paths(values, n_paths=40, seed=0):
    # paths scattered around per-partner values, years 2022-2023
    rng = np.random.default_rng(seed)
    rows = [
        pd.DataFrame(
            {
                "unique_id": f"KOR|{p}",
                "ds": year,
                "path": range(n_paths),
                "y": v * np.exp(rng.normal(0, 0.2, n_paths)),
            }
        )
        for p, v in values.items()
        for year in (2022, 2023)
    ]
    return pd.concat(rows, ignore_index=True)


def _hand_effects(baseline, scenario_paths, forecast, scenario_mean):
    actual = pd.DataFrame(
        {"year": [2022], "dependence_share": [0.7], "hhi": [0.4], "n_effective": [2.5]}
    )
    out = scenario_effects.index_effects(
        baseline,
        scenario_paths,
        actual,
        forecast=forecast,
        scenario_mean=scenario_mean,
        dependence_set=("CHN", "USA"),
        rest="REST",
        rest_shares=(0.5, 0.5),
        n_partners=4,
        levels=(80,),
    )
    return out.set_index(["year", "index"])


def test_index_point_values_are_the_indices_of_the_point_forecasts():
    # CHN 60, USA 20, REST 20 (two members of 10): the scenario doubles USA in 2023 only
    values = {"CHN": 60.0, "USA": 20.0, "REST": 20.0}
    forecast = pd.DataFrame(
        [{"unique_id": f"KOR|{p}", "ds": y, "mean": v} for p, v in values.items()
         for y in (2022, 2023)]
    )  # fmt: skip
    scenario_mean = pd.DataFrame(
        {"partner": "USA", "year": [2022, 2023], "scenario_mean": [20.0, 40.0]}
    )
    paths = _hand_paths(values)
    scen = paths.assign(
        y=paths["y"] * np.where((paths["unique_id"] == "KOR|USA") & (paths["ds"] == 2023), 2, 1)
    )
    out = _hand_effects(paths, scen, forecast, scenario_mean)
    assert list(out.reset_index().columns[:5]) == [
        "year", "index", "baseline_point", "scenario_point", "diff_point",
    ]  # fmt: skip
    expected = {  # (baseline, scenario) by hand; HHI counts REST as two partners of half its size
        "dependence_share": (0.8, 50 / 60),
        "hhi": (0.6**2 + 0.2**2 + 2 * 0.1**2, 0.5**2 + (1 / 3) ** 2 + 2 * (1 / 12) ** 2),
    }
    for index, (b, s) in expected.items():
        for year, scen_value in ((2022, b), (2023, s)):
            row = out.loc[(year, index)]
            assert row["baseline_point"] == pytest.approx(b, rel=1e-12)
            assert row["scenario_point"] == pytest.approx(scen_value, rel=1e-12)
            assert row["diff_point"] == pytest.approx(scen_value - b, rel=1e-9, abs=1e-15)
    n_eff = out.xs("n_effective", level="index")
    np.testing.assert_allclose(n_eff["baseline_point"], 1 / expected["hhi"][0])
    # untouched years: exactly equal, and the actual of the known year is kept
    assert (out.xs(2022, level="year")["diff_point"] == 0).all()
    assert out.loc[(2022, "hhi"), "actual"] == 0.4
    assert np.isnan(out.loc[(2023, "hhi"), "actual"])
    # the bands stay those of the paths: the path median, not the point, is the p50
    dep = out.xs("dependence_share", level="index")
    assert not np.allclose(dep["baseline_p50"], dep["baseline_point"])
    assert (dep["diff_lo_80"] <= dep["diff_p50"]).all()


def test_baseline_point_equals_concentration_of_the_point_forecasts():
    paths = _paths()
    forecast = _forecast(paths)
    none = pd.DataFrame(columns=["partner", "year", "scenario_mean"])
    out = _hand_effects(paths, paths, forecast, none)
    frame = series_to_panel(forecast, value="mean").assign(path=0)
    direct = concentration_from_paths(
        frame[["path", "year", "partner", "export_usd"]], dependence_set=("CHN", "USA"),
        rest="REST", rest_shares=(0.5, 0.5), n_partners=4,
    ).set_index("year")  # fmt: skip
    for index in scenario_effects.INDEX_NAMES:
        got = out.xs(index, level="index")
        np.testing.assert_array_equal(got["baseline_point"], direct.loc[got.index, index])
        np.testing.assert_array_equal(got["scenario_point"], got["baseline_point"])
        assert (got["diff_point"] == 0).all()


def test_index_points_refuse_ambiguous_or_unknown_forecasts():
    paths = _paths()
    forecast = _forecast(paths)
    twice = pd.concat([forecast, forecast], ignore_index=True)
    none = pd.DataFrame(columns=["partner", "year", "scenario_mean"])
    with pytest.raises(ValueError, match="more than one row"):
        _hand_effects(paths, paths, twice, none)
    stray = pd.DataFrame({"partner": ["FRA"], "year": [2022], "scenario_mean": [1.0]})
    with pytest.raises(ValueError, match="without a baseline forecast"):
        _hand_effects(paths, paths, forecast, stray)
