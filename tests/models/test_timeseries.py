"""Naive/Drift maths by hand, statsmodels wrappers against direct statsmodels calls."""

from __future__ import annotations

import itertools
from pathlib import Path
from statistics import NormalDist

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from statsmodels.tsa.arima.model import ARIMA
from statsmodels.tsa.exponential_smoothing.ets import ETSModel
from statsmodels.tsa.forecasting.theta import ThetaModel

from exportcast.flows.snapshot import load_snapshot
from exportcast.models.timeseries import (
    AutoARIMA,
    DampedETS,
    Drift,
    Naive,
    Theta,
    _drift_forecast,
    _kpss_ndiffs,
    _naive_forecast,
    _theta_fit,
)
from tests.conftest import make_panel

ROOT = Path(__file__).resolve().parents[2]

Z80 = NormalDist().inv_cdf(0.9)
Z95 = NormalDist().inv_cdf(0.975)
Y = np.array([1.0, 2.0, 4.0, 7.0])


def _series(n_years: int = 26, uid: str = "S2", seed: int = 3) -> np.ndarray:
    df = make_panel(n_series=4, n_years=n_years, seed=seed)
    return df.loc[df["unique_id"] == uid, "y"].to_numpy()


def test_naive_repeats_last_value_with_random_walk_intervals() -> None:
    out = Naive().fit(Y).predict(2, level=[80, 95])
    np.testing.assert_allclose(out["mean"], [7.0, 7.0])
    # differences 1, 2, 3 -> sigma^2 = 14 / 3; sd at step k = sigma * sqrt(k)
    sd = np.sqrt(14 / 3) * np.sqrt([1.0, 2.0])
    np.testing.assert_allclose(out["lo-80"], 7 - Z80 * sd)
    np.testing.assert_allclose(out["hi-95"], 7 + Z95 * sd)


def test_drift_extends_first_to_last_line_with_slope_uncertainty() -> None:
    out = Drift().fit(Y).predict(2, level=[95])
    # slope (7 - 1) / 3 = 2
    np.testing.assert_allclose(out["mean"], [9.0, 11.0])
    # residuals -1, 0, 1 with one parameter -> sigma = 1; sd_k = sqrt(k (1 + k / 3))
    sd = np.sqrt([4 / 3, 10 / 3])
    np.testing.assert_allclose(out["lo-95"], out["mean"] - Z95 * sd)
    np.testing.assert_allclose(out["hi-95"], out["mean"] + Z95 * sd)


def test_log_drift_is_geometric_growth() -> None:
    y = np.array([100.0, 110.0, 121.0])
    np.testing.assert_allclose(Drift(log=True).fit(y).predict(2)["mean"], [133.1, 146.41])
    assert Drift(log=True).alias == "LogDrift"


def test_single_point_naive_has_nan_intervals() -> None:
    out = Naive().fit(np.array([5.0])).predict(2, level=[80])
    np.testing.assert_allclose(out["mean"], [5.0, 5.0])
    assert np.isnan(out["lo-80"]).all()


@given(
    st.lists(st.floats(-1e6, 1e6), min_size=2, max_size=40),
    st.integers(1, 10),
)
def test_drift_and_naive_forecasts_are_linear_in_the_step(values: list[float], h: int) -> None:
    y = np.array(values)
    np.testing.assert_allclose(_naive_forecast(y, h), np.full(h, y[-1]))
    path = _drift_forecast(y, h)
    steps = np.diff(np.r_[y[-1], path])
    np.testing.assert_allclose(steps, (y[-1] - y[0]) / (y.size - 1), atol=1e-6)


def test_theta_matches_statsmodels() -> None:
    y = _series()
    out = Theta().fit(y).predict(5, level=[80])
    res = ThetaModel(y, period=1, deseasonalize=False).fit()
    np.testing.assert_allclose(out["mean"], res.forecast(5, theta=2))
    pi = res.prediction_intervals(5, theta=2, alpha=0.2)
    np.testing.assert_allclose(out["lo-80"], pi["lower"])
    np.testing.assert_allclose(out["hi-80"], pi["upper"])


def test_theta_fit_is_statsmodels_fit_bit_for_bit_on_korea_partners() -> None:
    # the trimmed fit (models.timeseries._theta_fit) must give ThetaModel.fit()'s numbers to
    # the last bit: alpha, slope, one-step SES forecast, point forecasts and intervals; on
    # every fifth partner's history and its log, cut in the middle and whole (2,744 fits on
    # every partner at every other cut agreed too, 2026-12-04; about 45 s)
    snap = load_snapshot(ROOT / "data" / "snapshot", ["kor_exports"])
    exports = snap["kor_exports"]
    fits = 0
    for i, (_, rows) in enumerate(exports[exports["export_usd"] > 0].groupby("partner")):
        y = rows.sort_values("year")["export_usd"].to_numpy(dtype=float)
        if i % 5 or y.size < 5:
            continue
        for values in (y, np.log(y)):
            for part in (values[: max(5, values.size // 2)], values):
                if np.ptp(part) == 0:
                    continue
                ours = _theta_fit(part)
                ref = ThetaModel(part, period=1, deseasonalize=False).fit()
                assert (ours._alpha, ours._b0) == (ref._alpha, ref._b0)
                assert ours._one_step.tobytes() == np.asarray(ref._one_step).tobytes()
                assert ours.forecast(5).to_numpy().tobytes() == ref.forecast(5).to_numpy().tobytes()
                fits += 1
                if fits % 20 == 0:  # intervals estimate sigma2 lazily: the same model either way
                    got, want = ours.prediction_intervals(3), ref.prediction_intervals(3)
                    pd.testing.assert_frame_equal(got, want, check_exact=True)
    assert fits > 150


def test_log_theta_back_transforms_statsmodels_on_log_scale() -> None:
    y = _series()
    out = Theta(log=True).fit(y).predict(3, level=[95])
    res = ThetaModel(np.log(y), period=1, deseasonalize=False).fit()
    np.testing.assert_allclose(out["mean"], np.exp(res.forecast(3)))
    pi = res.prediction_intervals(3, alpha=0.05)
    np.testing.assert_allclose(out["hi-95"], np.exp(pi["upper"]))


def test_damped_ets_matches_statsmodels() -> None:
    y = _series()
    out = DampedETS().fit(y).predict(4, level=[95])
    res = ETSModel(pd.Series(y), error="add", trend="add", damped_trend=True).fit(disp=False)
    frame = res.get_prediction(start=y.size, end=y.size + 3).summary_frame(alpha=0.05)
    np.testing.assert_allclose(out["mean"], frame["mean"])
    np.testing.assert_allclose(out["lo-95"], frame["pi_lower"])
    np.testing.assert_allclose(out["hi-95"], frame["pi_upper"])


def test_auto_arima_matches_statsmodels_for_the_selected_order() -> None:
    y = _series()
    model = AutoARIMA().fit(y)
    out = model.predict(4, level=[80])
    res = ARIMA(y, order=model.order_, trend=model.trend_).fit()
    pred = res.get_forecast(4)
    np.testing.assert_allclose(out["mean"], pred.predicted_mean)
    np.testing.assert_allclose(out["lo-80"], pred.conf_int(alpha=0.2)[:, 0])
    np.testing.assert_allclose(out["hi-80"], pred.conf_int(alpha=0.2)[:, 1])


@pytest.mark.filterwarnings("ignore:Non-:UserWarning")
def test_auto_arima_picks_lowest_aicc_in_its_grid() -> None:
    y = _series(uid="S1")
    model = AutoARIMA().fit(y)
    d = _kpss_ndiffs(y, 1)
    assert model.order_[1] == d
    trends = ["c"] if d == 0 else ["t", "n"]
    aicc = {
        ((p, d, q), trend): ARIMA(y, order=(p, d, q), trend=trend).fit().aicc
        for p, q in itertools.product(range(3), range(3))
        if p + q <= 2
        for trend in trends
    }
    assert min(aicc, key=aicc.get) == (model.order_, model.trend_)


@pytest.mark.parametrize("model", [Theta(), DampedETS(), AutoARIMA()], ids=lambda m: m.alias)
def test_constant_series_raises_value_error(model) -> None:
    with pytest.raises(ValueError, match="constant"):
        model.fit(np.full(20, 3.0))


@pytest.mark.parametrize("model", [Drift(), Theta(), DampedETS(), AutoARIMA()])
def test_short_series_raises_value_error(model) -> None:
    with pytest.raises(ValueError, match="at least"):
        model.fit(np.array([1.0]))


def test_log_model_rejects_non_positive_values() -> None:
    with pytest.raises(ValueError, match="positive"):
        Theta(log=True).fit(np.r_[_series()[:10], 0.0])
