"""The WEO information set per origin: the as-of rule, the vintage, and no later information."""

import typing

import numpy as np
import pandas as pd
import pytest

from exportcast.configs.schema_forecast import ForecastConfig
from exportcast.features.outlook import (
    AS_OF_RULES,
    DEFAULT_AS_OF,
    as_of_date,
    known_at,
    outlook_at,
    vintage_at,
    vintages_by_origin,
)
from exportcast.flows.io import CODE_ROOT
from exportcast.flows.snapshot import load_snapshot


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    return load_snapshot(CODE_ROOT / "data" / "snapshot", ["weo_vintages"])["weo_vintages"]


def test_config_key_offers_exactly_the_rules_and_defaults_to_the_conservative_one():
    field = ForecastConfig.model_fields["weo_as_of"]
    assert typing.get_args(field.annotation) == AS_OF_RULES
    assert ForecastConfig().weo_as_of == DEFAULT_AS_OF == "fall_of_origin"
    with pytest.raises(ValueError, match="fall_of_origin"):
        ForecastConfig(weo_as_of="winter")


def test_as_of_rules_pick_the_fall_of_the_origin_or_the_next_spring(table):
    assert as_of_date(2008) == pd.Timestamp("2008-12-31")
    assert as_of_date(2008, "spring_after_origin") == pd.Timestamp("2009-06-30")
    assert vintage_at(table, 2008) == "F2008"
    assert vintage_at(table, 2008, rule="spring_after_origin") == "S2009"
    assert vintage_at(table, 1990) == "F1990"
    assert vintage_at(table, 2000, rule="spring_after_origin") == "S2001"  # May 15, 2001
    assert vintage_at(table, 2024, rule="spring_after_origin") == "F2024"  # no S2025 in the table
    assert vintage_at(table) == "F2025"  # live: the newest, the October 2025 WEO
    assert vintage_at(table, as_of="2009-04-14") == "F2008"
    assert vintage_at(table, as_of="2009-04-15") == "S2009"
    with pytest.raises(ValueError, match="no WEO vintage published by 1989-12-31"):
        vintage_at(table, 1989)
    with pytest.raises(ValueError, match="unknown WEO as-of rule"):
        vintages_by_origin(table, [2008], rule="winter")
    assert vintages_by_origin(table, [1989, 2008, 2018]) == {1989: "", 2008: "F2008", 2018: "F2018"}


def test_outlook_is_the_vintage_with_outturns_known_then(table):
    out = outlook_at(table, 2008, targets=["ngdp_rpch"])
    assert set(out["vintage"]) == {"F2008"}
    kor = out.loc[out["country"] == "KOR"].set_index("target_year")
    assert list(kor.index) == list(range(2008, 2014))
    assert kor.loc[2009, "prediction"] == pytest.approx(3.49, abs=0.01)
    assert kor["outturn"].isna().all()  # the outturn of 2008 is printed in October 2009
    past = known_at(table, 2008)
    assert past["published"].max() <= pd.Timestamp("2008-12-31")
    k = past.loc[(past["country"] == "KOR") & (past["target"] == "ngdp_rpch")]
    assert k.loc[k["target_year"] == 2007, "outturn"].notna().all()
    assert k.loc[k["target_year"] >= 2008, "outturn"].isna().all()
    live = outlook_at(table)
    assert set(live["vintage"]) == {"F2025"}


def _corrupt_after(table: pd.DataFrame, date: pd.Timestamp) -> pd.DataFrame:
    """Every vintage published after ``date`` x 1000 (and shifted), every outturn published
    after it replaced by noise."""
    late = (table["published"] > date).to_numpy()
    out = table.copy()
    out.loc[late, "prediction"] = out.loc[late, "prediction"] * 1000 + 7
    published = pd.to_datetime(
        pd.DataFrame({"year": table["target_year"] + 1, "month": 10, "day": 15})
    )
    unknown = (published > date).to_numpy()
    out.loc[unknown, "outturn"] = np.random.default_rng(0).normal(size=int(unknown.sum()))
    return out


@pytest.mark.parametrize("rule", AS_OF_RULES)
@pytest.mark.parametrize("origin", [1998, 2008, 2015])
def test_information_set_ignores_every_later_vintage_and_outturn(table, rule, origin):
    dirty = _corrupt_after(table, as_of_date(origin, rule))
    assert not dirty.equals(table)
    assert vintage_at(dirty, origin, rule=rule) == vintage_at(table, origin, rule=rule)
    pd.testing.assert_frame_equal(
        outlook_at(dirty, origin, rule=rule), outlook_at(table, origin, rule=rule)
    )
    pd.testing.assert_frame_equal(
        known_at(dirty, origin, rule=rule), known_at(table, origin, rule=rule)
    )
