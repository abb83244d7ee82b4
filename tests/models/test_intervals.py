"""Conformal intervals: finite-sample quantiles by hand, coverage on a later window."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from exportcast.models.forecasting import cross_validate
from exportcast.models.intervals import apply_conformal, coverage, fit_conformal
from exportcast.models.timeseries import Naive


def _cv_with_log_errors(errors: list[float]) -> pd.DataFrame:
    n = len(errors)
    return pd.DataFrame(
        {
            "unique_id": [f"S{i}" for i in range(n)],
            "ds": [2011] * n,
            "cutoff": [2010] * n,
            "y": 100.0 * np.exp(errors),
            "M": 100.0,
        }
    )


def test_conformal_quantile_uses_finite_sample_rank() -> None:
    # |log ratio| scores 1..9 (signs mixed): n = 9
    cv = _cv_with_log_errors([1, -2, 3, -4, 5, -6, 7, -8, 9])
    cal = fit_conformal(cv, "M", levels=(80, 95))
    # 80 %: rank ceil(10 * 0.8) = 8; 95 %: rank 10 > 9 -> unbounded
    assert cal.quantiles.loc[1, 80] == pytest.approx(8.0)
    assert np.isinf(cal.quantiles.loc[1, 95])
    assert cal.n_scores.loc[1] == 9


def test_apply_conformal_scales_with_the_forecast_and_orders_columns() -> None:
    cal = fit_conformal(_cv_with_log_errors([0.1, -0.2, 0.3, -0.4]), "M", levels=(50,))
    fcst = pd.DataFrame({"unique_id": ["a", "b"], "ds": [2030, 2030], "M": [10.0, 1000.0]})
    out = apply_conformal(fcst, "M", cal)
    assert list(out.columns) == ["unique_id", "ds", "M", "M-lo-50", "M-hi-50"]
    q = cal.quantiles.loc[1, 50]  # rank ceil(5 * 0.5) = 3 -> 0.3
    assert q == pytest.approx(0.3)
    np.testing.assert_allclose(out["M-lo-50"], [10 * np.exp(-0.3), 1000 * np.exp(-0.3)])
    np.testing.assert_allclose(out["M-hi-50"], [10 * np.exp(0.3), 1000 * np.exp(0.3)])

    ratio = fit_conformal(_cv_with_log_errors([0.1, -0.2, 0.3, -0.4]), "M", (50,), kind="ratio")
    out = apply_conformal(fcst, "M", ratio)
    q = np.sort(np.abs(np.exp([0.1, -0.2, 0.3, -0.4]) - 1))[2]
    np.testing.assert_allclose(out["M-lo-50"], [10 * (1 - q), 1000 * (1 - q)])


def test_apply_conformal_rejects_steps_beyond_the_calibration() -> None:
    cal = fit_conformal(_cv_with_log_errors([0.1, 0.2]), "M", levels=(50,))
    fcst = pd.DataFrame({"unique_id": ["a", "a"], "ds": [2030, 2031], "M": [1.0, 1.0]})
    with pytest.raises(ValueError, match="step 2"):
        apply_conformal(fcst, "M", cal)


def _random_walks(n_series: int, n_years: int, sigma: float, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    steps = rng.normal(0.0, sigma, size=(n_series, n_years))
    levels = 10.0 ** rng.uniform(1, 5, size=(n_series, 1))  # sizes from 10 to 100,000
    y = levels * np.exp(np.cumsum(steps, axis=1))
    return pd.DataFrame(
        {
            "unique_id": np.repeat([f"S{i:03d}" for i in range(n_series)], n_years),
            "ds": np.tile(np.arange(2000, 2000 + n_years), n_series),
            "y": y.ravel(),
        }
    )


def test_conformal_coverage_on_a_later_window_is_near_nominal() -> None:
    df = _random_walks(n_series=300, n_years=30, sigma=0.1, seed=11)
    h = 3
    calib = cross_validate(df, [Naive()], h, origins=range(2008, 2021))  # targets <= 2023
    # held out: later cutoffs whose targets (2024..2029) all come after the calibration's
    holdout = cross_validate(df, [Naive()], h, origins=range(2023, 2027))
    cal = fit_conformal(calib, "Naive", levels=(80, 95))
    # the log error of a random walk's naive forecast grows like sqrt(h)
    np.testing.assert_allclose(
        cal.quantiles[80].to_numpy(), 0.1 * 1.2816 * np.sqrt([1, 2, 3]), rtol=0.1
    )
    result = coverage(apply_conformal(holdout, "Naive", cal), "Naive", (80, 95))
    assert result["coverage-80"] == pytest.approx(0.80, abs=0.05)
    assert result["coverage-95"] == pytest.approx(0.95, abs=0.03)


def test_size_classes_split_at_the_bounds() -> None:
    from exportcast.models.intervals import size_classes

    labels = size_classes([0.0, 0.0009, 0.001, 0.0099, 0.01, 0.0499, 0.05, 0.5, np.nan])
    assert labels.tolist() == [
        *["small", "small", "medium", "medium", "large", "large", "major", "major", "small"]
    ]
    # two bounds (a champion model logged before the "major" class): three classes
    assert size_classes([0.0, 0.005, 0.5], (0.001, 0.01)).tolist() == ["small", "medium", "large"]
    with pytest.raises(ValueError, match="increasing cut points"):
        size_classes([0.1], (0.01, 0.001))


def test_size_classes_at_use_the_share_at_the_cutoff_only() -> None:
    from exportcast.models.intervals import size_classes_at

    train = pd.DataFrame(
        {
            "unique_id": ["A", "B"] * 3,
            "ds": [2000, 2000, 2001, 2001, 2002, 2002],
            "y": [999.5, 0.5, 1.0, 999.0, 500.0, 500.0],
        }
    )
    rows = pd.DataFrame({"unique_id": ["B", "B", "A"], "cutoff": [2000, 2001, 2000]})
    assert size_classes_at(rows, train).tolist() == ["small", "major", "major"]
    # the future does not matter
    changed = train.assign(y=np.where(train["ds"] > 2001, 1e9, train["y"]))
    assert size_classes_at(rows, changed).tolist() == ["small", "major", "major"]
    # a live forecast (no cutoff column) uses the last year
    assert size_classes_at(pd.DataFrame({"unique_id": ["A"]}), train).tolist() == ["major"]


def test_grouped_calibration_gives_each_group_its_own_quantile_with_pooled_fallback() -> None:
    rng = np.random.default_rng(0)
    big = rng.normal(0, 0.05, 200)  # large series: small errors
    small = rng.normal(0, 1.0, 200)  # small series: big errors
    few = rng.normal(0, 0.5, 10)  # too few to have their own quantile
    cv = _cv_with_log_errors([*big, *small, *few])
    groups = np.array(["large"] * 200 + ["small"] * 200 + ["other"] * 10, dtype=object)
    cal = fit_conformal(cv, "M", levels=(80,), groups=groups, min_group_scores=50)
    q_large = cal.by_group["large"].loc[1, 80]
    q_small = cal.by_group["small"].loc[1, 80]
    assert q_large < 0.1 < 1.0 < q_small
    assert np.isnan(cal.by_group["other"].loc[1, 80])  # not in the size order: no neighbours
    fcst = pd.DataFrame(
        {"unique_id": ["L", "S", "O"], "ds": [2011] * 3, "cutoff": [2010] * 3, "M": 100.0}
    )
    out = apply_conformal(fcst, "M", cal, np.array(["large", "small", "other"], dtype=object))
    hi = out["M-hi-80"].to_numpy()
    assert hi[0] == pytest.approx(100 * np.exp(q_large))
    assert hi[1] == pytest.approx(100 * np.exp(q_small))
    assert hi[2] == pytest.approx(100 * np.exp(cal.quantiles.loc[1, 80]))  # pooled fallback
    # without groups every row gets the pooled quantile
    pooled = apply_conformal(fcst, "M", cal)["M-hi-80"].to_numpy()
    assert np.allclose(pooled, 100 * np.exp(cal.quantiles.loc[1, 80]))


def test_thin_size_class_borrows_the_next_smaller_class_before_the_pool() -> None:
    rng = np.random.default_rng(1)
    errors = {
        "small": rng.normal(0, 2.0, 300),
        "medium": rng.normal(0, 0.5, 100),
        "large": rng.normal(0, 0.1, 30),  # thin: borrows medium, not the whole pool
        "major": rng.normal(0, 0.02, 60),
    }
    cv = _cv_with_log_errors(np.concatenate(list(errors.values())))
    groups = np.concatenate([[k] * len(v) for k, v in errors.items()]).astype(object)
    cal = fit_conformal(cv, "M", levels=(80, 99), groups=groups, min_group_scores=50)
    large_medium = np.abs(np.concatenate([errors["large"], errors["medium"]]))
    n = large_medium.size
    expected = np.sort(large_medium)[int(np.ceil((n + 1) * 0.8)) - 1]
    assert cal.by_group["large"].loc[1, 80] == pytest.approx(expected)
    assert cal.by_group["large"].loc[1, 80] < cal.quantiles.loc[1, 80]
    # major has 60 scores: its own 80 % quantile; too few for a finite 99 % one (rank 61 > 60),
    # so it borrows the next smaller classes (large, then medium) instead of an infinite bound
    own = np.sort(np.abs(errors["major"]))[int(np.ceil(61 * 0.8)) - 1]
    assert cal.by_group["major"].loc[1, 80] == pytest.approx(own)
    assert np.isfinite(cal.by_group["major"].loc[1, 99])
    assert cal.by_group["major"].loc[1, 99] < cal.quantiles.loc[1, 99]
    # without an order, thin groups use the pooled quantile (NaN in their table)
    flat = fit_conformal(cv, "M", levels=(80,), groups=groups, min_group_scores=50, order=None)
    assert np.isnan(flat.by_group["large"].loc[1, 80])
