"""The champion forecaster: registered as a pyfunc with alias ``champion``, loadable, and
forecasting what the pipeline forecast."""

import os

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient

from exportcast.configs import load_config
from exportcast.features.panel import series_to_panel
from exportcast.flows import tracking
from exportcast.flows.pipeline import run_pipeline
from tests.flows.helpers import FAST

NAME = "exportcast-KOR-forecaster"


def test_champion_is_registered_and_forecasts_like_the_pipeline(fast_run, mlflow_uri):
    result, folder = fast_run.result, fast_run.folder
    client = MlflowClient(mlflow_uri)
    run = client.get_run(result.mlflow_run_id)
    assert run.info.status == "FINISHED"
    # the version this run registered (later runs in the session may have moved the alias on)
    tagged = run.data.tags["champion_model"]
    assert tagged.startswith(f"models:/{NAME}/")
    version = client.get_model_version(NAME, tagged.rsplit("/", 1)[1])
    assert version.run_id == result.mlflow_run_id
    assert version.tags["selected_model"] == run.data.tags["selected_model"]
    assert int(client.get_model_version_by_alias(NAME, "champion").version) >= int(version.version)

    assert os.environ["MLFLOW_TRACKING_URI"] == mlflow_uri  # set for the session (conftest)
    model = mlflow.pyfunc.load_model(tagged)
    fc = model.predict(pd.DataFrame({"horizon": [3]}))

    assert list(fc.columns) == ["unique_id", "ds", "mean", "lo_80", "hi_80", "lo_95", "hi_95"]
    expected = pd.read_csv(folder / "forecasts.csv")
    last = int(expected["year"].min()) - 1
    years = fc.groupby("unique_id")["ds"].agg(lambda ds: sorted(ds.astype(int)))
    assert all(y == [last + 1, last + 2, last + 3] for y in years)
    assert fc["unique_id"].nunique() == expected["partner"].nunique()
    got = series_to_panel(fc).merge(expected, on=["reporter", "partner", "year"], how="left")
    assert len(got) == len(fc)
    for col in ("mean", "lo_80", "hi_80", "lo_95", "hi_95"):
        np.testing.assert_allclose(got[f"{col}_x"], got[f"{col}_y"], rtol=1e-6, atol=1e-3)
    assert (fc["lo_95"] <= fc["lo_80"]).all()
    assert (fc["lo_80"] <= fc["mean"]).all()
    assert (fc["mean"] <= fc["hi_80"]).all()
    assert (fc["hi_80"] <= fc["hi_95"]).all()

    one = fc["unique_id"].iloc[0]
    only = model.predict(pd.DataFrame({"horizon": [2, 2], "unique_id": [one, one]}))
    assert set(only["unique_id"]) == {one}
    pd.testing.assert_frame_equal(only, fc[fc["unique_id"] == one].iloc[:2].reset_index(drop=True))
    with pytest.raises(ValueError, match="calibrated for"):
        model.predict(pd.DataFrame({"horizon": [50]}))


def test_failed_registration_still_finishes_the_run(tmp_path, mlflow_uri, monkeypatch):
    def broken(self, *args, **kwargs):
        raise RuntimeError("registry down")

    monkeypatch.setattr(tracking.TrackedRun, "log_pyfunc", broken)
    cfg = load_config(overrides=[f"output.dir={tmp_path / 'out'}", *FAST])
    result = run_pipeline(cfg, log=lambda _: None)

    run = MlflowClient(mlflow_uri).get_run(result.mlflow_run_id)
    assert run.info.status == "FINISHED"
    assert "champion_model" not in run.data.tags
    assert run.data.tags["champion_error"] == "RuntimeError: registry down"
    assert "forecasts.csv" in {
        a.path for a in MlflowClient(mlflow_uri).list_artifacts(run.info.run_id)
    }


def test_mlflows_requirement_scan_is_skipped_only_while_logging(monkeypatch):
    # log_model processes pip requirements through mlflow.utils.environment, whose mismatch
    # check scans every installed distribution; exportcast's pins come from this environment
    from mlflow.utils import environment

    calls = []
    monkeypatch.setattr(environment, "warn_dependency_requirement_mismatches", calls.append)
    with tracking._pins_of_this_environment():
        _, reqs, _ = environment._process_pip_requirements([], pip_requirements=["pandas==2.3.3"])
    assert calls == [] and "pandas==2.3.3" in reqs
    environment._process_pip_requirements([], pip_requirements=["pandas==2.3.3"])
    assert len(calls) == 1  # restored afterwards
