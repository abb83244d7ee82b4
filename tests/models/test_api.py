"""The public API: ``from models import forecast, cross_validate``."""

from __future__ import annotations

import importlib

import numpy as np
import pandas as pd
import pytest

from exportcast.models import Drift, Naive, Theta, cross_validate, default_models, forecast
from tests.conftest import make_panel

ALIASES = ["Naive", "Drift", "Theta", "DampedETS", "AutoARIMA"]
FORECAST_COLUMNS = [
    "unique_id", "ds",
    "Selected", "Selected-lo-95", "Selected-lo-80", "Selected-hi-80", "Selected-hi-95",
    "model", "fallback",
]  # fmt: skip


@pytest.fixture(scope="module")
def panel6() -> pd.DataFrame:
    return make_panel(n_series=6, n_years=22, seed=2)


def test_every_module_lists_its_public_names() -> None:
    names = ["", ".auto", ".ensemble", ".forecasting", ".index_backtest", ".intervals", ".metrics",
             ".protocol", ".timeseries"]  # fmt: skip
    for name in names:
        module = importlib.import_module(f"models{name}")
        assert module.__all__, module.__name__
        for public in module.__all__:
            assert hasattr(module, public), (module.__name__, public)


def test_cross_validate_runs_default_models_and_ensemble(panel6: pd.DataFrame) -> None:
    cv = cross_validate(panel6, h=3, n_windows=2)
    assert list(cv.columns) == ["unique_id", "ds", "cutoff", "y", *ALIASES, "Ensemble", "fallback"]
    assert len(cv) == 6 * 2 * 3
    np.testing.assert_allclose(cv["Ensemble"], cv[ALIASES].mean(axis=1))


def test_forecast_returns_selected_model_with_conformal_intervals(panel6: pd.DataFrame) -> None:
    # 6 series x 4 windows = 24 errors per step: enough for a finite 95 % bound (needs 19)
    fcst = forecast(panel6, h=3, n_windows=4)
    assert list(fcst.columns) == FORECAST_COLUMNS
    assert len(fcst) == 6 * 3
    assert fcst["ds"].unique().tolist() == [2022, 2023, 2024]
    assert fcst["model"].nunique() == 1  # pooled selection
    assert fcst["model"].iloc[0] in [*ALIASES, "Ensemble"]
    values = fcst.drop(columns=["unique_id", "ds", "model", "fallback"])
    assert np.isfinite(values.to_numpy()).all()
    assert (fcst["Selected-lo-95"] <= fcst["Selected-lo-80"]).all()
    assert (fcst["Selected-lo-80"] <= fcst["Selected"]).all()
    assert (fcst["Selected"] <= fcst["Selected-hi-80"]).all()
    assert (fcst["Selected-hi-80"] <= fcst["Selected-hi-95"]).all()


def test_forecast_per_series_selection_with_custom_models_and_exogenous_column() -> None:
    df = make_panel(n_series=5, n_years=18, seed=9)
    df = df.assign(gdp=np.linspace(1.0, 2.0, len(df)))  # ignored by univariate models
    short = pd.DataFrame({"unique_id": "SHORT", "ds": [2015, 2016, 2017], "y": [1.0, 2.0, 3.0]})
    df = pd.concat([df, short.assign(gdp=1.0)], ignore_index=True)
    fcst = forecast(df, 2, level=[90], models=[Naive(), Drift(), Theta()], select="series")
    assert list(fcst.columns) == [
        "unique_id", "ds", "Selected", "Selected-lo-90", "Selected-hi-90", "model", "fallback",
    ]  # fmt: skip
    assert set(fcst["model"]) <= {"Naive", "Drift", "Theta", "Ensemble"}
    assert fcst["unique_id"].nunique() == 6
    # the short series can only get Theta through the fallback, and then says so
    short_rows = fcst[fcst["unique_id"] == "SHORT"]
    uses_theta = short_rows["model"].isin(["Theta", "Ensemble"])
    assert (short_rows.loc[uses_theta, "fallback"] == "Theta").all()


def test_forecast_without_levels_has_no_interval_columns(panel6: pd.DataFrame) -> None:
    fcst = forecast(panel6, 2, level=None, models=[Naive(), Drift()], n_windows=2)
    assert list(fcst.columns) == ["unique_id", "ds", "Selected", "model", "fallback"]


def test_forecast_rejects_too_short_panels_and_reserved_aliases() -> None:
    tiny = pd.DataFrame({"unique_id": "a", "ds": [2020, 2021], "y": [1.0, 2.0]})
    with pytest.raises(ValueError, match="long enough"):
        forecast(tiny, h=3)
    with pytest.raises(ValueError, match="reserved"):
        forecast(make_panel(), 2, models=[Naive(alias="Ensemble"), Drift()])


def test_default_models_have_unique_aliases() -> None:
    aliases = [m.alias for m in default_models(log=True)]
    assert len(aliases) == len(set(aliases)) == 9
