import subprocess
import sys
from types import SimpleNamespace

import pandas as pd
import pytest
from typer.testing import CliRunner

from exportcast.flows.cli import app
from tests.flows.helpers import FAST_ARGS

runner = CliRunner()


@pytest.fixture(scope="module")
def history_cli_run(tmp_path_factory):
    """One ``exportcast run`` (FAST, the history only) with a third partner in the dependence
    set, read by the two tests below (was two runs, one of them forecasting)."""
    out = tmp_path_factory.mktemp("history-cli-run")
    sets = ["dependence_set=[CHN, USA, JPN]", "forecast.enabled=false"]
    args = [arg for item in sets for arg in ("--set", item)]
    res = runner.invoke(app, ["run", "--set", f"output.dir={out}", *FAST_ARGS, *args])
    return SimpleNamespace(result=res, folder=out / "KOR")


def test_dependence_set_is_configurable(history_cli_run):
    # the history only: a changed set in the forecast columns is checked in test_pipeline.py
    # (test_changed_config_recomputes_but_output_location_does_not)
    assert history_cli_run.result.exit_code == 0, history_cli_run.result.output
    out = pd.read_csv(history_cli_run.folder / "concentration.csv")
    assert set(out["kind"]) == {"history"}
    assert "share_JPN" in out.columns
    total = out["share_CHN"] + out["share_USA"] + out["share_JPN"]
    assert (out["dependence_share"] - total).abs().max() < 1e-9


def test_cli_run_prints_history_table(history_cli_run):
    # the table with forecast rows is printed by the default run's `exportcast run` children
    # (tests/flows/test_default_run.py), which must exit 0
    res = history_cli_run.result
    assert res.exit_code == 0, res.output
    assert "China share" in res.output and "JPN share" in res.output
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
            [sys.executable, "-m", "exportcast.flows.cli", *args],
            capture_output=True,
            text=True,
            check=False,
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
