"""backtest_forecasts.csv: the published accuracy can be recomputed from the file alone."""

import pandas as pd
import pytest

from exportcast.features.series import origin_histories, split_series
from exportcast.flows.io import write_csv
from exportcast.models.backtest_table import backtest_forecasts, backtest_forecasts_columns
from exportcast.models.engine import run_engine
from exportcast.models.metrics import evaluate_table
from tests.models.test_origin_split import _panel


@pytest.fixture(scope="module")
def engine():
    panel = _panel()
    fs = split_series(panel, min_years=10)
    last = fs.series.loc[fs.series["ds"] == fs.last_year]
    weights = last.set_index("unique_id")["y"] / last["y"].sum()
    scored, past = range(2006, 2019), range(1996, 2006)
    return run_engine(
        fs.series,
        h=5,
        models=["Naive", "Drift"],
        scored_origins=scored,
        history_origins=past,
        levels=(80, 95),
        weights=weights,
        n_paths=50,
        history=origin_histories(panel, [*past, *scored], min_years=10, h=5),
    )


def test_published_accuracy_is_recomputed_from_the_csv(engine, tmp_path):
    candidates = ["Naive", "Drift", "Ensemble"]
    vintages = {t: f"F{t}" for t in range(2006, 2019)}
    table = backtest_forecasts(
        engine.backtest,
        engine.history,
        candidates=candidates,
        choices=engine.choices,
        levels=(80, 95),
        weights=engine.weights,
        vintages=vintages,
    )
    assert list(table.columns) == backtest_forecasts_columns(candidates, (80, 95))
    assert set(table["origin"]) == set(range(2006, 2019))
    assert "REST" in set(table["partner"])
    assert (table["weo_vintage"] == "F" + table["origin"].astype(str)).all()
    chosen = dict(zip(engine.choices["cutoff"], engine.choices["model"], strict=True))
    for model, rows in table.groupby(table["origin"].map(chosen)):
        pd.testing.assert_series_equal(rows["Selected"], rows[model], check_names=False)
    write_csv(table, tmp_path / "backtest_forecasts.csv", float_format="%.10g")
    back = pd.read_csv(tmp_path / "backtest_forecasts.csv", keep_default_na=False, na_values=[""])
    got = evaluate_table(back, [*candidates, "Selected"]).set_index("model")
    published = engine.accuracy.set_index("model")
    for col in ("relMASE", "wrelMASE", "MASE", "wMASE", "sMAPE", "RMSSE", "n_units"):
        for model in [*candidates, "Selected"]:
            assert got.loc[model, col] == pytest.approx(published.loc[model, col], rel=1e-8)
    # the file is what is scored: a changed forecast changes the recomputed score
    back.loc[back["origin"] == 2010, "Selected"] *= 2
    moved = evaluate_table(back, ["Selected"]).set_index("model").loc["Selected", "relMASE"]
    assert moved != pytest.approx(published.loc["Selected", "relMASE"], rel=1e-3)
