"""The Cambodia scenario end to end through run_scenario on the real snapshot (fast engine)."""

import json
from pathlib import Path

import numpy as np
import pytest

import exportcast.flows.scenarios as flows_scenarios
from exportcast.configs.loader import load_config, load_scenario
from exportcast.features.concentration import concentration_from_paths
from exportcast.features.panel import series_to_panel
from exportcast.features.series import REST
from exportcast.flows.scenarios import baseline_at, index_columns, partner_columns, run_scenario
from exportcast.flows.snapshot import load_snapshot

ROOT = Path(__file__).resolve().parents[2]
FAST = ["forecast.models=[Naive,Drift]", "forecast.n_paths=100", "forecast.n_jobs=1"]


@pytest.fixture(scope="module")
def tables():
    return load_snapshot(ROOT / "data" / "snapshot").tables


@pytest.fixture(scope="module")
def config():
    return load_config(overrides=FAST)


@pytest.fixture(scope="module")
def last_year_baseline(config, tables):
    """The baseline at the run's last year, as the pipeline hands it to run_scenarios."""
    return baseline_at(config, tables, config.years.end)


@pytest.fixture(scope="module")
def rerun():
    return []  # the baselines run_scenario reran (filled by the cambodia fixture)


@pytest.fixture(scope="module")
def cambodia(config, tables, rerun):
    scenario = load_scenario(ROOT / "configs" / "scenarios" / "cambodia_fta.yaml")
    lines = []

    def keep(*args, **kwargs):
        rerun.append(baseline_at(*args, **kwargs))
        return rerun[-1]

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(flows_scenarios, "baseline_at", keep)
        return run_scenario(config, scenario, tables, log=lines.append), lines


def _point_indices(baseline, dependence_set=("CHN", "USA")):
    # the indices of the engine's point forecasts (the selected model), one "path"
    fs, engine = baseline
    fc = engine.forecast
    fc = fc.loc[fc["model"] == engine.model] if "model" in fc.columns else fc
    frame = series_to_panel(fc[["unique_id", "ds", "mean"]], value="mean").assign(path=0)
    return concentration_from_paths(
        frame[["path", "year", "partner", "export_usd"]], dependence_set=dependence_set,
        rest=REST, rest_shares=fs.rest_shares, n_partners=fs.n_partners,
    ).set_index("year")  # fmt: skip


def test_cambodia_frames_have_the_exact_columns(cambodia):
    result, _ = cambodia
    assert list(result.partners.columns) == partner_columns((80, 95))
    assert list(result.indices.columns) == index_columns((80, 95))
    assert partner_columns((80, 95))[6:10] == [
        "scenario_lo_80", "scenario_hi_80", "scenario_lo_95", "scenario_hi_95",
    ]  # fmt: skip


def test_cambodia_rows_cover_khm_2022_to_2026_with_actuals_while_known(cambodia):
    p = cambodia[0].partners
    assert p["partner"].tolist() == ["KHM"] * 5
    assert p["year"].tolist() == [2022, 2023, 2024, 2025, 2026]
    assert (p["origin"] == 2021).all() and (p["scenario"] == "cambodia_fta").all()
    assert p.loc[p["year"] <= 2023, "actual"].notna().all()
    assert p.loc[p["year"] > 2023, "actual"].isna().all()
    idx = cambodia[0].indices
    assert set(idx["index"]) == {"dependence_share", "hhi", "n_effective"}
    assert idx.loc[idx["year"] <= 2023, "actual"].notna().all()
    assert idx.loc[idx["year"] > 2023, "actual"].isna().all()


def test_cambodia_effect_intervals_contain_the_point_effect(cambodia):
    p = cambodia[0].partners
    for lvl in (80, 95):
        assert (p[f"effect_lo_{lvl}"] <= p["ppml_effect_pct"]).all()
        assert (p["ppml_effect_pct"] <= p[f"effect_hi_{lvl}"]).all()
        assert (p[f"scenario_lo_{lvl}"] <= p[f"scenario_hi_{lvl}"]).all()
    # a deepening moves neither regression's any-FTA features
    assert (p["gbm_effect_pct"] == 0).all() and (p["ridge_effect_pct"] == 0).all()


def test_cambodia_scenario_moves_china_us_share_against_khm_exports(cambodia):
    result = cambodia[0]
    idx = result.indices
    dep = idx.loc[idx["index"] == "dependence_share"]
    # only Cambodia's exports move: the China+US share moves the other way. The world gravity
    # prices KKFTA as a deepening: deep (slightly negative) in 2022-25, deep + deep_lag4 in 2026
    effect = result.partners.set_index("year")["ppml_effect_pct"]
    assert effect.loc[2022] == effect.loc[2025] and effect.loc[2026] > effect.loc[2025]
    point = dep.set_index("year")["diff_point"]
    np.testing.assert_array_equal(np.sign(point), -np.sign(effect.loc[point.index]))
    assert (dep["diff_lo_95"] <= dep["diff_p50"]).all()
    assert (dep["diff_p50"] <= dep["diff_hi_95"]).all()
    assert (dep["diff_p50"].abs() < 0.01).all()  # Cambodia buys about 0.1 % of the exports


def test_cambodia_central_values_are_the_indices_of_the_rerun_point_forecasts(cambodia, rerun):
    result = cambodia[0]
    (baseline,) = rerun
    assert int(baseline[1].forecast["ds"].min()) == 2022  # rerun from the origin 2021
    direct = _point_indices(baseline)
    idx = result.indices
    for index in ("dependence_share", "hhi", "n_effective"):
        rows = idx.loc[idx["index"] == index].set_index("year")
        np.testing.assert_allclose(
            rows["baseline_point"], direct.loc[rows.index, index], rtol=1e-12
        )
        np.testing.assert_allclose(
            rows["diff_point"], rows["scenario_point"] - rows["baseline_point"], rtol=1e-12
        )
    dep = idx.loc[idx["index"] == "dependence_share"].set_index("year")
    # only Cambodia moves: the China+US share of the point forecasts moves a little
    assert (dep["diff_point"].abs() < 0.01).all()
    # and it is the share recomputed from the partner table: D / (D / share + KHM's change)
    khm = result.partners.set_index("year")
    gain = (khm["scenario_mean"] - khm["baseline_mean"]).loc[dep.index]
    fc = baseline[1].forecast
    fc = series_to_panel(fc.loc[fc["model"] == baseline[1].model], value="mean")
    d = fc.loc[fc["partner"].isin(["CHN", "USA"])].groupby("year")["export_usd"].sum()
    d = d.loc[dep.index]
    np.testing.assert_allclose(
        dep["scenario_point"], d / (d / dep["baseline_point"] + gain), rtol=1e-9
    )


def test_meta_is_json_and_says_what_was_done(cambodia):
    result, lines = cambodia
    meta = json.loads(json.dumps(result.meta))
    assert meta["origin"] == 2021 and meta["n_paths"] == 100
    assert meta["bases"] == ["additional_agreement"]
    assert "KKFTA" in meta["changes"][0]
    ci = meta["coefficients"]["extra_agreements"]
    assert ci["ci_low"] < ci["coef"] < ci["ci_high"]
    assert meta["n_obs"] > 5000
    assert lines[0].startswith("scenario cambodia_fta")
    # the world gravity prices the paths; the partner-panel PPML stays beside it
    assert meta["effects"] == "world_gravity"
    world = meta["world_gravity"]
    assert set(world["coefficients"]) == {"rta", "rta_lag4", "rta_lag8", "deep", "deep_lag4"}
    assert world["years"][-1] == 2020 and world["n_obs"] > 50_000
    deep = world["coefficients"]["deep"]
    p = result.partners.set_index("year")
    assert p.loc[2022, "ppml_effect_pct"] == pytest.approx(deep["effect_pct"])
    assert any(line.strip().startswith("world gravity PPML") for line in lines)


def test_baseline_is_reused_at_the_runs_last_year(config, tables, last_year_baseline):
    scenario = load_scenario(ROOT / "configs" / "scenarios" / "uae_cepa.yaml")
    fs, engine = last_year_baseline
    lines = []
    result = run_scenario(config, scenario, tables, baseline=(fs, engine), log=lines.append)
    assert any("reused" in line for line in lines)
    p = result.partners
    assert (p.loc[p["year"] < 2025, "effect_pct"] == 0).all()
    assert p.loc[p["year"] >= 2025, "ppml_effect_pct"].abs().min() > 0
    assert np.isfinite(p["gbm_effect_pct"]).all()
    assert p["actual"].isna().all()  # the data end at the origin 2023
    # the reused forecast's point indices are the central values; no effect before 2025
    dep = result.indices[result.indices["index"] == "dependence_share"].set_index("year")
    direct = _point_indices((fs, engine))
    np.testing.assert_allclose(
        dep["baseline_point"], direct.loc[dep.index, "dependence_share"], rtol=1e-12
    )
    assert (dep.loc[dep.index < 2025, "diff_point"] == 0).all()
    # the UAE's exports move (either way: b_any is estimated), the China+US share the other way
    moved = p.set_index("year").loc[dep.index >= 2025, "ppml_effect_pct"]
    np.testing.assert_array_equal(
        np.sign(dep.loc[dep.index >= 2025, "diff_point"]), -np.sign(moved)
    )


def test_gdp_shock_and_dependence_set_override_end_to_end(
    config, tables, last_year_baseline, tmp_path
):
    # a China demand shock, its indices computed on an overridden dependence set
    spec = tmp_path / "china_slowdown.yaml"
    spec.write_text(
        "name: china_slowdown\n"
        "title: China grows 3 points slower 2024-2028\n"
        "changes:\n"
        "  gdp_shocks:\n"
        "    - {partner: CHN, start: 2024, end: 2028, growth_pp: -3.0}\n"
        "  dependence_set: [CHN, USA, HKG]\n"
    )
    # origin = the run's last year: the run's baseline is reused, as in the pipeline
    result = run_scenario(
        config, load_scenario(spec), tables, baseline=last_year_baseline, log=lambda _: None
    )
    p = result.partners
    assert set(p["partner"]) == {"CHN"}
    effect = p.set_index("year")["ppml_effect_pct"]
    # cumulative: each year deeper below the baseline
    assert (effect < 0).all() and effect.is_monotonic_decreasing
    assert result.meta["dependence_set"] == ["CHN", "USA", "HKG"]
    dep = result.indices[result.indices["index"] == "dependence_share"].set_index("year")
    assert (dep["diff_p50"] < 0).all()
    # HKG in the set: the baseline share is above the CHN+USA forecast of the same origin
    conc = tables["kor_exports"]
    last = conc[conc["year"] == 2023]
    chn_usa = (
        last[last["partner"].isin(["CHN", "USA"])]["export_usd"].sum() / last["export_usd"].sum()
    )
    assert dep.loc[2024, "baseline_p50"] > chn_usa
