"""The dependence share rebuilt from backtest partner forecasts: known answers and errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from exportcast.models.index_backtest import (
    INDEX_BACKTEST_COLUMNS,
    SUMMARY_COLUMNS,
    has_every_partner,
    index_backtest,
    summarize_index_backtest,
)

DEP = ("CHN", "USA")
HISTORY = {
    "CHN": [30, 33, 36, 40, 44],
    "USA": [20, 21, 22, 23, 24],
    "VNM": [10, 12, 14, 16, 18],
    "REST": [40, 42, 44, 46, 48],
}
YEARS = [2008, 2009, 2010, 2011, 2012]


def _series() -> pd.DataFrame:
    return pd.DataFrame(
        [
            {"unique_id": f"KOR|{code}", "ds": year, "y": float(y)}
            for code, values in HISTORY.items()
            for year, y in zip(YEARS, values, strict=True)
        ]
    )


def _actual(code: str, year: int) -> float:
    return float(HISTORY[code][YEARS.index(year)])


def _backtest() -> pd.DataFrame:
    # forecasts of "Selected" (and a decoy model) by (cutoff, year); VNM has no forecast at
    # cutoff 2010 (e.g. too short a history then); one negative forecast counts as zero
    selected = {
        (2009, 2010): {"CHN": 34, "USA": 22, "VNM": 12, "REST": 42},
        (2009, 2011): {"CHN": 35, "USA": 23, "VNM": -2, "REST": 43},
        (2010, 2011): {"CHN": 38, "USA": 22, "REST": 45},
        (2010, 2012): {"CHN": 40, "USA": 23, "REST": 46},
    }
    rows = [
        {
            "unique_id": f"KOR|{code}",
            "ds": year,
            "cutoff": cutoff,
            "y": _actual(code, year),
            "Selected": float(fc),
            "Naive": 1.0,
        }
        for (cutoff, year), by_code in selected.items()
        for code, fc in by_code.items()
    ]
    return pd.DataFrame(rows)


def test_shares_over_the_series_with_forecast_and_actual():
    out = index_backtest(_backtest(), _series(), "Selected", DEP)
    assert list(out.columns) == INDEX_BACKTEST_COLUMNS
    assert out[["cutoff", "year", "h"]].values.tolist() == [
        [2009, 2010, 1],
        [2009, 2011, 2],
        [2010, 2011, 1],
        [2010, 2012, 2],
    ]
    # REST is in every denominator; VNM only at cutoff 2009 (forecast, actual and no change)
    assert out["n_series"].tolist() == [4, 4, 3, 3]
    expected = {
        "forecast": [56 / 110, 58 / (35 + 23 + 0 + 43), 60 / 105, 63 / 109],
        "actual": [58 / 116, 63 / 125, 63 / (63 + 46), 68 / 116],
        "no_change": [54 / 108, 54 / 108, 58 / 102, 58 / 102],
    }
    for col, values in expected.items():
        np.testing.assert_allclose(out[col], values, rtol=1e-12, err_msg=col)


def test_another_model_and_row_order_do_not_matter():
    bt = _backtest().sample(frac=1.0, random_state=3)
    naive = index_backtest(bt, _series(), "Naive", ["USA"])
    # every forecast is 1.0: the share is 1 / number of series
    np.testing.assert_allclose(naive["forecast"], [1 / 4, 1 / 4, 1 / 3, 1 / 3])
    assert naive["cutoff"].is_monotonic_increasing


def test_a_missing_forecast_or_cutoff_value_drops_the_series_from_all_three_shares():
    bt = _backtest()
    bt.loc[(bt["unique_id"] == "KOR|VNM") & (bt["ds"] == 2010), "Selected"] = np.nan
    series = _series()
    series = series[~((series["unique_id"] == "KOR|REST") & (series["ds"] == 2010))]
    out = index_backtest(bt, series, "Selected", DEP).set_index(["cutoff", "year"])
    row = out.loc[(2009, 2010)]
    assert row["n_series"] == 3
    assert row["forecast"] == pytest.approx(56 / 98)
    assert row["actual"] == pytest.approx(58 / 102)
    assert row["no_change"] == pytest.approx(54 / 96)
    # REST has no value at the cutoff 2010: left out of both years of that origin
    assert out.loc[(2010, 2011), "n_series"] == 2
    assert out.loc[(2010, 2011), "forecast"] == pytest.approx(1.0)
    assert out.loc[(2009, 2011), "n_series"] == 4  # other cells keep every series


def test_summary_by_horizon_and_overall_in_points():
    frame = pd.DataFrame(
        {
            "cutoff": [2010, 2011, 2010, 2011],
            "year": [2011, 2012, 2012, 2013],
            "h": [1, 1, 2, 2],
            "forecast": [0.30, 0.40, 0.35, np.nan],
            "actual": [0.32, 0.37, 0.30, 0.31],
            "no_change": [0.31, 0.41, 0.33, 0.30],
            "n_series": [4, 4, 4, 4],
        }
    )
    s = summarize_index_backtest(frame)
    assert list(s.columns) == SUMMARY_COLUMNS
    assert s["h"].tolist() == [1, 2, "all"]
    assert s["n"].tolist() == [2, 1, 3]  # the row without a forecast is not scored
    np.testing.assert_allclose(s["mae"], [2.5, 5.0, 10 / 3])
    np.testing.assert_allclose(s["mae_no_change"], [2.5, 3.0, 8 / 3])
    np.testing.assert_allclose(s["bias"], [0.5, 5.0, 2.0])


def test_summary_of_the_hand_made_backtest():
    s = summarize_index_backtest(index_backtest(_backtest(), _series(), "Selected", DEP))
    overall = s.set_index("h").loc["all"]
    fc = np.array([56 / 110, 58 / 101, 60 / 105, 63 / 109])
    act = np.array([58 / 116, 63 / 125, 63 / 109, 68 / 116])
    nc = np.array([0.5, 0.5, 58 / 102, 58 / 102])
    assert overall["mae"] == pytest.approx(100 * np.abs(fc - act).mean())
    assert overall["mae_no_change"] == pytest.approx(100 * np.abs(nc - act).mean())
    assert overall["bias"] == pytest.approx(100 * (fc - act).mean())
    assert overall["n"] == 4


def test_summary_of_nothing_scored_is_empty_with_columns():
    frame = pd.DataFrame({c: [] for c in INDEX_BACKTEST_COLUMNS})
    s = summarize_index_backtest(frame)
    assert s.empty and list(s.columns) == SUMMARY_COLUMNS


@pytest.mark.parametrize(
    ("frame", "column", "where"),
    [("backtest", "cutoff", "backtest"), ("backtest", "y", "backtest"), ("series", "y", "series")],
)
def test_a_missing_column_is_named(frame, column, where):
    bt, series = _backtest(), _series()
    if frame == "backtest":
        bt = bt.drop(columns=[column])
    else:
        series = series.drop(columns=[column])
    with pytest.raises(ValueError, match=f"{where} has no column '{column}'"):
        index_backtest(bt, series, "Selected", DEP)


def test_a_missing_model_is_named():
    with pytest.raises(ValueError, match="no forecasts of model 'Theta'"):
        index_backtest(_backtest(), _series(), "Theta", DEP)


def test_a_dependence_partner_without_series_is_named():
    with pytest.raises(ValueError, match=r"dependence partner\(s\) JPN have no series"):
        index_backtest(_backtest(), _series(), "Selected", ["CHN", "JPN"])
    with pytest.raises(ValueError, match="dependence set is empty"):
        index_backtest(_backtest(), _series(), "Selected", [])


def test_a_cutoff_where_a_dependence_partner_is_in_rest_is_not_scored():
    # the split decided at each origin: at cutoff 2009 USA was inside REST (no series of its
    # own), so the China + US share cannot be computed there; 2010 is scored as before
    bt = _backtest()
    early = (bt["cutoff"] == 2009) & (bt["unique_id"] == "KOR|USA")
    out = index_backtest(bt.loc[~early], _series(), "Selected", DEP)
    assert out["cutoff"].unique().tolist() == [2010]
    full = index_backtest(bt, _series(), "Selected", DEP)
    pd.testing.assert_frame_equal(out, full.loc[full["cutoff"] == 2010].reset_index(drop=True))


def test_a_dependence_partner_in_rest_at_every_cutoff_leaves_nothing_to_score():
    # the partner has a live series (in the history) but none at any backtest origin
    bt = _backtest()
    out = index_backtest(bt.loc[bt["unique_id"] != "KOR|USA"], _series(), "Selected", DEP)
    assert out.empty and list(out.columns) == INDEX_BACKTEST_COLUMNS
    assert not has_every_partner(bt.loc[bt["unique_id"] != "KOR|USA"], DEP)
    assert has_every_partner(bt, DEP)
    assert summarize_index_backtest(out).empty


def test_the_partner_code_is_the_text_after_the_bar():
    # "KOR|USA" is USA; a reporter code equal to a dependence partner does not count
    bt = _backtest().assign(unique_id=lambda f: f["unique_id"].str.replace("KOR|", "USA|"))
    series = _series().assign(unique_id=lambda f: f["unique_id"].str.replace("KOR|", "USA|"))
    out = index_backtest(bt, series, "Selected", ["USA"])
    assert out.loc[0, "forecast"] == pytest.approx(22 / 110)


def test_summary_names_a_missing_column():
    frame = index_backtest(_backtest(), _series(), "Selected", DEP).drop(columns=["no_change"])
    with pytest.raises(ValueError, match="has no column 'no_change'"):
        summarize_index_backtest(frame)
