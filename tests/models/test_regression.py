import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.exceptions import NotFittedError
from sklearn.impute import SimpleImputer
from sklearn.linear_model import RidgeCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from exportcast.models.regression import (
    GBM_PARAMS,
    PREDICTION_COLUMNS,
    RIDGE_ALPHAS,
    DirectRegressor,
    rolling_origin_predictions,
)

FEATURES = ["lag_growth", "demand", "fta_in_force", "sparse"]


@pytest.fixture(autouse=True)
def _one_thread():
    # The test machine is shared; OpenMP oversubscription makes boosting crawl.
    with threadpool_limits(1):
        yield


def make_features(n_partners: int = 12, origins=range(2000, 2012), horizon: int = 3, seed: int = 0):
    """Synthetic feature table: growth depends on demand and an FTA, plus noise."""
    rng = np.random.default_rng(seed)
    rows = []
    for p in range(n_partners):
        level = float(np.exp(rng.normal(15, 1)))
        for t in origins:
            demand = rng.normal(0.03, 0.02)
            fta = float(rng.random() < 0.3)
            lag = rng.normal(0, 0.1)
            for h in range(1, horizon + 1):
                y = h * demand * 2 + 0.1 * fta + 0.3 * lag + rng.normal(0, 0.05)
                rows.append(
                    {
                        "reporter": "KOR",
                        "partner": f"P{p:02d}",
                        "origin": t,
                        "h": h,
                        "target_year": t + h,
                        "export_usd_origin": level,
                        "y_log_growth": y if t + h <= max(origins) else np.nan,
                        "demand_source": "known",
                        "lag_growth": lag,
                        "demand": h * demand,
                        "fta_in_force": fta,
                        "sparse": np.nan if rng.random() < 0.5 else rng.normal(),
                    }
                )
    return pd.DataFrame(rows)


def _train(frame):
    return frame.loc[frame["y_log_growth"].notna()]


def test_predict_columns_and_level_identity():
    frame = make_features()
    pred = DirectRegressor("ridge", 3).fit(_train(frame)).predict(frame)
    assert list(pred.columns) == PREDICTION_COLUMNS
    assert len(pred) == len(frame)
    np.testing.assert_allclose(
        pred["pred_level"], frame["export_usd_origin"] * np.exp(pred["pred_log_growth"])
    )
    assert pred["pred_log_growth"].notna().all()


@pytest.mark.parametrize("pooling", ["shared", "per_horizon"])
def test_gbm_matches_direct_sklearn_call(pooling):
    frame = make_features()
    train = _train(frame)
    model = DirectRegressor("gbm", 3, FEATURES, random_state=3, pooling=pooling).fit(train)
    pred = model.predict(frame)["pred_log_growth"].to_numpy()
    cols = [*FEATURES, "h"] if pooling == "shared" else FEATURES
    expected = np.empty(len(frame))
    groups = (
        [(None, np.ones(len(frame), bool))]
        if pooling == "shared"
        else [(h, (frame["h"] == h).to_numpy()) for h in (1, 2, 3)]
    )
    for h, sel in groups:
        rows = train if h is None else train[train["h"] == h]
        direct = HistGradientBoostingRegressor(**GBM_PARAMS, random_state=3)
        direct.fit(rows[cols].to_numpy(dtype=float), rows["y_log_growth"].to_numpy())
        expected[sel] = direct.predict(frame.loc[sel, cols].to_numpy(dtype=float))
    np.testing.assert_array_equal(pred, expected)


def test_ridge_matches_direct_sklearn_call():
    frame = make_features()
    train = _train(frame)
    pred = DirectRegressor("ridge", 3, FEATURES, pooling="per_horizon").fit(train).predict(frame)
    for h in (1, 2, 3):
        rows = train[train["h"] == h]
        direct = make_pipeline(
            SimpleImputer(strategy="median"), StandardScaler(), RidgeCV(alphas=RIDGE_ALPHAS)
        ).fit(rows[FEATURES].to_numpy(dtype=float), rows["y_log_growth"].to_numpy())
        sel = (frame["h"] == h).to_numpy()
        np.testing.assert_allclose(
            pred.loc[sel, "pred_log_growth"],
            direct.predict(frame.loc[sel, FEATURES].to_numpy(dtype=float)),
            rtol=1e-12,
        )


def test_default_features_are_numeric_non_key_columns():
    frame = make_features().assign(label="text")
    model = DirectRegressor("ridge", 3, pooling="per_horizon").fit(_train(frame))
    assert model.feature_columns_ == FEATURES
    shared = DirectRegressor("ridge", 3).fit(_train(frame))
    assert shared.feature_columns_ == [*FEATURES, "h"]


def test_all_nan_training_column_is_skipped_not_fatal():
    frame = make_features().assign(years_since=np.nan)
    model = DirectRegressor("gbm", 3, [*FEATURES, "years_since"]).fit(_train(frame))
    assert "years_since" not in model.columns_[0]
    assert model.predict(frame)["pred_log_growth"].notna().all()


@pytest.mark.parametrize("estimator", ["gbm", "ridge"])
def test_refit_is_deterministic(estimator):
    frame = make_features()
    a = DirectRegressor(estimator, 3, random_state=7).fit(_train(frame)).predict(frame)
    model = DirectRegressor(estimator, 3, random_state=7)
    model.fit(_train(make_features(seed=5)))  # an earlier fit must not matter
    b = model.fit(_train(frame)).predict(frame)
    pd.testing.assert_frame_equal(a, b)


def test_model_learns_signal_better_than_zero_growth():
    frame = make_features(n_partners=30)
    train, test = frame[frame["origin"] < 2006], frame[(frame["origin"] >= 2006)]
    test = test[test["y_log_growth"].notna()]
    pred = DirectRegressor("ridge", 3).fit(_train(train)).predict(test)
    err = np.abs(pred["pred_log_growth"].to_numpy() - test["y_log_growth"].to_numpy()).mean()
    assert err < 0.6 * np.abs(test["y_log_growth"]).mean()


def test_predict_before_fit_raises():
    with pytest.raises(NotFittedError):
        DirectRegressor("gbm", 3).predict(make_features())


def test_bad_options_raise():
    train = _train(make_features())
    with pytest.raises(ValueError, match="estimator"):
        DirectRegressor("forest", 3).fit(train)
    with pytest.raises(ValueError, match="pooling"):
        DirectRegressor("gbm", 3, pooling="both").fit(train)
    with pytest.raises(ValueError, match="lack"):
        DirectRegressor("gbm", 3, ["nope"]).fit(train)
    with pytest.raises(ValueError, match="horizon"):
        DirectRegressor("gbm", [1, 9]).fit(train)


def test_rolling_origin_never_trains_on_scored_years():
    frame = make_features()
    clean = rolling_origin_predictions(frame, origins=[2006, 2008], estimator="gbm", horizons=3)
    # Garble every target the model may not see for origin 2006 (target_year > 2006).
    dirty = frame.assign(
        y_log_growth=frame["y_log_growth"].where(frame["target_year"] <= 2006, 99.0)
    )
    garbled = rolling_origin_predictions(dirty, origins=[2006], estimator="gbm", horizons=3)
    pd.testing.assert_frame_equal(garbled, clean[clean["origin"] == 2006].reset_index(drop=True))
    assert set(clean["origin"]) == {2006, 2008}


def test_rolling_origin_train_window_drops_old_rows():
    frame = make_features()
    # Garble old targets: with a 3-year window they must not matter.
    dirty = frame.assign(
        y_log_growth=frame["y_log_growth"].where(frame["target_year"] > 2005, -50.0)
    )
    a = rolling_origin_predictions(
        frame, origins=[2008], estimator="ridge", horizons=3, train_window=3
    )
    b = rolling_origin_predictions(
        dirty, origins=[2008], estimator="ridge", horizons=3, train_window=3
    )
    pd.testing.assert_frame_equal(a, b)
