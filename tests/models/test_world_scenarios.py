"""Scenario design priced by the world gravity: phased effects year by year, entries only."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from exportcast.flows.io import CODE_ROOT
from exportcast.flows.snapshot import load_snapshot
from exportcast.models import scenarios as sc
from exportcast.models.fta_effects import DEPTH
from exportcast.models.structural_gravity import GravityFit
from exportcast.models.world_scenarios import effect_sources, world_delta

AGREEMENTS = pd.DataFrame(
    {"partner": ["KHM"], "agreement": ["AKFTA"], "first": [2007], "last": [9999]}
)
YEARS = range(2022, 2032)


def _delta(changes, shocks=()):
    design = sc.scenario_design(AGREEMENTS, changes, shocks, years=YEARS)
    return world_delta(design, changes, shocks, years=YEARS).set_index(["partner", "year"])


def test_first_fta_phases_in_and_deepening_uses_deep():
    changes = [
        sc.FtaChange("ARE", "KUAECEPA", "enter", 2023),
        sc.FtaChange("KHM", "KKFTA", "enter", 2022),
    ]
    d = _delta(changes)
    assert list(d.columns) == list(DEPTH)
    are = d.loc["ARE"]
    assert are.loc[2022].sum() == 0  # before entry
    assert are.loc[2023].to_dict() == {"rta": 1, "rta_lag4": 0, "rta_lag8": 0, "deep": 0,
                                       "deep_lag4": 0}  # fmt: skip
    assert are.loc[2027, "rta_lag4"] == 1 and are.loc[2026, "rta_lag4"] == 0
    assert are.loc[2031, "rta_lag8"] == 1 and are.loc[2030, "rta_lag8"] == 0
    khm = d.loc["KHM"]  # on top of AKFTA: a deepening
    assert (khm["rta"] == 0).all() and (khm["deep"] == 1).all()
    assert khm.loc[2026, "deep_lag4"] == 1 and khm.loc[2025, "deep_lag4"] == 0


def test_multipliers_follow_the_phased_effect():
    d = _delta([sc.FtaChange("ARE", None, "enter", 2023)]).reset_index()
    coef = pd.Series([0.1, 0.2, 0.3, 0.0, 0.0], index=list(DEPTH))
    fit = GravityFit(coef, pd.DataFrame(np.eye(5) * 1e-4, coef.index, coef.index), 1, 0, 1,
                     (2020,), 0.0, "")  # fmt: skip
    draws = sc.draw_coefficients(fit.coef, fit.cov, n_paths=2)
    m = sc.scenario_multipliers(d, draws, [0, 1]).groupby("year")["multiplier"].mean()
    assert m.loc[2022] == 1.0
    assert m.loc[2023] == pytest.approx(np.exp(0.1), rel=1e-3)
    assert m.loc[2027] == pytest.approx(np.exp(0.3), rel=1e-3)
    assert m.loc[2031] == pytest.approx(np.exp(0.6), rel=1e-3)


def test_exits_and_gdp_shocks_are_refused():
    with pytest.raises(ValueError, match=r"entries only.*leaves"):
        _delta([sc.FtaChange("KHM", "AKFTA", "leave", 2024)])
    with pytest.raises(ValueError, match="GDP shock"):
        _delta([sc.FtaChange("ARE", None, "enter", 2023)], [sc.GdpShock("ARE", 2023, 2024, 1.0)])


def test_effect_sources_name_the_identifying_agreements():
    fta = load_snapshot(CODE_ROOT / "data" / "snapshot", ["fta"]).tables["fta"]
    # a world panel: A>B signs a first agreement, C>D deepens, E>F never changes
    panel = pd.DataFrame(
        {
            "pair": ["A>B", "A>B", "C>D", "C>D", "E>F", "E>F"],
            "year": [2012, 2016] * 3,
            "rta": [0, 1, 1, 1, 1, 1],
            "deep": [0, 0, 0, 1, 0, 0],
        }
    )
    changes = [
        sc.FtaChange("KHM", "KKFTA", "enter", 2022),
        sc.FtaChange("ARE", None, "enter", 2025),
    ]
    src = effect_sources(
        fta, changes, ["additional_agreement", "any_fta"], panel_years=(1995, 2021),
        world_panel=panel,
    )  # fmt: skip
    assert [(c["partner"], c["kind"]) for c in src["changes"]] == [
        ("KHM", "deepening"),
        ("ARE", "first"),
    ]
    deep = {
        (e["agreement"], e["entry_year"]): e["partners"] for e in src["korea_entries"]["deepening"]
    }
    assert deep[("KVFTA", 2015)] == ["VNM"]
    first = {e["agreement"] for e in src["korea_entries"]["first"]}
    assert {"KCFTA", "KORUS", "KCNFTA"} <= first and "KKFTA" not in first  # KKFTA: 2022
    assert src["partner_panel_years"] == [1995, 2021]
    assert src["world_years"] == [2012, 2016]
    assert src["world_pairs"] == {"first": 1, "deepening": 1}
    world_deep = src["world_korea_entries"]["deepening"]
    assert [(e["agreement"], e["entry_year"]) for e in world_deep] == [("KVFTA", 2015)]
    leave = sc.FtaChange("CHL", "KCFTA", "leave", 2026)
    (c,) = effect_sources(fta, [leave], ["any_fta"], panel_years=(1995, 2021))["changes"]
    assert (c["action"], c["kind"]) == ("leave", None)
    # no world panel (a partner-panel scenario): no world keys
    assert "world_pairs" not in effect_sources(fta, changes[:1], ["additional_agreement"],
                                               panel_years=(1995, 2021))  # fmt: skip
