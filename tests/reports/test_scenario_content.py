"""Scenario text and tables: the central values are the indices of the point forecasts, with a
fallback to the path medians for a bundle written before the point columns existed."""

from __future__ import annotations

import dataclasses

import pandas as pd
import pytest

from exportcast.reports import load_bundle
from exportcast.reports.content import summary_sentences
from exportcast.reports.formatting import fmt_pct
from exportcast.reports.sections_scenarios import outcome_check, scenario_sections

UAE = "Korea\u2013UAE CEPA enters into force"
POINT = ["baseline_point", "scenario_point", "diff_point"]


@pytest.fixture(scope="module")
def bundle(bundle_dir):
    return load_bundle(bundle_dir)


@pytest.fixture(scope="module")
def old_bundle(bundle):
    # as loaded from a scenario_indices.csv without the point columns
    return dataclasses.replace(bundle, scenario_indices=bundle.scenario_indices.drop(columns=POINT))


def _horizon_row(bundle, index="dependence_share"):
    idx = bundle.scenario_indices
    rows = idx[(idx["scenario"] == "uae_cepa") & (idx["index"] == index)]
    rows = rows[rows["origin"] == rows["origin"].max()]
    return rows[rows["year"] == rows["year"].max()].iloc[0]


def _headline(bundle):
    return next(s for s in summary_sentences(bundle) if UAE in s)


def _dep_cells(bundle):
    table = {s["title"]: s for s in scenario_sections(bundle)}[UAE]["indices"]
    return table, next(r for r in table.rows if "share of exports" in r[0])


def test_scenario_headline_gives_the_point_index_and_the_path_band(bundle):
    r = _horizon_row(bundle)
    assert r["baseline_point"] != pytest.approx(r["baseline_p50"])  # the fixture tells them apart
    text = _headline(bundle)
    assert (
        f"the China + United States share in {int(r['year'])} would be "
        f"{fmt_pct(r['scenario_point'])} against {fmt_pct(r['baseline_point'])} in the baseline, "
        f"{abs(100 * r['diff_point']):.1f} percentage points lower than without it "
        "(the index of the partner point forecasts; 80 % interval of the difference over the "
        "sample paths \u22121.0 to \u22120.2 points)."
    ) in text
    assert fmt_pct(r["baseline_p50"]) not in text
    assert "centred" not in text and "around" not in text


def test_scenario_index_table_shows_the_point_values(bundle):
    r = _horizon_row(bundle)
    table, cells = _dep_cells(bundle)
    assert cells[1] == str(int(r["year"]))
    assert cells[2] == fmt_pct(r["baseline_point"])
    assert cells[3] == f"{fmt_pct(r['baseline_lo_80'])[:-2]}\u2013{fmt_pct(r['baseline_hi_80'])}"
    assert cells[4] == fmt_pct(r["scenario_point"])
    assert "the index of the point forecasts" in table.note
    assert "need not be centred" in table.note
    n_eff = _horizon_row(bundle, "n_effective")
    row = next(c for c in table.rows if c[0] == "effective partners")
    assert row[2] == f"{n_eff['baseline_point']:.1f}" and row[4] == f"{n_eff['scenario_point']:.1f}"
    # earlier origins with a known outcome: the point values beside the actual
    known = {s["title"]: s for s in scenario_sections(bundle)}[UAE]["outcomes"]
    idx = bundle.scenario_indices
    first = idx[(idx["scenario"] == "uae_cepa") & idx["actual"].notna()]
    first = first[first["year"] == first["year"].max()]
    dep = first[first["index"] == "dependence_share"].iloc[0]
    row = next(c for c in known.rows if c[2] == "share of exports")
    assert row[3] == fmt_pct(dep["baseline_point"]) and row[4] == fmt_pct(dep["scenario_point"])


def test_bundle_without_point_columns_falls_back_to_path_medians(old_bundle):
    r = _horizon_row(old_bundle)
    text = _headline(old_bundle)
    assert f"would be {fmt_pct(r['scenario_p50'])} against {fmt_pct(r['baseline_p50'])}" in text
    assert "(the median over the sample paths; 80 % interval of the difference" in text
    assert "point forecasts" not in text
    table, cells = _dep_cells(old_bundle)
    assert cells[2] == fmt_pct(r["baseline_p50"]) and cells[4] == fmt_pct(r["scenario_p50"])
    assert table.note.startswith("Baseline, Scenario and Difference: medians over the sample")
    assert "point forecasts" not in table.note


def test_a_zero_point_difference_reads_as_no_change(bundle):
    idx = bundle.scenario_indices.copy()
    idx["scenario_point"] = idx["baseline_point"]
    idx["diff_point"] = 0.0
    text = _headline(dataclasses.replace(bundle, scenario_indices=idx))
    assert "in the baseline, the same as without it (the index of the partner point" in text


def test_partner_table_merges_the_effect_columns_only_when_they_are_equal(bundle):
    # the fixture's paths median equals the PPML point (antithetic draws): one effect column
    table = {s["title"]: s for s in scenario_sections(bundle)}[UAE]["partners"]
    assert "Effect, % (PPML)" in table.columns and "PPML point, %" not in table.columns
    assert all(len(row) == len(table.columns) for row in table.rows)
    # a bundle of an earlier run, where the median of independent draws differed
    sp = bundle.scenario_partners.assign(ppml_effect_pct=bundle.scenario_partners["effect_pct"] - 3)
    older = dataclasses.replace(bundle, scenario_partners=sp)
    table = {s["title"]: s for s in scenario_sections(older)}[UAE]["partners"]
    cols = table.columns
    assert "Effect, % (median of paths)" in cols and "PPML point, %" in cols
    assert all(len(row) == len(cols) for row in table.rows)
    i, j = cols.index("Effect, % (median of paths)"), cols.index("PPML point, %")
    assert all(row[i] != row[j] for row in table.rows)


def test_many_disagreeing_partners_get_one_sentence(bundle):
    sp = bundle.scenario_partners
    uae = sp[sp["scenario"] == "uae_cepa"]
    # a bloc agreement: four partners, PPML negative, both regressions clearly positive
    bloc = pd.concat([uae.assign(partner=code) for code in ("ARE", "SAU", "QAT", "KWT")])
    bloc = bloc.assign(
        effect_pct=-5.5, ppml_effect_pct=-5.5, gbm_effect_pct=6.0, ridge_effect_pct=7.0
    )
    many = dataclasses.replace(
        bundle, scenario_partners=pd.concat([sp[sp["scenario"] != "uae_cepa"], bloc])
    )
    sentences = {s["title"]: s for s in scenario_sections(many)}[UAE]["sentences"]
    assert len(sentences) == 1
    (text,) = sentences
    assert text.startswith("For 4 partners (") and "disagree on the sign or size" in text
    for name in ("United Arab Emirates", "Saudi Arabia", "Qatar", "Kuwait"):
        assert name in text
    # two partners: one sentence each, with their numbers
    two = dataclasses.replace(
        bundle,
        scenario_partners=pd.concat(
            [sp[sp["scenario"] != "uae_cepa"], bloc[bloc["partner"].isin(["ARE", "SAU"])]]
        ),
    )
    sentences = {s["title"]: s for s in scenario_sections(two)}[UAE]["sentences"]
    assert len(sentences) == 2 and all("PPML \u22125.5 %" in s for s in sentences)


def _parts(actuals, partners=("KHM",)):
    # one scenario, one origin; the 80 % scenario interval of every row is USD 1-2 bn
    rows = [
        {
            "partner": p, "year": 2023, "baseline_mean": 1.0e9, "scenario_mean": 1.5e9,
            "scenario_lo_80": 1.0e9, "scenario_hi_80": 2.0e9, "actual": a,
        }
        for p, a in zip(partners, actuals, strict=True)
    ]  # fmt: skip
    earlier = {**rows[0], "year": 2022, "actual": 5.0e9}  # not the last known year: ignored
    return pd.DataFrame([earlier, *rows])


@pytest.mark.parametrize(
    ("actual", "where", "vs_base"),
    [(0.58e9, "below", "42 % below"), (1.5e9, "inside", "50 % above"), (2.5e9, "above", "150 %")],
)
def test_outcome_check_places_the_realised_value_in_the_scenario_interval(actual, where, vs_base):
    text = outcome_check(_parts([actual]), {"KHM": "Cambodia"}, 80)
    assert text.startswith("How it turned out: in 2023 exports to Cambodia were USD ")
    assert f"{vs_base}" in text and "the baseline forecast (USD 1.00 bn)" in text
    assert f"and {where} the scenario's 80 % interval (USD 1.00\u20132.00 bn)." in text
    assert text.endswith("the baseline is a forecast too.")


def test_outcome_check_counts_many_partners_and_is_silent_before_any_outcome():
    parts = _parts([0.5e9, 1.2e9, 1.9e9, 3.0e9], partners=("ARE", "SAU", "QAT", "KWT"))
    text = outcome_check(parts, {}, 80)
    assert (
        "in 2023, the realised exports of 2 of 4 partners were inside the scenario's 80 %" in text
    )
    assert "1 below and 1 above it." in text
    assert outcome_check(parts.assign(actual=float("nan")), {}, 80) is None
    one = _parts([1.5e9]).assign(scenario_lo_80=float("nan"))  # no interval: not "inside"
    assert "and the scenario has no 80 % interval." in outcome_check(one, {}, 80)
    zero = _parts([1.5e9]).assign(baseline_mean=0.0)  # no division by a zero baseline
    assert "against a baseline forecast of USD 0.00 bn and inside" in outcome_check(zero, {}, 80)
    assert outcome_check(parts.drop(columns="actual"), {}, 80) is None


def test_known_outcomes_reach_the_summary_and_the_scenario_section(bundle):
    sp = bundle.scenario_partners
    assert _headline(bundle).count("How it turned out") == 0  # the fixture's years are future
    uae = sp["scenario"] == "uae_cepa"
    last = sp.loc[uae, "year"].max()
    known = sp.assign(actual=sp["actual"].where(~(uae & (sp["year"] == last)), 1.0))  # USD 1
    with_outcome = dataclasses.replace(bundle, scenario_partners=known)
    assert f"How it turned out: in {int(last)} exports to" in _headline(with_outcome)
    section = {s["title"]: s for s in scenario_sections(with_outcome)}[UAE]
    assert any(s.startswith("How it turned out") and "below the scenario's 80 %" in s
               for s in section["sentences"])  # fmt: skip


def test_an_ex_ante_scenario_says_its_baseline_is_a_forecast_from_its_origin(bundle):
    assert "forecast with data to" not in _headline(bundle)  # origin = the last data year
    origin = int(bundle.scenario_indices["origin"].max()) - 2
    earlier = dataclasses.replace(
        bundle,
        scenario_indices=bundle.scenario_indices.assign(origin=origin),
        scenario_partners=bundle.scenario_partners.assign(origin=origin),
    )
    assert f"in the baseline forecast with data to {origin}, " in _headline(earlier)
