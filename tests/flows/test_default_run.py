"""The full default engine, once: contract columns, golden history, sane forecasts.

In a file of its own so that it starts first on an xdist worker (tests/conftest.py orders the
groups by cost): it is the longest single test of the suite.
"""

import json

import numpy as np
import pandas as pd
import pytest

from exportcast.configs import load_config
from exportcast.flows.pipeline import run_pipeline


@pytest.mark.slow
@pytest.mark.timeout(1200)  # 540 s (with the scenarios) on the 2-core machine under load 13
def test_default_run_writes_contract_golden_history_and_forecasts(tmp_path):
    # the one test that runs the full default engine (about a minute), without the scenarios
    # (the Cambodia one reruns the whole engine at its origin 2021) and the report: nothing
    # here reads them. Both run inside a pipeline run in test_report_flow.py (FAST engine),
    # the scenarios alone in test_scenarios.py, and everything together in `make run`.
    cfg = load_config(overrides=[f"output.dir={tmp_path}", "scenarios=[]", "report.enabled=false"])
    result = run_pipeline(cfg, log=lambda _: None)
    out = pd.read_csv(tmp_path / "KOR" / "concentration.csv")
    for col in ["reporter", "year", "kind", "hhi", "hhi_norm", "n_effective", "share_CHN",
                "share_USA", "dependence_share", "data_vintage"]:  # fmt: skip
        assert col in out.columns
    assert set(out["kind"]) == {"history", "forecast"}
    assert out["data_vintage"].unique().tolist() == [result.vintage]
    row = out[out["kind"] == "history"].set_index("year")
    assert row.loc[2019, "share_CHN"] == pytest.approx(0.251, abs=0.0005)
    assert row.loc[2019, "share_USA"] == pytest.approx(0.135, abs=0.0005)
    assert row.loc[2019, "hhi"] == pytest.approx(0.101, abs=0.0005)
    assert row.loc[2023, "share_CHN"] == pytest.approx(0.197, abs=0.0005)
    assert row.loc[2023, "share_USA"] == pytest.approx(0.183, abs=0.0005)
    assert row.loc[2000, "share_CHN"] == pytest.approx(0.107, abs=0.0005)
    assert row.loc[2000, "hhi"] == pytest.approx(0.086, abs=0.0005)
    hist = out[out["kind"] == "history"]
    assert (hist["dependence_share"] - hist["share_CHN"] - hist["share_USA"]).abs().max() < 1e-9
    assert (tmp_path / "KOR" / "run.json").is_file()

    fc = out[out["kind"] == "forecast"]
    assert fc["year"].tolist() == [2024, 2025, 2026, 2027, 2028]
    assert (fc["dependence_share_lo_95"] <= fc["dependence_share_lo_80"]).all()
    assert (fc["dependence_share_lo_80"] <= fc["dependence_share"]).all()
    assert (fc["dependence_share"] <= fc["dependence_share_hi_80"]).all()
    assert (fc["dependence_share_hi_80"] <= fc["dependence_share_hi_95"]).all()
    assert fc["p_dependence_below"].between(0, 1).all()
    assert fc["share_CHN"].between(0.05, 0.4).all()  # a sane range around 19.7 % in 2023
    # CR-k and Theil of the paths (REST members ranked with the others): ordered, near the
    # 2023 values (CR1 19.7 %, CR5 55.1 %, Theil 2.28), and CR1 at least China's median share
    assert fc[["cr1", "cr3", "cr5", "theil"]].notna().all().all()
    assert ((fc["cr1"] <= fc["cr3"]) & (fc["cr3"] <= fc["cr5"])).all()
    assert (fc["cr1"] >= fc["share_CHN"] - 1e-9).all()
    assert fc["cr5"].between(0.4, 0.7).all()
    assert fc["theil"].between(1.8, 2.8).all()
    assert (fc["theil_lo_80"] <= fc["theil"]).all() and (fc["theil"] <= fc["theil_hi_80"]).all()
    assert (fc["theil"] <= np.log(fc["n_partners"])).all()
    forecasts = pd.read_csv(tmp_path / "KOR" / "forecasts.csv")
    for col in ["reporter", "partner", "year", "model", "mean", "lo_80", "hi_80", "lo_95", "hi_95"]:
        assert col in forecasts.columns
    assert (forecasts["lo_95"] <= forecasts["mean"]).all() and (
        forecasts["mean"] <= forecasts["hi_95"]
    ).all()
    assert {"CHN", "USA", "VNM", "REST"} <= set(forecasts["partner"])
    accuracy = pd.read_csv(tmp_path / "KOR" / "backtest_accuracy.csv").set_index("model")
    assert {"Naive", "Drift", "Theta", "Ensemble", "Selected"} <= set(accuracy.index)
    assert accuracy.loc["Naive", "relMASE"] == pytest.approx(1.0)
    meta = json.loads((tmp_path / "KOR" / "run.json").read_text())
    assert meta["selected_model"] in accuracy.index
    assert set(meta["rolling_choices"]) == {str(y) for y in range(2008, 2019)}
