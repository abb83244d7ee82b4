import numpy as np
import pandas as pd
import pytest

from models.reconcile import reconcile

PARTNERS = pd.DataFrame(
    {
        "unique_id": ["A", "B", "A", "B"],
        "ds": [2024, 2024, 2025, 2025],
        "mean": [60.0, 40.0, 70.0, 50.0],
        "lo-80": [50.0, 30.0, 55.0, 40.0],
        "hi-80": [70.0, 50.0, 80.0, 60.0],
    }
)
TOTAL = pd.DataFrame({"ds": [2024, 2025], "mean": [110.0, 120.0]})


def test_proportional_sums_to_total_and_keeps_shares():
    p, t = reconcile(PARTNERS, TOTAL)
    sums = p.groupby("ds")["mean"].sum()
    assert np.allclose(sums.to_numpy(), [110.0, 120.0])
    before = PARTNERS.groupby("ds")["mean"].transform(lambda s: s / s.sum())
    after = p.groupby("ds")["mean"].transform(lambda s: s / s.sum())
    assert np.allclose(before, after)
    assert p.loc[0, "lo-80"] == pytest.approx(50.0 * 1.1)
    assert t["scale"].tolist() == pytest.approx([1.1, 1.0])


def test_bottom_up_total_is_sum_of_partners():
    p, t = reconcile(PARTNERS, TOTAL, method="bottom_up")
    pd.testing.assert_frame_equal(p, PARTNERS)
    assert t["mean"].tolist() == [100.0, 120.0]


def test_year_mismatch_is_an_error():
    with pytest.raises(ValueError, match="differ"):
        reconcile(PARTNERS, TOTAL.iloc[:1])


def test_inputs_are_not_mutated():
    before = PARTNERS.copy()
    reconcile(PARTNERS, TOTAL)
    pd.testing.assert_frame_equal(PARTNERS, before)
