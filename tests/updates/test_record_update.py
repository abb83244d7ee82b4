"""record_update: the scheduled run's MLflow record gains the update and the headline move."""

from __future__ import annotations

import time
from types import SimpleNamespace

import pytest
from mlflow import MlflowClient

from exportcast.configs import load_config
from exportcast.flows.update_flow import record_update


def _run(client, exp_id, vintage, forecast):
    run = client.create_run(exp_id, tags={"data_vintage": vintage, "last_year": "2023"})
    client.log_param(run.info.run_id, "horizon", "5")
    client.log_metric(run.info.run_id, "dependence_share_forecast", forecast, step=2028)
    client.set_terminated(run.info.run_id)
    time.sleep(0.01)  # distinct start times
    return run.info.run_id


def test_headline_move_and_update_status_are_recorded(tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    cfg = load_config(None, [f"tracking.uri={uri}"], scenarios=False)
    client = MlflowClient(uri)
    exp_id = client.create_experiment("exportcast-KOR", artifact_location=str(tmp_path / "a"))
    _run(client, exp_id, "cfdbe6d207db", 0.36)
    now = _run(client, exp_id, "cfdbe6d207db", 0.381)
    result = SimpleNamespace(mlflow_run_id=now, vintage="cfdbe6d207db")
    got = record_update(cfg, result, {"status": "no new data"})
    assert got["metrics"]["headline_change_pp"] == pytest.approx(2.1)
    run = client.get_run(now)
    assert run.data.tags["data_update"] == "no new data"
    assert run.data.tags["previous_data_vintage"] == "cfdbe6d207db"
    assert run.data.metrics["headline_previous"] == pytest.approx(0.36)
    assert got["artifact"] is None  # no new vintage, no what-changed table
