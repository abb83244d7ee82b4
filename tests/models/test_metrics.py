"""Metrics on hand-computed examples."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from exportcast.models.metrics import evaluate_cv, mase, point_metrics, rmsse, score_cv, smape

TRAIN = [10.0, 12.0, 11.0, 15.0]  # diffs 2, -1, 4: MAE scale 7/3, MSE scale 7
Y = [16.0, 18.0]
YHAT = [15.0, 15.0]  # errors 1, 3


def test_point_metrics_match_hand_computation() -> None:
    assert mase(Y, YHAT, TRAIN) == pytest.approx(2 / (7 / 3))
    assert rmsse(Y, YHAT, TRAIN) == pytest.approx(np.sqrt(5 / 7))
    assert smape(Y, YHAT) == pytest.approx((200 / 31 + 600 / 33) / 2)
    assert point_metrics(Y, YHAT, TRAIN) == {
        "MASE": mase(Y, YHAT, TRAIN),
        "sMAPE": smape(Y, YHAT),
        "RMSSE": rmsse(Y, YHAT, TRAIN),
    }


def test_zero_scale_gives_nan_and_both_zero_smape_term_is_zero() -> None:
    assert np.isnan(mase([1.0], [2.0], [3.0, 3.0, 3.0]))
    assert np.isnan(rmsse([1.0], [2.0], [3.0]))
    assert smape([0.0, 1.0], [0.0, 1.0]) == 0.0


@given(st.lists(st.tuples(st.floats(-1e6, 1e6), st.floats(-1e6, 1e6)), min_size=1, max_size=20))
def test_smape_lies_between_0_and_200(pairs: list[tuple[float, float]]) -> None:
    y, yhat = zip(*pairs, strict=True)
    assert 0.0 <= smape(y, yhat) <= 200.0


def _backtest() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Two series, A with one cutoff (2003) and B with two (2002, 2003); h = 2."""
    train = pd.DataFrame(
        {
            "unique_id": ["A"] * 6 + ["B"] * 6,
            "ds": list(range(2000, 2006)) * 2,
            "y": TRAIN + Y + [1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
        }
    )
    cv = pd.DataFrame(
        {
            "unique_id": ["A", "A", "B", "B", "B", "B"],
            "ds": [2004, 2005, 2003, 2004, 2004, 2005],
            "cutoff": [2003, 2003, 2002, 2002, 2003, 2003],
            "y": [16.0, 18.0, 4.0, 5.0, 5.0, 6.0],
            "Naive": [15.0, 15.0, 3.0, 3.0, 4.0, 4.0],
            "Good": [16.0, 17.0, 4.0, 5.0, 5.0, 6.0],
        }
    )
    return cv, train


def test_score_cv_scores_each_series_cutoff_with_its_own_training_window() -> None:
    cv, train = _backtest()
    scores = score_cv(cv, train, ["Naive", "Good"])
    naive = scores[scores["model"] == "Naive"].set_index(["unique_id", "cutoff"])
    assert naive.loc[("A", 2003), "MASE"] == pytest.approx(mase(Y, YHAT, TRAIN))
    # B up to 2002 is 1, 2, 3 (scale 1); errors 1, 2
    assert naive.loc[("B", 2002), "MASE"] == pytest.approx(1.5)
    assert naive.loc[("B", 2002), "RMSSE"] == pytest.approx(np.sqrt(2.5))
    assert naive.loc[("B", 2003), "sMAPE"] == pytest.approx(smape([5.0, 6.0], [4.0, 4.0]))
    by_h = score_cv(cv, train, ["Naive"], by_horizon=True).set_index(["unique_id", "cutoff", "h"])
    assert by_h.loc[("B", 2002, 2), "MASE"] == pytest.approx(2.0)
    assert by_h.loc[("B", 2002, 2), "RMSSE"] == pytest.approx(2.0)


def test_evaluate_cv_means_over_units_relative_and_weighted() -> None:
    cv, train = _backtest()
    result = evaluate_cv(cv, train, ["Good", "Naive"]).set_index("model")
    assert list(result.index) == ["Good", "Naive"]
    naive_units = [mase(Y, YHAT, TRAIN), 1.5, 1.5]
    good_units = [0.5 / (7 / 3), 0.0, 0.0]
    assert result.loc["Naive", "MASE"] == pytest.approx(np.mean(naive_units))
    assert result.loc["Good", "MASE"] == pytest.approx(np.mean(good_units))
    assert result.loc["Good", "relMASE"] == pytest.approx(sum(good_units) / sum(naive_units))
    assert result.loc["Naive", "relMASE"] == pytest.approx(1.0)
    assert result.loc["Naive", "n_units"] == 3

    weights = pd.Series({"A": 3.0, "B": 1.0})
    weighted = evaluate_cv(cv, train, ["Naive", "Good"], weights).set_index("model")
    w = np.array([3.0, 1.0, 1.0])
    assert weighted.loc["Naive", "wMASE"] == pytest.approx(np.average(naive_units, weights=w))
    assert weighted.loc["Good", "wrelMASE"] == pytest.approx(
        np.dot(w, good_units) / np.dot(w, naive_units)
    )


def test_evaluate_cv_by_horizon_has_h_column() -> None:
    cv, train = _backtest()
    result = evaluate_cv(cv, train, ["Naive"], by_horizon=True)
    assert list(result.columns[:2]) == ["model", "h"]
    assert result["h"].tolist() == [1, 2]
    # h = 1: A error 1 / (7/3), B errors 1 and 1 / scales 1 and 1
    assert result.loc[0, "MASE"] == pytest.approx(np.mean([3 / 7, 1.0, 1.0]))


def test_evaluate_cv_rejects_missing_baseline_and_weights() -> None:
    cv, train = _backtest()
    with pytest.raises(ValueError, match="baseline 'Missing'"):
        evaluate_cv(cv, train, ["Good"], baseline="Missing")
    with pytest.raises(ValueError, match="no entry for unique_id='B'"):
        evaluate_cv(cv, train, ["Good"], pd.Series({"A": 1.0}))
    assert np.isnan(evaluate_cv(cv, train, ["Good"], baseline=None).loc[0, "relMASE"])
