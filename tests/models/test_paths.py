import numpy as np
import pandas as pd
import pytest

from exportcast.models.paths import path_quantiles, simulate_paths, year_error_matrix


def _cv(errors: dict[int, dict[str, float]]) -> pd.DataFrame:
    rows = []
    for year, per in errors.items():
        for uid, e in per.items():
            rows.append(
                {"unique_id": uid, "ds": year, "cutoff": year - 1, "y": 100 * np.exp(e), "m": 100.0}
            )
    return pd.DataFrame(rows)


def test_year_error_matrix_is_log_error_by_year():
    cv = _cv({2001: {"A": 0.1, "B": -0.2}, 2002: {"A": 0.0, "B": 0.3}})
    cv = pd.concat([cv, cv.assign(ds=cv["ds"] + 1, y=1.0)])  # two-step rows are ignored
    m = year_error_matrix(cv, "m")
    assert m.loc[2001, "A"] == pytest.approx(0.1)
    assert m.loc[2002, "B"] == pytest.approx(0.3)


def _point(ids=("A", "B"), years=(2024, 2025, 2026)):
    return pd.DataFrame(
        [
            {"unique_id": u, "ds": y, "mean": 100.0 * (i + 1)}
            for i, u in enumerate(ids)
            for y in years
        ]
    )


def test_paths_are_deterministic_under_seed_and_differ_across_seeds():
    errors = pd.DataFrame({"A": [0.1, -0.1, 0.05], "B": [0.2, -0.3, 0.0]}, index=[2001, 2002, 2003])
    a = simulate_paths(_point(), errors, n_paths=50, seed=1)
    b = simulate_paths(_point(), errors, n_paths=50, seed=1)
    c = simulate_paths(_point(), errors, n_paths=50, seed=2)
    pd.testing.assert_frame_equal(a, b)
    assert not np.allclose(a["y"], c["y"])
    assert len(a) == 50 * 3 * 2


def test_paths_keep_cross_series_comovement():
    # A and B always err together: every path must keep their ratio constant.
    errors = pd.DataFrame(
        {"A": [0.2, -0.2, 0.1, -0.1], "B": [0.2, -0.2, 0.1, -0.1]}, index=range(4)
    )
    p = simulate_paths(_point(), errors, n_paths=200, seed=0).pivot_table(
        index=["path", "ds"], columns="unique_id", values="y"
    )
    assert np.allclose(p["B"] / p["A"], 2.0)


def test_uncertainty_widens_with_horizon_and_median_tracks_point():
    rng = np.random.default_rng(0)
    errors = pd.DataFrame({"A": rng.normal(0, 0.1, 30), "B": rng.normal(0, 0.1, 30)})
    p = simulate_paths(_point(), errors, n_paths=4000, seed=0)
    a = p[p["unique_id"] == "A"].groupby("ds")["y"]
    spread = (a.quantile(0.9) - a.quantile(0.1)).to_numpy()
    assert spread[0] < spread[1] < spread[2]
    assert a.median().to_numpy() == pytest.approx([100.0] * 3, rel=0.03)


def test_series_without_error_history_follows_the_common_shock():
    errors = pd.DataFrame({"A": [0.1, -0.3], "C": [0.3, -0.1]}, index=[2001, 2002])
    p = simulate_paths(_point(), errors, n_paths=100, seed=0, center=False)
    b = p[p["unique_id"] == "B"].sort_values(["path", "ds"])["y"].to_numpy()
    # B's errors are the yearly medians 0.2 and -0.2, accumulated
    assert set(np.round(np.log(b[::3] / 200.0), 6)) <= {0.2, -0.2}


def test_no_error_years_is_an_error():
    with pytest.raises(ValueError, match="no error years"):
        simulate_paths(_point(), pd.DataFrame())


def test_path_quantiles_columns_and_order():
    frame = pd.DataFrame({"year": [1] * 101, "x": np.arange(101.0)})
    q = path_quantiles(frame, ["x"]).iloc[0]
    assert q["x_p50"] == 50
    assert q["x_lo_80"] == pytest.approx(10) and q["x_hi_80"] == pytest.approx(90)
    assert q["x_lo_95"] < q["x_lo_80"] < q["x_p50"] < q["x_hi_80"] < q["x_hi_95"]


def _window_cv():
    rows = []
    for cutoff, (ea, eb) in {2000: (0.1, 0.2), 2001: (-0.1, -0.2)}.items():
        for step in (1, 2):
            for uid, e in (("A", ea), ("B", eb)):
                rows.append(
                    {
                        "unique_id": uid,
                        "ds": cutoff + step,
                        "cutoff": cutoff,
                        "y": 100 * np.exp(e * step),
                        "m": 100.0,
                    }
                )
    return pd.DataFrame(rows)


def test_window_paths_replay_whole_windows_deterministically():
    from exportcast.models.paths import window_error_paths

    point = _point(years=(2024, 2025))
    a = window_error_paths(point, _window_cv(), "m", h=2, n_paths=40, seed=3)
    pd.testing.assert_frame_equal(
        a, window_error_paths(point, _window_cv(), "m", h=2, n_paths=40, seed=3)
    )
    wide = a.pivot_table(index=["path", "ds"], columns="unique_id", values="y")
    ratio_a = np.log(wide["A"] / 100.0).round(6)
    ratio_b = np.log(wide["B"] / 200.0).round(6)
    # each path uses one window for both series: B's error is always twice A's
    assert np.allclose(ratio_b, 2 * ratio_a)
    assert set(ratio_a.unique()) <= {0.1, 0.2, -0.1, -0.2}


def test_window_paths_clip_replayed_errors_at_the_given_bound():
    from exportcast.models.paths import window_error_paths

    point = _point(years=(2024, 2025))
    clip = pd.DataFrame({"A": [0.15, 0.15]}, index=[1, 2])  # B: no bound
    a = window_error_paths(point, _window_cv(), "m", h=2, n_paths=40, seed=3, clip=clip)
    wide = a.pivot_table(index=["path", "ds"], columns="unique_id", values="y")
    ratio_a = np.log(wide["A"] / 100.0).round(6)
    ratio_b = np.log(wide["B"] / 200.0).round(6)
    assert set(ratio_a.unique()) <= {0.1, 0.15, -0.1, -0.15}
    assert ratio_a.abs().max() == pytest.approx(0.15)
    assert set(ratio_b.unique()) <= {0.2, 0.4, -0.2, -0.4}  # unchanged


def test_window_paths_level_centering_makes_each_series_average_its_forecast():
    from exportcast.models.paths import window_error_paths

    point = _point(years=(2024, 2025))
    raw = window_error_paths(point, _window_cv(), "m", h=2, n_paths=40, seed=3)
    centred = window_error_paths(point, _window_cv(), "m", h=2, n_paths=40, seed=3, center="level")
    # per series and step, the mean multiplier over the windows is exactly 1 ...
    cv = _window_cv()
    cutoffs = sorted(cv["cutoff"].unique())
    all_windows = window_error_paths(
        point, cv, "m", h=2, n_paths=len(cutoffs) * 200, seed=0, center="level"
    )
    means = all_windows.groupby(["unique_id", "ds"])["y"].mean()
    base = point.set_index(["unique_id", "ds"])["mean"]
    assert np.allclose(means / base.reindex(means.index), 1.0, atol=0.05)
    # ... while the ordering of the windows (co-movement) is kept: same draws, shifted errors
    a = raw.pivot_table(index=["path", "ds"], columns="unique_id", values="y")
    b = centred.pivot_table(index=["path", "ds"], columns="unique_id", values="y")
    assert (a.rank() == b.rank()).all().all()
    with pytest.raises(ValueError, match="center"):
        window_error_paths(point, cv, "m", h=2, n_paths=4, seed=0, center="median")
