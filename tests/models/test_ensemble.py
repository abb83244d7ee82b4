"""Selection and combination from backtest scores."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from exportcast.models.ensemble import add_ensemble, inverse_error_weights, select_by_backtest


def _scores() -> pd.DataFrame:
    # A wins on S0, B on S1 and pooled (mean A = 1.25, B = 1.0); S2 has no finite score
    return pd.DataFrame(
        {
            "unique_id": ["S0", "S0", "S1", "S1", "S2", "S2"],
            "cutoff": [2010] * 6,
            "model": ["A", "B"] * 3,
            "MASE": [0.5, 1.0, 2.0, 1.0, np.nan, np.nan],
        }
    )


def test_select_pooled_gives_every_series_the_overall_best() -> None:
    chosen = select_by_backtest(_scores(), per="pooled")
    assert chosen.to_dict() == {"S0": "B", "S1": "B", "S2": "B"}
    assert chosen.name == "model"


def test_select_per_series_falls_back_to_pooled_without_scores() -> None:
    chosen = select_by_backtest(_scores(), per="series")
    assert chosen.to_dict() == {"S0": "A", "S1": "B", "S2": "B"}


def test_select_rejects_aggregated_scores() -> None:
    with pytest.raises(ValueError, match="score_cv"):
        select_by_backtest(pd.DataFrame({"model": ["A"], "MASE": [1.0]}))
    with pytest.raises(ValueError, match="per"):
        select_by_backtest(_scores(), per="global")


def test_inverse_error_weights_sum_to_one() -> None:
    weights = inverse_error_weights(_scores())
    assert weights == pytest.approx({"A": 0.8 / 1.8, "B": 1 / 1.8})


def test_add_ensemble_equal_and_weighted_mean_before_fallback_column() -> None:
    frame = pd.DataFrame(
        {
            "unique_id": ["S0"],
            "ds": [2020],
            "A": [10.0],
            "B": [20.0],
            "fallback": [""],
        }
    )
    out = add_ensemble(frame, ["A", "B"])
    assert list(out.columns) == ["unique_id", "ds", "A", "B", "Ensemble", "fallback"]
    assert out["Ensemble"].item() == 15.0
    weighted = add_ensemble(frame, ["A", "B"], weights={"A": 3, "B": 1}, alias="W")
    assert weighted["W"].item() == 12.5
    with pytest.raises(ValueError, match="already"):
        add_ensemble(out, ["A", "B"])
