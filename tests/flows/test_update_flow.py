"""The scheduled job's flow: update-data, then the main job on the vintage it made."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest
from mlflow import MlflowClient

from exportcast.configs import load_config
from exportcast.flows.io import CODE_ROOT
from exportcast.flows.snapshot import read_manifest
from exportcast.flows.update_flow import update_then_forecast
from tests.flows.helpers import FAST

ROOT = Path(__file__).resolve().parents[2]


def _inbox_file(folder):
    kor = pd.read_parquet(CODE_ROOT / "data" / "snapshot" / "kor_exports.parquet")
    # a synthetic 2024 (every 2023 partner x 1.05): test data, not a forecast
    rows = kor.loc[kor["year"] == 2023].assign(year=2024)
    rows = rows.assign(export_usd=rows["export_usd"] * 1.05)
    rows[["reporter", "partner", "year", "export_usd"]].to_csv(folder / "kor.csv", index=False)


# Its flows need a Prefect API: the session's test server, shared in `make test-fast` with the
# retry test of tests/flows/test_pipeline.py (same xdist group: one server on one worker; was
# the test server there and Prefect's own temporary server here, on either worker)
@pytest.mark.xdist_group("prefect_harness_fast")
@pytest.mark.usefixtures("prefect_harness")
def test_update_then_forecast_runs_on_the_new_vintage_then_says_no_new_data(tmp_path):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    cfg = load_config(overrides=[
        *FAST, "forecast.enabled=false",  # years.end: latest follows the new vintage
        f"output.dir={tmp_path / 'out'}", f"data.vintages_dir={tmp_path / 'v'}",
        f"data.inbox_dir={inbox}", f"data.quarantine_dir={tmp_path / 'q'}",
    ])  # fmt: skip
    _inbox_file(inbox)
    first = update_then_forecast(cfg)
    active = (tmp_path / "v" / "active").read_text().strip()
    assert first.vintage == active != read_manifest(ROOT / "data" / "snapshot")["vintage"]
    assert first.concentration["year"].max() == 2024
    _inbox_file(inbox)  # the same release again
    second = update_then_forecast(cfg)
    assert second.vintage == active
    assert (tmp_path / "v" / "active").read_text().strip() == active
    assert len([p for p in (tmp_path / "v").iterdir() if p.name != "active"]) == 1
    client = MlflowClient(os.environ["MLFLOW_TRACKING_URI"])
    run1, run2 = (client.get_run(r.mlflow_run_id) for r in (first, second))
    assert run1.data.tags["data_update"] == "new"
    assert run2.data.tags["data_update"] == "no new data"
    # no forecasts, so no comparison with a previous run (flows/run_history.py needs them)
    assert "previous_run_id" not in run2.data.tags
    changed = client.download_artifacts(run1.info.run_id, "what_changed/changes.csv", str(tmp_path))
    table = pd.read_csv(changed)
    assert table.iloc[0]["kind"] == "new year" and table.iloc[0]["year"] == 2024
    [inp] = run2.inputs.dataset_inputs
    assert inp.dataset.digest == active
