"""The notebook API: ``from exportcast.models import forecast, cross_validate``, the product's engine."""

from __future__ import annotations

import importlib
from pathlib import Path

import numpy as np
import pandas as pd
import pydantic
import pytest

from exportcast.configs import load_config
from exportcast.features.panel import build_trade_panel
from exportcast.features.series import split_series
from exportcast.flows.engine_call import run_configured_engine
from exportcast.flows.snapshot import load_snapshot
from exportcast.models import Naive, available_models, cross_validate, default_models, forecast
from exportcast.models.auto import forecast_settings
from tests.conftest import make_panel

ROOT = Path(__file__).resolve().parents[2]
# a few of Korea's partners: regular ones, late starters (KHM from 1997, LAO from 1996: in REST
# at the early origins, modelled at the last year) and MNE (from 2006, always in REST)
PARTNERS = ["CHN", "USA", "JPN", "VNM", "IND", "DEU", "KHM", "LAO", "MNE"]


def _long_panel(n_series: int = 5, seed: int = 2) -> pd.DataFrame:
    """Synthetic series 1990-2023 (the product's default origins need years from 1998)."""
    df = make_panel(n_series=n_series, n_years=34, seed=seed)
    return df.assign(ds=df["ds"] - 10)


@pytest.fixture(scope="module")
def korea() -> tuple[pd.DataFrame, object]:
    snap = load_snapshot(ROOT / "data" / "snapshot", ["kor_exports"])
    panel = build_trade_panel(snap["kor_exports"], reporter="KOR", start=1990, end=2023)
    panel = panel.loc[panel["partner"].isin(PARTNERS)].reset_index(drop=True)
    return panel, split_series(panel, min_years=20)


def test_every_module_lists_its_public_names() -> None:
    names = ["", ".auto", ".engine_call", ".ensemble", ".forecasting", ".index_backtest",
             ".intervals", ".metrics", ".protocol", ".timeseries"]  # fmt: skip
    for name in names:
        module = importlib.import_module(f"models{name}")
        assert module.__all__, module.__name__
        for public in module.__all__:
            assert hasattr(module, public), (module.__name__, public)


def test_unknown_names_are_attribute_errors_and_submodules_still_import() -> None:
    from exportcast import models

    with pytest.raises(AttributeError, match="no_such_name"):
        models.no_such_name  # noqa: B018
    from exportcast.models import scenarios  # a submodule, not a lazy name

    assert scenarios.__name__ == "exportcast.models.scenarios"


def test_settings_are_the_default_configs_forecast_section() -> None:
    config = load_config(ROOT / "configs" / "default.yaml")
    assert forecast_settings() == config.forecast.model_dump(mode="json")
    assert [m.alias for m in default_models()] == list(config.forecast.models)
    assert len(available_models(log=True)) == 9


@pytest.mark.slow  # three engine runs on real series: 15-45 s on the shared 2-core machine
def test_forecast_equals_the_pipelines_engine_on_korea_partners(korea) -> None:
    panel, fs = korea
    config = load_config(ROOT / "configs" / "default.yaml")
    settings = config.forecast.model_dump(mode="json") | {"n_jobs": 1}
    product = run_configured_engine(
        fs, settings, config.horizon, panel=panel, runner=config.runner.model_dump(mode="json")
    )
    ours = forecast(fs.series, panel=panel, n_jobs=1)
    pd.testing.assert_frame_equal(ours, product.forecast)
    cv = cross_validate(fs.series, panel=panel, n_jobs=1)
    pd.testing.assert_frame_equal(cv, product.backtest)
    assert sorted(cv["cutoff"].unique()) == list(range(2008, 2019))
    assert ours["ds"].unique().tolist() == list(range(2024, 2029))
    # the backtest's split is the one known at each origin, as in the pipeline
    assert "KOR|KHM" in set(ours["unique_id"])
    assert "KOR|KHM" not in set(cv.loc[cv["cutoff"] == 2008, "unique_id"])


def test_forecast_on_any_panel_with_overrides() -> None:
    df = _long_panel().assign(gdp=1.0)  # further columns are ignored
    fcst = forecast(df, 3, level=[90], models=["Naive", "Theta"], n_jobs=1)
    assert list(fcst.columns) == ["unique_id", "ds", "model", "mean", "lo_90", "hi_90"]
    assert len(fcst) == 5 * 3
    assert fcst["ds"].unique().tolist() == [2024, 2025, 2026]
    assert fcst["model"].iloc[0] in {"Naive", "Theta", "Ensemble"}
    assert (fcst["lo_90"] <= fcst["mean"]).all() and (fcst["mean"] <= fcst["hi_90"]).all()
    assert np.isfinite(fcst[["mean", "lo_90", "hi_90"]].to_numpy()).all()
    cv = cross_validate(df, 2, config={"backtest": {"start": 2010, "end": 2012}}, n_jobs=1)
    assert sorted(cv["cutoff"].unique()) == [2010, 2011, 2012]
    assert {"Naive", "Drift", "Theta", "Ensemble", "Selected", "Selected-lo-95"} <= set(cv)


def test_bad_arguments_fail_with_clear_errors() -> None:
    df = _long_panel()
    with pytest.raises(TypeError, match="model names"):
        forecast(df, models=[Naive()])
    with pytest.raises(pydantic.ValidationError, match="n_windows"):
        forecast(df, config={"n_windows": 5})
    with pytest.raises(ValueError, match="Prophet"):
        forecast(df, models=["Prophet"])
    with pytest.raises(ValueError, match="duplicate"):
        forecast(pd.concat([df, df.head(1)]))
