"""forecasts.csv's ``weo_vintage``: which WEO vintage fed each live forecast row."""

from __future__ import annotations

from dataclasses import replace

import pytest

from exportcast.models.weo_provenance import NO_WEO, weo_vintage_per_row
from tests.conftest import make_panel


def test_only_weo_reading_models_get_the_live_vintage():
    got = weo_vintage_per_row(["Drift", "Demand", "Ensemble", "Theta", "Demand"], "F2025")
    assert got.tolist() == [NO_WEO, "F2025", NO_WEO, NO_WEO, "F2025"]
    assert weo_vintage_per_row(["Naive", "Theta"], None).tolist() == [NO_WEO, NO_WEO]
    assert weo_vintage_per_row(["Mine"], "S2024", weo_models={"Mine"}).tolist() == ["S2024"]


def test_a_weo_model_without_a_known_vintage_is_an_error():
    with pytest.raises(ValueError, match="'Demand' reads the WEO outlook"):
        weo_vintage_per_row(["Drift", "Demand"], None)


def test_the_pipelines_forecast_table_carries_the_column():
    from exportcast.flows.outputs import forecast_table as _forecast_table
    from exportcast.models import run

    df = make_panel(n_series=3, n_years=34, seed=4)
    df = df.assign(unique_id="KOR|" + df["unique_id"], ds=df["ds"] - 10)
    engine = run(df, 3, models=["Naive", "Drift"], n_jobs=1, config={"n_paths": 50})
    table = _forecast_table(engine, "F2025")
    assert "weo_vintage" in table.columns
    assert (table["weo_vintage"] == NO_WEO).all()
    demand = replace(engine, forecast=engine.forecast.assign(model="Demand"))
    assert (_forecast_table(demand, "F2025")["weo_vintage"] == "F2025").all()
    assert len(_forecast_table(demand, "F2025")) == len(engine.forecast)
