"""The commands around tracking and scheduling: ``runs``, ``ui``, ``serve`` and their help."""

import re
from pathlib import Path

import pandas as pd
import pytest
from prefect.settings import PREFECT_API_URL, temporary_settings
from typer.testing import CliRunner

from exportcast.flows.cli import app
from exportcast.flows.snapshot import read_manifest
from tests.flows.helpers import free_port

runner = CliRunner()
ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("command", "words"),
    [
        ("run", ["--quiet", "--verbose", "PREFECT_API_URL", "MLflow"]),
        ("runs", ["--limit", "MLflow runs"]),
        ("ui", ["--port", "--host", "127.0.0.1", "mlflow server"]),
        ("serve", ["PREFECT_API_URL", "schedule.cron", "prefect server start"]),
    ],
)
def test_help_describes_each_command(command, words):
    res = runner.invoke(app, [command, "--help"], terminal_width=200)
    assert res.exit_code == 0, res.output
    for word in words:
        assert word in res.output, (word, res.output)


def test_runs_lists_the_latest_run_of_the_reporter(quiet_cli_run):
    experiment = quiet_cli_run.experiment
    assert quiet_cli_run.result.exit_code == 0, quiet_cli_run.result.output

    res = runner.invoke(app, ["runs", *experiment], env={"COLUMNS": "80"})
    assert res.exit_code == 0, res.output
    assert "clitest-KOR" in res.output
    assert "FINISHED" in res.output
    vintage = read_manifest(Path(__file__).resolve().parents[2] / "data" / "snapshot")["vintage"]
    assert vintage[:8] in res.output  # data vintage, cut to 8 characters
    assert "38.0 % 2023" in res.output
    conc = pd.read_csv(quiet_cli_run.folder / "concentration.csv").set_index("year")
    assert f"{100 * conc.loc[2028, 'dependence_share']:.1f} % 2028" in res.output  # forecast
    # the job's run only, not its nested model runs (Naive, Drift, Ensemble, Selected): one
    # line that starts with a short run id
    assert len(re.findall(r"^[0-9a-f]{8} ", res.output, flags=re.MULTILINE)) == 1
    assert "…" not in res.output


def test_runs_says_when_there_are_none():
    res = runner.invoke(app, ["runs", "--set", "tracking.experiment=nothing-here"])
    assert res.exit_code == 0, res.output
    assert "no runs yet" in res.output


@pytest.mark.unit  # refused before any flow starts
def test_serve_refuses_without_prefect_api_url():
    with temporary_settings({PREFECT_API_URL: None}):
        res = runner.invoke(app, ["serve", "-q"])
    assert res.exit_code == 2
    assert "PREFECT_API_URL is not set" in res.output
    assert "prefect server start --host 127.0.0.1" in res.output


@pytest.mark.unit  # refused before any flow starts
def test_serve_refuses_when_no_server_answers():
    url = f"http://127.0.0.1:{free_port()}/api"
    with temporary_settings({PREFECT_API_URL: url}):
        res = runner.invoke(app, ["serve", "-q"])
    assert res.exit_code == 2
    assert "no Prefect server answers" in res.output


def test_ui_refuses_a_remote_tracking_server():
    res = runner.invoke(app, ["ui", "--set", "tracking.uri=http://127.0.0.1:5999"])
    assert res.exit_code == 2
    assert "server already" in res.output


# `exportcast ui` serving the store and stopping cleanly on SIGTERM: in test_mlflow_ui.py, where
# the same child serves the browser test (one mlflow server start for both)


@pytest.mark.unit  # `run` stops at the config, before any flow starts
def test_runs_of_another_reporter_need_no_scenario_override():
    # the default scenarios are Korea's: the job refuses them for JPN, listing runs does not
    res = runner.invoke(app, ["runs", "--set", "reporter=JPN", "--set", "tracking.experiment=x"])
    assert res.exit_code == 0, res.output
    assert "no runs yet" in res.output
    res = runner.invoke(app, ["run", "--set", "reporter=JPN"])
    assert res.exit_code == 2 and "key 'scenarios'" in " ".join(res.output.split())
