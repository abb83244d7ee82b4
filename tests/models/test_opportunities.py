"""Diversification opportunities: exact decomposition, invariances, ranking and labels."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from exportcast.models.opportunities import (
    OPPORTUNITY_COLUMNS,
    REST,
    UNKNOWN_FTA,
    dependence_contributions,
    fta_labels,
    opportunities,
)

DEP = ("CHN", "USA")
COUNTRIES = pd.DataFrame(
    {
        "country": ["CHN", "USA", "VNM", "IND", "DEU", "MEX", "AAA"],
        "name": ["China", "United States", "Viet Nam", "India", "Germany", "Mexico", "Aland"],
        "income_group": [
            "Upper middle income",
            "High income",
            "Lower middle income",
            "Lower middle income",
            "High income",
            "Upper middle income",
            "High income",
        ],
    }
)
FTA = pd.DataFrame(
    {
        "reporter": ["KOR"] * 5,
        "partner": ["VNM", "VNM", "IND", "MEX", "DEU"],
        "status": [
            "concluded_not_signed",
            "in_force",
            "in_force_date_unknown",
            "signed_pending",
            "exited",
        ],
    }
)
DIST = pd.DataFrame(
    {"partner": ["CHN", "USA", "VNM", "IND", "DEU"], "distance_km": [1, 2, 3, 4, 5]}
)


def _frames(start: dict[str, float], end: dict[str, float], *, horizon: int = 5, small=None):
    history = pd.DataFrame(
        [{"partner": p, "year": 2023, "export_usd": v} for p, v in start.items()]
        + [{"partner": p, "year": 2022, "export_usd": v * 0.9} for p, v in start.items()]
        + [{"partner": p, "year": 2023, "export_usd": v} for p, v in (small or {}).items()]
    )
    forecasts = pd.DataFrame(
        [{"partner": p, "year": 2023 + horizon, "mean": v} for p, v in end.items()]
        + [{"partner": p, "year": 2024, "mean": v} for p, v in end.items()]
    )
    return forecasts, history


def _run(forecasts, history, horizon=5):
    return opportunities(
        forecasts,
        history,
        dependence_set=DEP,
        horizon=horizon,
        countries=COUNTRIES,
        fta_status=FTA,
        distances=DIST,
    )


def _dep_share(values: dict[str, float]) -> float:
    return sum(v for k, v in values.items() if k in DEP) / sum(values.values())


def test_opportunities_columns_ranking_and_exclusions():
    start = {"CHN": 100, "USA": 80, "VNM": 30, "IND": 20, "DEU": 25, REST: 50}
    end = {"CHN": 110, "USA": 85, "VNM": 60, "IND": 35, "DEU": 20, REST: 60}
    out = _run(*_frames(start, end))
    assert list(out.columns) == OPPORTUNITY_COLUMNS
    assert set(out["partner"]) == {"VNM", "IND", "DEU"}  # no CHN, USA, REST
    assert list(out["partner"]) == ["VNM", "IND", "DEU"]
    assert list(out["rank"]) == [1, 2, 3]
    assert out["contribution_ddep"].is_monotonic_increasing
    row = out.set_index("partner").loc["VNM"]
    assert row["name"] == "Viet Nam"
    assert row["current_share"] == pytest.approx(30 / 305)
    assert row["forecast_share"] == pytest.approx(60 / 370)
    assert row["forecast_growth_pct"] == pytest.approx(100 * (2 ** (1 / 5) - 1))
    assert row["contribution_dhhi"] == pytest.approx(1e4 * ((60 / 370) ** 2 - (30 / 305) ** 2))
    assert row["contribution_ddep"] == pytest.approx(-(180 / 305) * 30 / 370)
    assert row["fta_status"] == "in force"
    assert row["distance_km"] == 3
    assert out.set_index("partner").loc["DEU", "contribution_ddep"] > 0  # shrinking raises D


def test_open_registries_keep_their_row_but_no_rank_by_default():
    # Marshall Islands grows fastest (ships registered there count as exports to it)
    start = {"CHN": 100, "USA": 80, "VNM": 30, "MHL": 20, "DEU": 25, REST: 50}
    end = {"CHN": 110, "USA": 85, "VNM": 60, "MHL": 90, "DEU": 20, REST: 60}
    forecasts, history = _frames(start, end)
    out = _run(forecasts, history)
    assert list(out.columns) == OPPORTUNITY_COLUMNS
    assert list(out["partner"]) == ["VNM", "DEU", "MHL"]  # the data keeps every partner
    assert out["rank"].tolist()[:2] == [1, 2] and pd.isna(out["rank"].iloc[2])
    assert out.set_index("partner")["open_registry"].to_dict() == {
        "VNM": False,
        "DEU": False,
        "MHL": True,
    }
    ranked = opportunities(
        forecasts,
        history,
        dependence_set=DEP,
        horizon=5,
        countries=COUNTRIES,
        fta_status=FTA,
        distances=DIST,
        exclude_open_registries=False,
    )
    assert list(ranked["partner"]) == ["MHL", "VNM", "DEU"]  # most negative contribution first
    assert ranked["rank"].tolist() == [1, 2, 3]
    assert ranked["open_registry"].tolist() == [True, False, False]
    # the same numbers either way: only the ranking changes
    cols = ["partner", "contribution_ddep", "forecast_growth_pct"]
    a = out[cols].sort_values("partner").reset_index(drop=True)
    pd.testing.assert_frame_equal(a, ranked[cols].sort_values("partner").reset_index(drop=True))


def test_small_history_partners_count_in_rest():
    start = {"CHN": 100, "USA": 80, "VNM": 30, REST: 10}
    end = {"CHN": 100, "USA": 80, "VNM": 30, REST: 10}
    forecasts, history = _frames(start, end, small={"AAA": 40})
    out = _run(forecasts, history)
    # REST starts at 10 + 40 = 50 of 260; everything else is flat.
    assert out.set_index("partner").loc["VNM", "current_share"] == pytest.approx(30 / 260)


def test_history_partner_without_forecast_or_rest_raises():
    forecasts, history = _frames({"CHN": 1, "VNM": 1}, {"CHN": 1, "VNM": 1}, small={"AAA": 1})
    with pytest.raises(ValueError, match="neither forecast nor in REST"):
        _run(forecasts, history)


def test_missing_end_year_raises():
    forecasts, history = _frames({"CHN": 1, "VNM": 1}, {"CHN": 1, "VNM": 1}, horizon=3)
    with pytest.raises(ValueError, match="end year 2028"):
        _run(forecasts, history, horizon=5)


def test_fta_labels_pick_most_advanced_state():
    labels = fta_labels(FTA)
    assert labels.to_dict() == {
        "DEU": "none",
        "IND": "in force",
        "MEX": "signed pending",
        "VNM": "in force",
    }


partners = st.lists(
    st.sampled_from(["CHN", "USA", "VNM", "IND", "DEU", "MEX", REST]),
    min_size=3,
    max_size=7,
    unique=True,
)
value = st.floats(min_value=0.0, max_value=1e6, allow_nan=False)


@st.composite
def start_end(draw):
    codes = draw(partners)
    start = {c: draw(value) for c in codes}
    end = {c: draw(value) for c in codes}
    start[codes[0]] += 1.0  # totals positive
    end[codes[0]] += 1.0
    return start, end


@settings(max_examples=200, deadline=None)
@given(start_end())
@example(({"CHN": 1.0, "USA": 999988.0, "VNM": 500000.0}, {"CHN": 1.0, "USA": 0.0, "VNM": 0.0}))
@example(({"VNM": 1.0, "CHN": 0.0, "USA": 37934.0}, {"VNM": 1.0, "CHN": 0.0, "USA": 0.0}))
def test_contributions_sum_to_change_of_dependence_share(pair):
    start, end = pair
    terms = dependence_contributions(pd.Series(start), pd.Series(end), DEP)
    # Exact in real arithmetic. In floats each term (1[i in set] - D) * (x'_i - x_i) / X'
    # carries the rounding of D (a few ulps of 1) times |x'_i - x_i| / X', which reaches 1e6
    # when the end total is a millionth of the start (Hypothesis found 1.2e-10 and 1.0e-12 of
    # rounding in such cases against fixed bounds), so the bound is a few ulps of that size
    change = sum(abs(end[k] - start[k]) for k in end) / sum(end.values())
    rounding = 1e-12 + 8 * np.finfo(float).eps * len(terms) * (1.0 + change)
    assert terms.sum() == pytest.approx(_dep_share(end) - _dep_share(start), abs=rounding)


@settings(max_examples=100, deadline=None)
@given(start_end(), st.randoms(use_true_random=False))
def test_contributions_invariant_to_partner_order(pair, rnd):
    start, end = pair
    order = list(start)
    rnd.shuffle(order)
    a = dependence_contributions(pd.Series(start), pd.Series(end), DEP)
    b = dependence_contributions(
        pd.Series({k: start[k] for k in order}), pd.Series({k: end[k] for k in order}), DEP
    )
    pd.testing.assert_series_equal(a.sort_index(), b.sort_index())


@settings(max_examples=100, deadline=None)
@given(start_end(), st.randoms(use_true_random=False))
def test_opportunities_invariant_to_row_order(pair, rnd):
    start, end = pair
    forecasts, history = _frames(start, end)
    a = _run(forecasts, history)
    b = _run(forecasts.sample(frac=1, random_state=rnd.randint(0, 99)), history[::-1])
    pd.testing.assert_frame_equal(a, b)


@settings(max_examples=200, deadline=None)
@given(
    st.floats(min_value=1.0, max_value=1e5),
    st.floats(min_value=1.0, max_value=1e5),
    st.floats(min_value=0.01, max_value=3.0),
    st.floats(min_value=0.01, max_value=3.0),
)
def test_faster_growing_partner_lowers_dependence_more(dep, other, g_slow, extra):
    # VNM and IND start equal; IND grows faster: its term must be lower (more negative).
    start = {"CHN": dep, "USA": dep / 2, "VNM": 10.0, "IND": 10.0, REST: other}
    end = {
        "CHN": dep,
        "USA": dep / 2,
        "VNM": 10.0 * g_slow,
        "IND": 10.0 * (g_slow + extra),
        REST: other,
    }
    out = _run(*_frames(start, end)).set_index("partner")
    assert out.loc["IND", "contribution_ddep"] < out.loc["VNM", "contribution_ddep"]
    assert out.loc["IND", "forecast_growth_pct"] > out.loc["VNM", "forecast_growth_pct"]


@settings(max_examples=100, deadline=None)
@given(start_end())
def test_table_plus_excluded_terms_equal_change(pair):
    start, end = pair
    forecasts, history = _frames(start, end)
    out = _run(forecasts, history)
    excluded = dependence_contributions(pd.Series(start), pd.Series(end), DEP)
    excluded = excluded[excluded.index.isin([*DEP, REST])].sum()
    total = out["contribution_ddep"].sum() + excluded
    assert total == pytest.approx(
        _dep_share(end) - _dep_share(start), abs=1e-10
    )  # float rounding only
    assert np.isfinite(out["contribution_ddep"]).all()


def test_tables_of_every_reporter_are_narrowed_to_the_history_reporter():
    start = {"CHN": 100, "USA": 80, "VNM": 30, REST: 50}
    forecasts, history = _frames(start, start)
    history = history.assign(reporter="KOR")
    dist = pd.concat(
        [
            pd.DataFrame({"reporter": "ABW", "partner": ["VNM"], "distance_km": [15000.0]}),
            pd.DataFrame({"reporter": "KOR", "partner": ["VNM"], "distance_km": [2700.0]}),
        ]
    )
    fta = pd.DataFrame({"reporter": ["JPN", "KOR"], "partner": ["VNM", "VNM"]})
    fta = fta.assign(status=["in_force", "signed_pending"])
    out = opportunities(
        forecasts,
        history,
        dependence_set=DEP,
        horizon=5,
        countries=COUNTRIES,
        fta_status=fta,
        distances=dist,
    ).set_index("partner")
    assert out.loc["VNM", "distance_km"] == 2700.0
    assert out.loc["VNM", "fta_status"] == "signed pending"
    # a reporter the FTA table does not cover: unknown, not "none"
    out = opportunities(
        forecasts,
        history.assign(reporter="THA"),
        dependence_set=DEP,
        horizon=5,
        countries=COUNTRIES,
        fta_status=fta,
        distances=dist.assign(reporter="THA"),
    ).set_index("partner")
    assert out.loc["VNM", "fta_status"] == UNKNOWN_FTA == "not in the data"


def test_partner_gdp_growth_is_the_weo_mean_over_the_forecast_years_only():
    start = {"CHN": 100, "USA": 80, "VNM": 30, "IND": 20, "DEU": 25, REST: 50}
    end = {"CHN": 110, "USA": 85, "VNM": 60, "IND": 35, "DEU": 20, REST: 60}
    forecasts, history = _frames(start, end)
    years = list(range(2020, 2031))
    weo = pd.DataFrame(
        [{"country": "VNM", "year": y, "weo_gdp_growth_pct": float(y - 2000)} for y in years]
        + [{"country": "IND", "year": 2026, "weo_gdp_growth_pct": 6.5}]
    )
    out = opportunities(
        forecasts, history, dependence_set=DEP, horizon=5, countries=COUNTRIES,
        fta_status=FTA, distances=DIST, indicators=weo,
    ).set_index("partner")  # fmt: skip
    # 2024..2028 only: not the origin year 2023, not 2029-2030
    assert out.loc["VNM", "partner_gdp_growth_pct"] == pytest.approx(26.0)
    assert out.loc["IND", "partner_gdp_growth_pct"] == pytest.approx(6.5)
    assert np.isnan(out.loc["DEU", "partner_gdp_growth_pct"])  # no WEO rows
    assert _run(forecasts, history)["partner_gdp_growth_pct"].isna().all()  # no indicators
    with pytest.raises(ValueError, match="weo_gdp_growth_pct"):
        opportunities(
            forecasts, history, dependence_set=DEP, horizon=5, countries=COUNTRIES,
            fta_status=FTA, distances=DIST, indicators=weo.drop(columns="weo_gdp_growth_pct"),
        )  # fmt: skip
