"""The demand model: its information set (leakage test), its WEO outlook and the engine hook."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from exportcast.models.backtest_stage import add_panel_backtests
from exportcast.models.demand import DemandModel, asof_fall, weo_outlook
from exportcast.models.engine import run_engine
from exportcast.models.protocol import PanelForecaster

# 16 partners: fewer than 255 training rows per origin (16 partners x a 12-year window), so
# the booster bins by distinct values instead of computing weighted percentiles (one
# forecast: 1.9 s of CPU with 24 partners, 1.1 s with 16). With 12 the small booster made
# no split on the outlook and the vintage test below could not tell two WEOs apart.
PARTNERS = [f"P{i:02d}" for i in range(16)]
YEARS = range(1990, 2013)
FAST = {"max_iter": 20}  # a small booster: the tests check the information set, not accuracy


def _weo(seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for country in [*PARTNERS, "WLD", "USA"]:
        trend = rng.normal(3, 1.5)
        for vy in range(1988, 2016):
            for season, month in (("S", 4), ("F", 10)):
                for target, base in (("ngdp_rpch", trend), ("pcpi_pch", 3.0)):
                    for ty in range(vy, vy + 6):
                        rows.append(
                            (country, vy, season, pd.Timestamp(vy, month, 15), target, ty,
                             base + rng.normal(0, 1), base + rng.normal(-0.5, 1.5))
                        )  # fmt: skip
    return pd.DataFrame(
        rows,
        columns=[
            "country", "vintage_year", "season", "published", "target", "target_year",
            "prediction", "outturn",
        ],
    )  # fmt: skip


def _series(weo: pd.DataFrame, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    fall = weo.loc[(weo["season"] == "F") & (weo["target"] == "ngdp_rpch")]
    growth = fall.groupby(["country", "target_year"])["outturn"].first()
    rows = []
    for p in PARTNERS:
        level = np.exp(rng.normal(18, 2))
        for y in YEARS:
            level *= np.exp(growth[(p, y)] / 50 + rng.normal(0, 0.1))
            rows.append((f"KOR|{p}", y, level))
    return pd.DataFrame(rows, columns=["unique_id", "ds", "y"])


def _exog(series: pd.DataFrame, seed: int = 2) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return series.assign(market=series["y"] * np.exp(rng.normal(3, 0.3, len(series))))[
        ["unique_id", "ds", "market"]
    ]


def _corrupt(weo, series, exog, origin):
    """Everything an origin-``T`` forecast may not know, replaced by noise."""
    rng = np.random.default_rng(99)
    asof = asof_fall(origin)
    weo = weo.copy()
    late = (weo["published"] > asof).to_numpy()
    weo.loc[late, "prediction"] = rng.normal(50, 30, late.sum())
    # an outturn is first published in the fall WEO after its target year
    unseen = (pd.to_datetime((weo["target_year"] + 1).astype(str) + "-10-15") > asof).to_numpy()
    weo.loc[unseen, "outturn"] = rng.normal(-50, 30, unseen.sum())
    after = (series["ds"] > origin).to_numpy()
    series = series.copy()
    series.loc[after, "y"] = rng.uniform(1, 1e12, after.sum())
    exog = exog.copy()
    later = (exog["ds"] > origin).to_numpy()
    exog.loc[later, "market"] = rng.uniform(1, 1e12, later.sum())
    return weo, series, exog


@pytest.fixture(scope="module")
def data():
    weo = _weo()
    series = _series(weo)
    return weo, series, _exog(series)


@pytest.mark.slow  # runs the engine with the demand model: 75-100 s under load 10-25
def test_backtest_never_sees_later_data_or_vintages(data):
    weo, series, exog = data
    model = DemandModel(weo, exog, window=12, params=FAST)
    cv = model.backtest(series, [2005, 2007], 3)
    assert set(cv["cutoff"]) == {2005, 2007}
    for origin in (2005, 2007):
        bad_weo, bad_series, bad_exog = _corrupt(weo, series, exog, origin)
        corrupted = DemandModel(bad_weo, bad_exog, window=12, params=FAST).backtest(
            bad_series, [origin], 3
        )
        ours = cv.loc[cv["cutoff"] == origin].drop(columns="y").reset_index(drop=True)
        theirs = corrupted.drop(columns="y").reset_index(drop=True)
        pd.testing.assert_frame_equal(ours, theirs)


def test_forecast_uses_the_vintage_known_at_the_origin(data):
    weo, series, exog = data
    base = DemandModel(weo, exog, window=12, params=FAST).forecast_at(series, 2007, 3)
    # the fall 2007 WEO is known at the 2007 origin: changing it changes the forecast
    moved = weo.copy()
    now = (moved["vintage_year"] == 2007) & (moved["season"] == "F")
    moved.loc[now, "prediction"] += 8.0
    other = DemandModel(moved, exog, window=12, params=FAST).forecast_at(series, 2007, 3)
    assert not np.allclose(base["Demand"], other["Demand"])
    assert len(base) == len(PARTNERS) * 3 and np.isfinite(base["Demand"]).all()


def test_weo_outlook_reads_the_newest_vintage_by_the_asof_date(data):
    weo, _, _ = data
    out = weo_outlook(weo, 2005, 2, asof_fall(2005))
    f2005 = weo.loc[(weo["vintage_year"] == 2005) & (weo["season"] == "F")]
    row = f2005.loc[(f2005["country"] == "P03") & (f2005["target"] == "ngdp_rpch")]
    pred = row.set_index("target_year")["prediction"]
    expected = np.log1p(pred[2006] / 100) + np.log1p(pred[2007] / 100)
    assert out.loc["P03", "gdp_2"] == pytest.approx(expected)
    assert out.loc["P03", "gdp_now"] == pytest.approx(pred[2005])
    # spring 2005 only: an origin-2005 forecast made in May sees S2005, not F2005
    spring = weo_outlook(weo, 2005, 2, pd.Timestamp(2005, 5, 1))
    s2005 = weo.loc[(weo["vintage_year"] == 2005) & (weo["season"] == "S")]
    srow = s2005.loc[(s2005["country"] == "P03") & (s2005["target"] == "ngdp_rpch")]
    assert spring.loc["P03", "gdp_now"] == pytest.approx(
        srow.set_index("target_year")["prediction"][2005]
    )


def test_weo_frame_missing_columns_is_a_clear_error(data):
    weo, _, _ = data
    with pytest.raises(ValueError, match="outturn"):
        DemandModel(weo.drop(columns="outturn"))


@pytest.mark.slow  # runs the engine with the demand model: 75-100 s under load 10-25
def test_engine_takes_the_demand_model_as_a_candidate(data):
    weo, series, exog = data
    model = DemandModel(weo, exog, window=12, params=FAST)
    assert isinstance(model, PanelForecaster)
    result = run_engine(
        series,
        h=3,
        models=["Naive", "Drift"],
        scored_origins=[2008, 2009],
        history_origins=list(range(2000, 2008)),
        levels=(80,),
        n_paths=50,
        panel_models=[model],
    )
    assert "Demand" in set(result.accuracy["model"])
    assert "Demand" in result.backtest.columns
    assert result.backtest["Demand"].notna().all()
    assert len(result.forecast) == len(PARTNERS) * 3


def _cv_of(history: pd.DataFrame) -> pd.DataFrame:
    # the backtest rows of per-origin histories: each origin's actuals after the cutoff
    rows = history.loc[
        (history["ds"] > history["cutoff"]) & (history["ds"] <= history["cutoff"] + 3)
    ]
    return rows[["unique_id", "ds", "cutoff", "y"]].reset_index(drop=True)


def test_panel_backtest_runs_on_the_histories_known_at_each_origin(data):
    weo, series, exog = data
    # the partner P00 is not modelled on its own at origin 2006 (e.g. it faded then)
    h2006 = series.loc[series["unique_id"] != "KOR|P00"].assign(cutoff=2006)
    h2007 = series.assign(cutoff=2007)
    history = pd.concat([h2006, h2007], ignore_index=True)
    model = DemandModel(weo, exog, window=12, params=FAST)
    cv = add_panel_backtests(_cv_of(history), series, [model], [2006, 2007], 3, history=history)
    assert cv["Demand"].notna().all()
    assert "KOR|P00" not in set(cv.loc[cv["cutoff"] == 2006, "unique_id"])
    alone = model.backtest(h2006.drop(columns="cutoff"), [2006], 3)
    got = cv.loc[cv["cutoff"] == 2006].sort_values(["unique_id", "ds"])["Demand"].to_numpy()
    assert np.allclose(got, alone.sort_values(["unique_id", "ds"])["Demand"].to_numpy())


def test_panel_backtest_names_a_row_left_without_forecast(data):
    weo, series, exog = data
    model = DemandModel(weo, exog, window=12, params=FAST)
    cv = _cv_of(series.assign(cutoff=2007))
    extra = cv.iloc[:1].assign(unique_id="KOR|XXX")
    with pytest.raises(ValueError, match=r"'Demand'.*KOR\|XXX.*cutoff=2007"):
        add_panel_backtests(pd.concat([cv, extra]), series, [model], [2007], 3)


@pytest.mark.slow  # runs the engine with the demand model: 75-100 s under load 10-25
def test_pipeline_adds_the_demand_candidate_when_configured(data):
    from exportcast.configs.schema_forecast import ForecastConfig
    from exportcast.features.series import ForecastSeries
    from exportcast.flows.pipeline import forecast_partners

    weo, series, exog = data
    partners = [u.split("|")[1] for u in series["unique_id"].unique()]
    tables = {
        "weo_vintages": weo,
        "indicators": exog.assign(
            country=exog["unique_id"].str.split("|").str[1], pop_growth_pct=1.0
        ).rename(columns={"ds": "year", "market": "merch_imports_usd"}),
        "pairs": pd.DataFrame({"reporter": "KOR", "partner": partners, "distance_km": 5000.0}),
        "fta": pd.DataFrame(
            {"reporter": ["KOR"], "partner": ["P01"], "in_force_date": [pd.Timestamp("2004-01-01")]}
        ),
    }
    fs = ForecastSeries(series, tuple(partners), (), len(partners), int(series["ds"].max()))
    settings = ForecastConfig(
        backtest={"start": 2008, "end": 2009},
        history_start=2003,
        levels=(80,),
        n_paths=50,
        n_jobs=1,
        demand_model=True,
    ).model_dump(mode="json")
    result = forecast_partners.fn(fs, 3, settings, cache_key=None, demand_tables=tables)
    assert "Demand" in set(result.accuracy["model"])
    with pytest.raises(ValueError, match="weo_vintages"):
        forecast_partners.fn(fs, 3, settings, cache_key=None, demand_tables=None)
