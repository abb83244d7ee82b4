import numpy as np
import pandas as pd
import pytest

from exportcast.models.engine import run_engine
from tests.conftest import make_panel


def _engine(seed=0, **kw):
    series = make_panel(n_series=6, n_years=30, seed=1)
    args = dict(
        h=3,
        models=["Naive", "Drift"],
        scored_origins=range(2018, 2025),
        history_origins=range(2008, 2018),
        n_paths=200,
        seed=seed,
    )
    return series, run_engine(series, **{**args, **kw})


def test_engine_outputs_forecast_intervals_accuracy_and_paths():
    _, r = _engine()
    assert r.model in {"Naive", "Drift", "Ensemble"}
    f = r.forecast
    assert list(f.columns) == [
        "unique_id",
        "ds",
        "model",
        "mean",
        "lo_80",
        "hi_80",
        "lo_95",
        "hi_95",
    ]
    assert set(f["ds"]) == {2030, 2031, 2032}
    assert (f["lo_95"] <= f["lo_80"]).all() and (f["hi_80"] <= f["hi_95"]).all()
    assert ((f["lo_80"] <= f["mean"]) & (f["mean"] <= f["hi_80"])).all()
    acc = r.accuracy.set_index("model")
    assert acc.loc["Naive", "relMASE"] == pytest.approx(1.0)
    assert {"Naive", "Drift", "Ensemble", "Selected"} <= set(acc.index)
    assert set(r.choices["cutoff"]) == set(range(2018, 2025))
    assert len(r.paths) == 200 * 6 * 3
    assert 0 <= r.coverage["coverage-80"] <= r.coverage["coverage-95"] <= 1


def test_engine_is_reproducible_under_seed():
    _, a = _engine(seed=7)
    _, b = _engine(seed=7)
    _, c = _engine(seed=8)
    pd.testing.assert_frame_equal(a.forecast, b.forecast)
    pd.testing.assert_frame_equal(a.paths, b.paths)
    assert not np.allclose(a.paths["y"], c.paths["y"])


def test_selected_backtest_never_uses_the_scored_years():
    series, r = _engine()
    # corrupt everything after 2020: choices and Selected forecasts for origins <= 2020 stay
    corrupt = series.assign(y=np.where(series["ds"] > 2020, series["y"] * 50, series["y"]))
    r2 = run_engine(
        corrupt,
        h=3,
        models=["Naive", "Drift"],
        scored_origins=range(2018, 2025),
        history_origins=range(2008, 2018),
        n_paths=200,
    )
    early = r.choices[r.choices["cutoff"] <= 2020]
    early2 = r2.choices[r2.choices["cutoff"] <= 2020]
    pd.testing.assert_frame_equal(early.reset_index(drop=True), early2.reset_index(drop=True))
    keep = ["unique_id", "ds", "cutoff", "Selected", "Selected-lo-80", "Selected-hi-95"]
    a = r.backtest.loc[r.backtest["cutoff"] <= 2020, keep].reset_index(drop=True)
    b = r2.backtest.loc[r2.backtest["cutoff"] <= 2020, keep].reset_index(drop=True)
    pd.testing.assert_frame_equal(a, b)


def test_unknown_model_is_a_clear_error():
    series = make_panel(n_series=2, n_years=20)
    with pytest.raises(ValueError, match="unknown model"):
        run_engine(series, h=2, models=["Prophet"], scored_origins=[2015], history_origins=[2010])


def test_backtest_and_live_forecast_are_floored_at_zero_like_published_exports():
    from exportcast.models.forecasting import cross_validate, forecast_panel
    from exportcast.models.timeseries import Drift

    years = np.arange(2000, 2030)
    # flat, then a collapse: the drift of a scored origin extrapolates below zero
    y = np.where(years <= 2022, 300.0, np.maximum(300.0 - 100.0 * (years - 2022), 5.0))
    falling = pd.DataFrame({"unique_id": "falling", "ds": years, "y": y})
    series = pd.concat([falling, make_panel(n_series=3, n_years=30, seed=2)], ignore_index=True)
    r = run_engine(
        series,
        h=3,
        models=["Naive", "Drift"],
        scored_origins=range(2024, 2027),
        history_origins=range(2015, 2024),
        n_paths=50,
    )
    raw = cross_validate(series, [Drift()], 3, origins=range(2024, 2027))
    assert (raw.loc[raw["unique_id"] == "falling", "Drift"] < 0).any()  # the raw drift dips
    bt = r.backtest.merge(raw, on=["unique_id", "ds", "cutoff"], suffixes=("", "_raw"))
    np.testing.assert_allclose(bt["Drift"], bt["Drift_raw"].clip(lower=0))
    assert (r.backtest[["Naive", "Drift", "Ensemble", "Selected"]] >= 0).all().all()
    assert (r.forecast[["mean", "lo_80", "hi_80", "lo_95", "hi_95"]] >= 0).all().all()
    # live: a Drift-only engine publishes max(0, drift), bounds 0 where the drift is <= 0
    d = run_engine(
        series,
        h=3,
        models=["Drift"],
        scored_origins=range(2024, 2027),
        history_origins=range(2015, 2024),
        n_paths=50,
    )
    f = d.forecast.merge(forecast_panel(series, [Drift()], 3), on=["unique_id", "ds"])
    assert (f["Drift"] < 0).any()
    np.testing.assert_allclose(f["mean"], f["Drift"].clip(lower=0))
    assert (f.loc[f["Drift"] <= 0, ["lo_80", "hi_80", "lo_95", "hi_95"]] == 0).all().all()


def test_origins_without_past_errors_at_every_step_are_not_scored():
    from exportcast.models.backtest_stage import BacktestCoverageError, scorable_origins

    # 30 series of 2000-2029: at origin S every step 1..3 needs 19 past errors (95 % bound)
    series = make_panel(n_series=30, n_years=30, seed=3)
    first = int(series["ds"].min())
    from exportcast.models.forecasting import cross_validate
    from exportcast.models.timeseries import Naive

    cv = cross_validate(series, [Naive()], 3, origins=range(first + 2, first + 20))
    ok = scorable_origins(cv, range(first + 3, first + 20), 3, (80, 95))
    # origin first+2 is the first backtest origin: step 3 needs a target <= S, so S >= first+5
    assert ok[0] == first + 5 and ok == list(range(first + 5, first + 20))
    # the engine scores only those
    r = run_engine(
        series,
        h=3,
        models=["Naive", "Drift"],
        scored_origins=range(first + 3, first + 20),
        history_origins=range(first + 2, first + 3),
        n_paths=50,
    )
    assert sorted(r.choices["cutoff"]) == ok
    assert set(r.backtest["cutoff"]) == set(ok)
    with pytest.raises(BacktestCoverageError, match=r"no scored backtest origin .* step 1-3"):
        scorable_origins(cv, range(first + 3, first + 5), 3, (80, 95))
    # 1 series: too few errors per step for a finite 95 % bound at any origin
    one = cv[cv["unique_id"] == cv["unique_id"].iat[0]]
    with pytest.raises(BacktestCoverageError, match="19 past errors"):
        scorable_origins(one, range(first + 5, first + 20), 3, (80, 95))
