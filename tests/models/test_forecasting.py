"""The loop over series: shapes, fallback, validation, leakage, parallelism, exogenous X."""

from __future__ import annotations

from typing import Self

import numpy as np
import pandas as pd
import pytest

from exportcast.models.fallbacks import fallback_pairs
from exportcast.models.forecasting import cross_validate, forecast_panel
from exportcast.models.series_checks import check_series
from exportcast.models.timeseries import AutoARIMA, DampedETS, Drift, Naive, Theta
from tests.conftest import make_panel


def _with_short_series(panel: pd.DataFrame) -> pd.DataFrame:
    short = pd.DataFrame({"unique_id": "SHORT", "ds": [2017, 2018, 2019], "y": [5.0, 6.0, 7.0]})
    return pd.concat([panel, short], ignore_index=True)


class _Broken:
    """Fails on every series."""

    alias = "Broken"

    def fit(self, y: np.ndarray, X: np.ndarray | None = None) -> Self:
        raise RuntimeError("boom")

    def predict(self, h, X=None, level=None):
        raise AssertionError("never fitted")


class _NaNForecast:
    alias = "NaNs"

    def fit(self, y, X=None):
        return self

    def predict(self, h, X=None, level=None):
        return {"mean": np.full(h, np.nan)}


class _LastX:
    """Forecasts the future exogenous value; records what it was given."""

    alias = "LastX"

    def __init__(self) -> None:
        self.seen: list[tuple[np.ndarray, np.ndarray]] = []

    def fit(self, y, X=None):
        self.X_ = X
        return self

    def predict(self, h, X=None, level=None):
        return {"mean": X[:, 0].copy()}


def test_forecast_panel_returns_one_row_per_series_and_step(panel: pd.DataFrame) -> None:
    fcst = forecast_panel(panel, [Naive(), Drift()], h=3, level=[95, 80])
    assert list(fcst.columns) == [
        "unique_id", "ds",
        "Naive", "Naive-lo-95", "Naive-lo-80", "Naive-hi-80", "Naive-hi-95",
        "Drift", "Drift-lo-95", "Drift-lo-80", "Drift-hi-80", "Drift-hi-95",
        "fallback",
    ]  # fmt: skip
    assert len(fcst) == 4 * 3
    assert fcst.groupby("unique_id")["ds"].apply(list).tolist() == [[2020, 2021, 2022]] * 4
    last = panel.groupby("unique_id")["y"].last()
    np.testing.assert_allclose(fcst.groupby("unique_id")["Naive"].first(), last)
    assert (fcst["fallback"] == "").all()


def test_forecast_panel_does_not_mutate_or_fit_the_callers_models(panel: pd.DataFrame) -> None:
    before = panel.copy()
    model = Theta()
    forecast_panel(panel.sample(frac=1, random_state=0), [model], h=2)
    pd.testing.assert_frame_equal(panel, before)
    assert not hasattr(model, "model_")


def test_fallback_used_when_model_fails(panel: pd.DataFrame) -> None:
    df = _with_short_series(panel)
    fcst = forecast_panel(df, [AutoARIMA(), Drift()], h=2, fallback=Naive())
    short = fcst[fcst["unique_id"] == "SHORT"]
    np.testing.assert_allclose(short["AutoARIMA"], [7.0, 7.0])  # Naive under ARIMA's alias
    np.testing.assert_allclose(short["Drift"], [8.0, 9.0])  # Drift itself works on 3 points
    assert (short["fallback"] == "AutoARIMA").all()
    assert (fcst.loc[fcst["unique_id"] != "SHORT", "fallback"] == "").all()
    pairs = fallback_pairs(fcst)
    assert pairs.to_dict("records") == [{"unique_id": "SHORT", "alias": "AutoARIMA"}]


def test_fallback_used_when_model_returns_non_finite_forecasts(panel: pd.DataFrame) -> None:
    fcst = forecast_panel(panel, [_NaNForecast()], h=2, fallback=Naive())
    assert (fcst["fallback"] == "NaNs").all()
    assert np.isfinite(fcst["NaNs"]).all()


def test_failure_without_fallback_names_the_series(panel: pd.DataFrame) -> None:
    with pytest.raises(ValueError, match="at least 10") as info:
        forecast_panel(_with_short_series(panel), [AutoARIMA()], h=2)
    assert any("SHORT" in note for note in info.value.__notes__)


def test_failing_fallback_raises(panel: pd.DataFrame) -> None:
    with pytest.raises(RuntimeError, match="boom"):
        forecast_panel(panel, [_NaNForecast()], h=2, fallback=_Broken())


def test_duplicate_aliases_raise(panel: pd.DataFrame) -> None:
    with pytest.raises(ValueError, match=r"unique.*Naive"):
        forecast_panel(panel, [Naive(), Drift(alias="Naive")], h=2)
    with pytest.raises(ValueError, match="unique"):
        cross_validate(panel, [Theta(), Theta()], h=2, n_windows=1)


def test_reserved_alias_and_non_forecaster_raise(panel: pd.DataFrame) -> None:
    with pytest.raises(ValueError, match="reserved"):
        forecast_panel(panel, [Naive(alias="cutoff")], h=2)
    with pytest.raises(TypeError, match="not a forecaster"):
        forecast_panel(panel, [object()], h=2)


# ---------------------------------------------------------------------------------------------
# input validation


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda df: df.drop(columns="y"), r"missing required column\(s\) \['y'\]"),
        (lambda df: df.assign(y=df["y"].astype(str)), "'y' must be numeric"),
        (lambda df: df.assign(ds=df["ds"].astype(float)), "integer years"),
        (lambda df: pd.concat([df, df.iloc[[3]]]), "duplicate.*unique_id='S0', ds=2003"),
        (lambda df: df.drop(index=5), "gap in ds.*unique_id='S0', ds=2006"),
        (lambda df: df.assign(y=df["y"].where(df.index != 22)), "not finite.*'S1', ds=2002"),
        (lambda df: df.assign(x=["a"] * len(df)), "'x' must be numeric"),
    ],
    ids=["missing", "non-numeric", "float-ds", "duplicate", "gap", "nan", "exog"],
)
def test_invalid_series_raise_naming_the_row(panel, mutate, message) -> None:
    with pytest.raises(ValueError, match=message):
        forecast_panel(mutate(panel), [Naive()], h=1)


def test_non_positive_y_raises_only_when_a_log_model_is_used(panel: pd.DataFrame) -> None:
    df = panel.assign(y=panel["y"].where(panel.index != 45, 0.0))
    forecast_panel(df, [Naive()], h=1)
    with pytest.raises(ValueError, match=r"y <= 0 at unique_id='S2', ds=2005"):
        forecast_panel(df, [Naive(), Theta(log=True)], h=1)


def test_check_series_sorts_and_copies(panel: pd.DataFrame) -> None:
    shuffled = panel.sample(frac=1, random_state=1)
    out = check_series(shuffled)
    pd.testing.assert_frame_equal(out, panel)
    assert out is not shuffled


# ---------------------------------------------------------------------------------------------
# cross-validation


def test_cross_validate_windows_count_back_from_each_series_end() -> None:
    df = make_panel(n_series=2, n_years=15)
    df = df[~((df["unique_id"] == "S1") & (df["ds"] > 2012))]  # S1 ends in 2012
    cv = cross_validate(df, [Naive()], h=2, n_windows=3)
    assert list(cv.columns) == ["unique_id", "ds", "cutoff", "y", "Naive", "fallback"]
    cutoffs = cv.groupby("unique_id")["cutoff"].unique().apply(list).to_dict()
    assert cutoffs == {"S0": [2010, 2011, 2012], "S1": [2008, 2009, 2010]}
    assert (cv["ds"] - cv["cutoff"]).between(1, 2).all()
    # each window's Naive forecast is the value at its cutoff
    at_cutoff = df.set_index(["unique_id", "ds"])["y"]
    expected = at_cutoff.loc[list(zip(cv["unique_id"], cv["cutoff"], strict=True))].to_numpy()
    np.testing.assert_allclose(cv["Naive"], expected)
    np.testing.assert_allclose(
        cv["y"], at_cutoff.loc[list(zip(cv["unique_id"], cv["ds"], strict=True))].to_numpy()
    )


def test_cross_validate_with_origins_shortens_windows_at_the_end() -> None:
    df = make_panel(n_series=1, n_years=10)  # 2000..2009
    cv = cross_validate(df, [Drift()], h=3, origins=[1990, 2005, 2008, 2009])
    assert cv[["cutoff", "ds"]].values.tolist() == [
        [2005, 2006], [2005, 2007], [2005, 2008], [2008, 2009],
    ]  # fmt: skip


def test_cross_validate_needs_exactly_one_of_n_windows_or_origins(panel) -> None:
    with pytest.raises(ValueError, match="exactly one"):
        cross_validate(panel, [Naive()], h=2)
    with pytest.raises(ValueError, match="exactly one"):
        cross_validate(panel, [Naive()], h=2, n_windows=2, origins=[2010])


@pytest.mark.slow  # six models incl. AutoARIMA, twice: 14-54 s on the loaded 2-core machine
def test_cross_validate_uses_no_data_after_the_cutoff() -> None:
    df = make_panel(n_series=5, n_years=25, seed=4)
    models = [Naive(), Drift(), Theta(), DampedETS(), AutoARIMA(), Theta(log=True)]
    cutoff = 2015
    corrupted = df.assign(
        y=np.where(df["ds"] > cutoff, df["y"] * 50 + 1e4 * np.arange(len(df)), df["y"])
    )
    clean_cv = cross_validate(df, models, h=4, origins=[2012, cutoff], fallback=Naive())
    dirty_cv = cross_validate(corrupted, models, h=4, origins=[2012, cutoff], fallback=Naive())
    aliases = [m.alias for m in models]
    clean = clean_cv[clean_cv["cutoff"] == cutoff]
    dirty = dirty_cv[dirty_cv["cutoff"] == cutoff]
    pd.testing.assert_frame_equal(clean[aliases], dirty[aliases])
    assert not np.allclose(clean["y"], dirty["y"])  # the corruption did reach the frame


@pytest.mark.slow  # starts joblib workers: 10-50 s on the loaded 2-core machine
def test_parallel_results_equal_sequential() -> None:
    df = make_panel(n_series=6, n_years=22, seed=5)
    models = [Naive(), Drift(), Theta(), DampedETS()]
    kwargs = {"h": 3, "n_windows": 2, "level": [80], "fallback": Naive()}
    pd.testing.assert_frame_equal(
        cross_validate(df, models, n_jobs=2, **kwargs),
        cross_validate(df, models, n_jobs=1, **kwargs),
    )
    pd.testing.assert_frame_equal(
        forecast_panel(_with_short_series(df), [AutoARIMA()], h=2, fallback=Naive(), n_jobs=2),
        forecast_panel(_with_short_series(df), [AutoARIMA()], h=2, fallback=Naive(), n_jobs=1),
    )


# ---------------------------------------------------------------------------------------------
# exogenous columns


def test_exogenous_columns_reach_the_model_aligned_with_y() -> None:
    df = make_panel(n_series=2, n_years=8)
    df = df.assign(x=df["ds"] * 10.0 + (df["unique_id"] == "S1"))
    cv = cross_validate(df, [_LastX()], h=2, n_windows=2)
    # the model forecasts the exogenous value of the scored year itself
    np.testing.assert_allclose(cv["LastX"], cv["ds"] * 10.0 + (cv["unique_id"] == "S1"))

    future = pd.DataFrame(
        {
            "unique_id": ["S0", "S0", "S1", "S1"],
            "ds": [2008, 2009, 2008, 2009],
            "x": [1.0, 2.0, 3.0, 4.0],
        }
    )
    fcst = forecast_panel(df, [_LastX()], h=2, X_df=future)
    np.testing.assert_allclose(fcst["LastX"], [1.0, 2.0, 3.0, 4.0])
    with pytest.raises(ValueError, match="X_df has no row for unique_id='S1', ds=2009"):
        forecast_panel(df, [_LastX()], h=2, X_df=future.iloc[:3])


def test_categorical_unique_id_is_preserved(panel: pd.DataFrame) -> None:
    df = panel.assign(unique_id=panel["unique_id"].astype("category"))
    fcst = forecast_panel(df, [Naive()], h=1)
    assert fcst["unique_id"].dtype == df["unique_id"].dtype
    assert fcst["unique_id"].tolist() == ["S0", "S1", "S2", "S3"]


def test_x_df_without_exogenous_columns_raises(panel: pd.DataFrame) -> None:
    future = pd.DataFrame({"unique_id": ["S0"], "ds": [2020], "x": [1.0]})
    with pytest.raises(ValueError, match="no exogenous columns"):
        forecast_panel(panel, [Naive()], h=1, X_df=future)
