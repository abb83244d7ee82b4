import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from exportcast.configs import load_config
from exportcast.flows.cli import app
from exportcast.flows.pipeline import run_pipeline
from tests.flows.helpers import FAST, FAST_ARGS

runner = CliRunner()


def _run(tmp_path, *sets, fast=True):
    cfg = load_config(overrides=[f"output.dir={tmp_path}", *(FAST if fast else []), *sets])
    return run_pipeline(cfg, log=lambda _: None)


@pytest.mark.slow
@pytest.mark.timeout(1200)  # 540 s (with the scenarios) on the 2-core machine under load 13
def test_default_run_writes_contract_golden_history_and_forecasts(tmp_path):
    # the one test that runs the full default engine (about a minute), without the scenarios
    # (the Cambodia one reruns the whole engine at its origin 2021) and the report: nothing
    # here reads them. Both run inside a pipeline run in test_report_flow.py (FAST engine),
    # the scenarios alone in test_scenarios.py, and everything together in `make run`.
    result = _run(tmp_path, "scenarios=[]", "report.enabled=false", fast=False)
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


def test_dependence_set_is_configurable(tmp_path):
    _run(tmp_path, "dependence_set=[CHN, USA, JPN]")
    out = pd.read_csv(tmp_path / "KOR" / "concentration.csv")
    out = out[out["kind"] == "history"]
    assert "share_JPN" in out.columns
    total = out["share_CHN"] + out["share_USA"] + out["share_JPN"]
    assert (out["dependence_share"] - total).abs().max() < 1e-9


def test_cli_run_prints_history_table(tmp_path):
    res = runner.invoke(app, ["run", "--set", f"output.dir={tmp_path}", *FAST_ARGS])
    assert res.exit_code == 0, res.output
    assert "China share" in res.output
    assert "2019" in res.output and "25.1 %" in res.output and "13.5 %" in res.output
    assert "2023" in res.output and "19.7 %" in res.output and "18.3 %" in res.output
    assert "0.101" in res.output


@pytest.mark.unit  # stops at the config, before any flow starts
def test_cli_bad_config_exits_2_with_named_key(tmp_path):
    res = runner.invoke(app, ["run", "--set", "reportr=KOR", "--set", f"output.dir={tmp_path}"])
    assert res.exit_code == 2
    assert "reportr" in res.output and "unknown key" in res.output
    assert not (tmp_path / "KOR").exists()


def test_cli_quiet_prints_nothing(quiet_cli_run):
    res = quiet_cli_run.result
    assert res.exit_code == 0, res.output
    assert res.output == ""
    assert (quiet_cli_run.folder / "concentration.csv").is_file()


def test_console_script_help_for_every_command():
    for args in (["--help"], ["run", "--help"], ["snapshot", "--help"]):
        proc = subprocess.run(
            [sys.executable, "-m", "exportcast.flows.cli", *args], capture_output=True, text=True, check=False
        )
        assert proc.returncode == 0, proc.stderr
        assert "Usage" in proc.stdout


@pytest.mark.rawdata
@pytest.mark.slow
def test_cli_snapshot_check_reproduces_committed(raw):
    res = runner.invoke(app, ["snapshot", "--raw", str(raw), "--check"])
    assert res.exit_code == 0, res.output
    assert "reproduced exactly" in res.output


@pytest.mark.parametrize(
    ("sets", "words"),
    [
        # South Sudan: DOTS 2012-2020, no partner in every year
        (["reporter=SSD"], ["no partner of SSD has exports in every year 2012-2020"]),
        # Tonga: China is not a partner in every one of the last 20 years
        (["reporter=TON"], ["dependence partner(s) CHN of TON", "forecast.min_years"]),
        # Montenegro (data from 2006) with a horizon its 15 years cannot backtest
        (
            ["reporter=MNE", "dependence_set=[ITA, SRB]", "horizon=15"],
            ["no scored backtest origin (2008-2018)", "forecast.backtest.start"],
        ),
    ],
)
def test_cli_reporter_whose_data_are_too_short_exits_2_with_what_to_change(tmp_path, sets, words):
    args = [arg for item in sets for arg in ("--set", item)]
    res = runner.invoke(app, ["run", "--set", f"output.dir={tmp_path}", *FAST_ARGS, *args])
    assert res.exit_code == 2, res.output
    flat = " ".join(res.output.split())
    assert flat.startswith("error:") or "\nerror:" in res.output, res.output
    for w in words:
        assert w in flat
    assert "Traceback" not in res.output
