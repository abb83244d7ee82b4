import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from exportcast.features.concentration import concentration_index, cr_k, hhi, hhi_normalized, theil

values = st.lists(
    st.floats(min_value=1e-3, max_value=1e12, allow_nan=False, allow_infinity=False),
    min_size=1,
    max_size=40,
)


@given(values, st.randoms())
def test_indices_are_permutation_invariant(v, rnd):
    w = list(v)
    rnd.shuffle(w)
    for f in (hhi, hhi_normalized, theil):
        assert f(np.array(v)) == pytest.approx(f(np.array(w)), rel=1e-9, abs=1e-12)


@given(values)
def test_indices_stay_within_bounds(v):
    a = np.array(v)
    n = len(a)
    h = hhi(a)
    assert 1.0 / n - 1e-12 <= h <= 1.0 + 1e-12
    assert 0.0 <= hhi_normalized(a) <= 1.0
    assert 0.0 <= theil(a) <= math.log(n) + 1e-9
    assert 0.0 < cr_k(a, 1) <= cr_k(a, 3) <= cr_k(a, 5) <= 1.0 + 1e-12


@given(st.integers(min_value=1, max_value=300), st.floats(min_value=1e-3, max_value=1e9))
def test_equal_shares_give_hhi_one_over_n(n, level):
    a = np.full(n, level)
    assert hhi(a) == pytest.approx(1.0 / n, rel=1e-9)
    assert theil(a) == pytest.approx(0.0, abs=1e-9)
    if n > 1:
        assert hhi_normalized(a) == pytest.approx(0.0, abs=1e-6)


@given(values.filter(lambda v: len(v) >= 2), st.data())
def test_merging_two_partners_never_lowers_hhi(v, data):
    i = data.draw(st.integers(0, len(v) - 1))
    j = data.draw(st.integers(0, len(v) - 1).filter(lambda k: k != i))
    merged = [x for k, x in enumerate(v) if k not in (i, j)] + [v[i] + v[j]]
    assert hhi(np.array(merged)) >= hhi(np.array(v)) - 1e-12


@given(values, st.floats(min_value=1e-6, max_value=1e6))
def test_indices_are_scale_invariant(v, c):
    a = np.array(v)
    for f in (hhi, hhi_normalized, theil):
        assert f(a * c) == pytest.approx(f(a), rel=1e-9, abs=1e-12)


@given(values, st.integers(min_value=1, max_value=10))
def test_zero_partners_are_ignored(v, n_zero):
    a = np.array(v)
    padded = np.concatenate([a, np.zeros(n_zero)])
    for f in (hhi, hhi_normalized, theil):
        assert f(padded) == pytest.approx(f(a), rel=1e-12, abs=1e-15)


def test_single_partner_is_fully_concentrated():
    assert hhi(np.array([5.0])) == 1.0
    assert hhi_normalized(np.array([5.0])) == 1.0
    assert theil(np.array([5.0])) == 0.0


@pytest.mark.parametrize("bad", [[], [0.0, 0.0], [-1.0, 2.0], [np.nan, 1.0], [np.inf]])
def test_invalid_values_raise(bad):
    with pytest.raises(ValueError):
        hhi(np.array(bad, dtype=float))


def test_concentration_index_by_reporter_year_hand_example():
    panel = pd.DataFrame(
        {
            "reporter": ["KOR"] * 4 + ["JPN"] * 2,
            "year": [2000] * 4 + [2000] * 2,
            "partner": ["CHN", "USA", "VNM", "ZZZ", "CHN", "USA"],
            "export_usd": [50.0, 30.0, 20.0, 0.0, 1.0, 1.0],
        }
    )
    out = concentration_index(panel).set_index("reporter")
    kor = out.loc["KOR"]
    assert kor["hhi"] == pytest.approx(0.25 + 0.09 + 0.04)
    assert kor["n_effective"] == pytest.approx(1 / 0.38)
    assert kor["share_CHN"] == pytest.approx(0.5)
    assert kor["share_USA"] == pytest.approx(0.3)
    assert kor["dependence_share"] == pytest.approx(0.8)
    assert kor["n_partners"] == 3
    assert kor["cr1"] == pytest.approx(0.5)
    assert out.loc["JPN", "hhi"] == pytest.approx(0.5)
    assert out.loc["JPN", "hhi_norm"] == pytest.approx(0.0, abs=1e-12)


def test_concentration_index_absent_dependence_partner_has_zero_share():
    panel = pd.DataFrame(
        {"reporter": "KOR", "year": 2000, "partner": ["VNM", "JPN"], "export_usd": [1.0, 3.0]}
    )
    out = concentration_index(panel, dependence_set=("CHN",))
    assert out["share_CHN"].iloc[0] == 0.0
    assert out["dependence_share"].iloc[0] == 0.0


def test_concentration_index_names_the_bad_group():
    panel = pd.DataFrame(
        {"reporter": "KOR", "year": [2000, 2001], "partner": "CHN", "export_usd": [1.0, -2.0]}
    )
    with pytest.raises(ValueError, match="2001"):
        concentration_index(panel)


@settings(max_examples=50)
@given(st.lists(st.floats(min_value=1.0, max_value=1e9), min_size=3, max_size=20))
def test_frame_indices_match_array_functions(v):
    panel = pd.DataFrame(
        {
            "reporter": "KOR",
            "year": 2000,
            "partner": [f"P{i}" for i in range(len(v))],
            "export_usd": v,
        }
    )
    row = concentration_index(panel, dependence_set=("P0",)).iloc[0]
    a = np.array(v)
    assert row["hhi"] == pytest.approx(hhi(a))
    assert row["hhi_norm"] == pytest.approx(hhi_normalized(a))
    assert row["theil"] == pytest.approx(theil(a), abs=1e-12)
    assert row["share_P0"] == pytest.approx(v[0] / sum(v))
