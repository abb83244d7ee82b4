import subprocess
import sys

import pandas as pd
import pytest
from typer.testing import CliRunner

from configs import load_config
from flows.cli import app
from flows.pipeline import run_pipeline

runner = CliRunner()


def _run(tmp_path, *sets):
    cfg = load_config(overrides=[f"output.dir={tmp_path}", *sets])
    return run_pipeline(cfg, log=lambda _: None)


def test_run_writes_concentration_contract_with_golden_values(tmp_path):
    result = _run(tmp_path)
    out = pd.read_csv(tmp_path / "KOR" / "concentration.csv")
    for col in ["reporter", "year", "kind", "hhi", "hhi_norm", "n_effective", "share_CHN",
                "share_USA", "dependence_share", "data_vintage"]:  # fmt: skip
        assert col in out.columns
    assert set(out["kind"]) == {"history"}
    assert out["data_vintage"].unique().tolist() == [result.vintage]
    row = out.set_index("year")
    assert row.loc[2019, "share_CHN"] == pytest.approx(0.251, abs=0.0005)
    assert row.loc[2019, "share_USA"] == pytest.approx(0.135, abs=0.0005)
    assert row.loc[2019, "hhi"] == pytest.approx(0.101, abs=0.0005)
    assert row.loc[2023, "share_CHN"] == pytest.approx(0.197, abs=0.0005)
    assert row.loc[2023, "share_USA"] == pytest.approx(0.183, abs=0.0005)
    assert row.loc[2000, "share_CHN"] == pytest.approx(0.107, abs=0.0005)
    assert row.loc[2000, "hhi"] == pytest.approx(0.086, abs=0.0005)
    assert (out["dependence_share"] - out["share_CHN"] - out["share_USA"]).abs().max() < 1e-9
    assert (tmp_path / "KOR" / "run.json").is_file()


def test_dependence_set_is_configurable(tmp_path):
    _run(tmp_path, "dependence_set=[CHN, USA, JPN]")
    out = pd.read_csv(tmp_path / "KOR" / "concentration.csv")
    assert "share_JPN" in out.columns
    total = out["share_CHN"] + out["share_USA"] + out["share_JPN"]
    assert (out["dependence_share"] - total).abs().max() < 1e-9


def test_cli_run_prints_history_table(tmp_path):
    res = runner.invoke(app, ["run", "--set", f"output.dir={tmp_path}"])
    assert res.exit_code == 0, res.output
    assert "China share" in res.output
    assert "2019" in res.output and "25.1 %" in res.output and "13.5 %" in res.output
    assert "2023" in res.output and "19.7 %" in res.output and "18.3 %" in res.output
    assert "0.101" in res.output


def test_cli_bad_config_exits_2_with_named_key(tmp_path):
    res = runner.invoke(app, ["run", "--set", "reportr=KOR", "--set", f"output.dir={tmp_path}"])
    assert res.exit_code == 2
    assert "reportr" in res.output and "unknown key" in res.output
    assert not (tmp_path / "KOR").exists()


def test_cli_quiet_prints_nothing(tmp_path):
    res = runner.invoke(app, ["run", "-q", "--set", f"output.dir={tmp_path}"])
    assert res.exit_code == 0
    assert res.output == ""


def test_console_script_help_for_every_command():
    for args in (["--help"], ["run", "--help"], ["snapshot", "--help"]):
        proc = subprocess.run(
            [sys.executable, "-m", "flows.cli", *args], capture_output=True, text=True, check=False
        )
        assert proc.returncode == 0, proc.stderr
        assert "Usage" in proc.stdout


@pytest.mark.rawdata
@pytest.mark.slow
def test_cli_snapshot_check_reproduces_committed(raw):
    res = runner.invoke(app, ["snapshot", "--raw", str(raw), "--check"])
    assert res.exit_code == 0, res.output
    assert "reproduced exactly" in res.output
