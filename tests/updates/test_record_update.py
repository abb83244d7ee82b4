"""record_update: the scheduled run's MLflow record gains the update's status (and only that).

The comparison with the previous run (tags, headline metrics) is the run's own, logged by
flows/run_history.py; record_update must not overwrite or repeat it.
"""

from __future__ import annotations

from types import SimpleNamespace

from mlflow import MlflowClient

from exportcast.configs import load_config
from exportcast.flows.update_flow import record_update


def test_update_status_is_recorded_and_the_run_comparison_left_alone(tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    cfg = load_config(None, [f"tracking.uri={uri}"], scenarios=False)
    client = MlflowClient(uri)
    exp_id = client.create_experiment("exportcast-KOR", artifact_location=str(tmp_path / "a"))
    run = client.create_run(exp_id, tags={"data_vintage": "530a1176eaf6",
                                          "previous_data_vintage": "7f87e2005f22"})  # fmt: skip
    client.log_metric(run.info.run_id, "headline_change_pp", -1.5)
    client.set_terminated(run.info.run_id)
    result = SimpleNamespace(mlflow_run_id=run.info.run_id, vintage="530a1176eaf6")
    got = record_update(cfg, result, {"status": "no new data"})
    assert got == {"tags": {"data_update": "no new data"}, "artifact": None}
    after = client.get_run(run.info.run_id)
    assert after.data.tags["data_update"] == "no new data"
    assert after.data.tags["previous_data_vintage"] == "7f87e2005f22"  # the run's own
    assert after.data.metrics == {"headline_change_pp": -1.5}
