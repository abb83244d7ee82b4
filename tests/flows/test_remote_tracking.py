"""The pipeline against a real MLflow tracking server (``MLFLOW_TRACKING_URI=http://...``).

The server keeps runs in its own SQLite database and stores artifacts itself
(``--serve-artifacts --artifacts-destination``): the client uploads them over HTTP and never
writes into the server's folders.
"""

import pandas as pd
import pytest
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from exportcast.configs import RunConfig, load_config
from exportcast.flows.pipeline import run_pipeline

# Forecasting is not what this test looks at and takes a minute or more: off where it exists.
NO_FORECAST = ["forecast.enabled=false"] if "forecast" in RunConfig.model_fields else []


def test_run_is_recorded_on_a_tracking_server_with_uploaded_artifacts(
    tmp_path, mlflow_server, mlflow_uri, monkeypatch
):
    database = tmp_path / "server" / "mlflow.db"
    database.parent.mkdir()
    served = tmp_path / "server" / "artifacts"
    url = mlflow_server(
        "--backend-store-uri", f"sqlite:///{database}",
        "--serve-artifacts", "--artifacts-destination", str(served),
    ).ready()  # fmt: skip
    monkeypatch.setenv("MLFLOW_TRACKING_URI", url)
    out = tmp_path / "out"

    result = run_pipeline(
        load_config(overrides=[f"output.dir={out}", *NO_FORECAST]), log=lambda _: None
    )

    client = MlflowClient(tracking_uri=url)
    run = client.get_run(result.mlflow_run_id)
    assert run.info.status == "FINISHED"
    assert client.get_experiment(run.info.experiment_id).name == "exportcast-KOR"
    tags = run.data.tags
    assert tags["reporter"] == "KOR"
    assert tags["data_vintage"] == result.vintage
    assert tags["config_hash"] == result.config_hash
    history = client.get_metric_history(run.info.run_id, "dependence_share")
    past = result.concentration.query("kind == 'history'")
    years = past["year"].astype(int).tolist()
    assert years == list(range(1990, 2024))
    assert sorted(m.step for m in history) == years
    expected = dict(zip(years, past["dependence_share"], strict=True))
    for point in history:
        assert point.value == pytest.approx(expected[point.step])

    # Artifacts went through the server into its artifact store.
    assert run.info.artifact_uri.startswith("mlflow-artifacts:"), run.info.artifact_uri
    assert {a.path for a in client.list_artifacts(run.info.run_id)} >= {
        "concentration.csv",
        "dependence_share.png",
    }
    uploaded = list(served.rglob("concentration.csv"))
    assert len(uploaded) == 1, uploaded
    assert run.info.run_id in uploaded[0].parts
    pd.testing.assert_frame_equal(
        pd.read_csv(uploaded[0]), pd.read_csv(out / "KOR" / "concentration.csv")
    )
    assert (uploaded[0].parent / "dependence_share.png").read_bytes()[:4] == b"\x89PNG"

    # Nothing of this run reached the session's local store.
    with pytest.raises(MlflowException):
        MlflowClient(tracking_uri=mlflow_uri).get_run(result.mlflow_run_id)
