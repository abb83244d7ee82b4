import numpy as np
import pandas as pd
import pandas.testing as pdt
import pytest
from sklearn.exceptions import NotFittedError
from threadpoolctl import threadpool_limits

from research.global_model import FEATURES, GlobalShareModel, rolling_origin_forecast

FAST = {"max_iter": 15, "min_samples_leaf": 5}
H = 3


@pytest.fixture(autouse=True)
def _one_thread():
    # The test machine is shared; OpenMP oversubscription makes boosting crawl.
    with threadpool_limits(1):
        yield


def make_panel(n: int, years=range(2000, 2020), seed: int = 0, prefix: str = "s") -> pd.DataFrame:
    """Positive random-walk series with a group total and a market column."""
    rng = np.random.default_rng(seed)
    years = list(years)
    level = np.exp(
        rng.normal(15, 2, size=(n, 1)) + np.cumsum(rng.normal(0.03, 0.2, (n, len(years))), 1)
    )
    frame = pd.DataFrame(
        {
            "unique_id": np.repeat([f"{prefix}{i:03d}" for i in range(n)], len(years)),
            "ds": np.tile(years, n),
            "y": level.ravel(),
        }
    )
    frame["total"] = frame.groupby("ds")["y"].transform("sum")
    frame["market"] = frame["y"] * rng.uniform(5, 20, size=len(frame))
    return frame


def corrupt_after(frame: pd.DataFrame, t: int, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    out = frame.copy()
    late = out["ds"] > t
    for col in ("y", "total", "market"):
        out.loc[late, col] = rng.uniform(0, 1e12, size=late.sum())
    return out


def model(**kw) -> GlobalShareModel:
    return GlobalShareModel(h=H, n_extra=300, params=FAST, **kw)


def test_output_shape_and_naive_fallback():
    df = make_panel(8)
    df.loc[(df["unique_id"] == "s000") & (df["ds"] == 2019), "y"] = 0.0  # no positive last value
    fc = model().fit(df, extra=make_panel(20, seed=3, prefix="x")).predict()
    assert list(fc.columns) == ["unique_id", "ds", "y_hat", "method"]
    assert len(fc) == 8 * H
    assert fc.groupby("unique_id")["ds"].apply(list).map(lambda v: v == [2020, 2021, 2022]).all()
    assert np.isfinite(fc["y_hat"]).all() and (fc["y_hat"] >= 0).all()
    first = fc.loc[fc["unique_id"] == "s000"]
    assert (first["method"] == "naive").all() and (first["y_hat"] == 0).all()
    assert (fc.loc[fc["unique_id"] != "s000", "method"] == "global").all()
    assert FEATURES[-1] == "h"


def test_deterministic_under_seed():
    df, extra = make_panel(10), make_panel(30, seed=5, prefix="x")
    a = model(seed=7).fit(df, extra=extra).predict()
    b = model(seed=7).fit(df, extra=extra).predict()
    pdt.assert_frame_equal(a, b)
    c = model(seed=8).fit(df, extra=extra).predict()
    assert not np.allclose(a["y_hat"], c["y_hat"])  # the seed matters (sample of extra rows)


def test_no_leakage_fit_on_cut_frame_ignores_later_extra_rows():
    t = 2013
    df, extra = make_panel(10), make_panel(30, seed=5, prefix="x")
    cut = df.loc[df["ds"] <= t]
    a = model().fit(cut, extra=extra).predict()
    b = model().fit(cut, extra=corrupt_after(extra, t)).predict()
    pdt.assert_frame_equal(a, b)
    assert a["ds"].min() == t + 1


def test_no_leakage_rolling_origin_and_equal_to_cut_fit():
    origins = [2010, 2013]
    df, extra = make_panel(10), make_panel(30, seed=5, prefix="x")
    clean = rolling_origin_forecast(df, origins, extra=extra, model=model())
    for t in origins:
        bad = rolling_origin_forecast(
            corrupt_after(df, t), [t], extra=corrupt_after(extra, t, seed=2), model=model()
        )
        pdt.assert_frame_equal(
            clean.loc[clean["origin"] == t].reset_index(drop=True), bad.reset_index(drop=True)
        )
        cut = model().fit(df.loc[df["ds"] <= t], extra=extra).predict()
        got = clean.loc[clean["origin"] == t].drop(columns="origin").reset_index(drop=True)
        pdt.assert_frame_equal(got, cut)


def test_total_defaults_to_frame_sum_and_future_total_scales():
    df = make_panel(6).drop(columns=["total", "market"])
    m = model().fit(df)
    flat = m.predict()
    last = df.loc[df["ds"] == 2019]
    future = pd.DataFrame(
        {
            "unique_id": np.repeat(last["unique_id"].to_numpy(), H),
            "ds": np.tile([2020, 2021, 2022], len(last)),
            "total": np.tile(last["y"].sum() * np.array([1.1, 1.2, 1.3]), len(last)),
        }
    )
    scaled = m.predict(future_total=future)
    np.testing.assert_allclose(scaled["y_hat"] / flat["y_hat"], np.tile([1.1, 1.2, 1.3], 6))


def test_predict_before_fit_and_bad_input():
    with pytest.raises(NotFittedError):
        model().predict()
    with pytest.raises(ValueError, match="y must be >= 0"):
        model().fit(make_panel(3).assign(y=-1.0))
    with pytest.raises(ValueError, match="lacks columns"):
        model().fit(make_panel(3).drop(columns="y"))


def test_main_weight_one_is_unweighted_and_other_weights_change_the_fit():
    df, extra = make_panel(8), make_panel(20, seed=3, prefix="x")
    plain = model().fit(df, extra=extra).predict()
    pdt.assert_frame_equal(model(main_weight=1.0).fit(df, extra=extra).predict(), plain)
    heavy = model(main_weight=20.0).fit(df, extra=extra).predict()
    assert not np.allclose(heavy["y_hat"], plain["y_hat"])
    for bad in (0.0, -1.0, float("nan")):
        with pytest.raises(ValueError, match="main_weight"):
            model(main_weight=bad)
