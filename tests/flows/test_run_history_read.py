"""Reading earlier runs back from MLflow: a missing or malformed artifact is a note, not a crash."""

from __future__ import annotations

import time

import pandas as pd
import pytest
from mlflow import MlflowClient

from exportcast.configs import load_config
from exportcast.flows import tracking_store
from exportcast.flows.run_history import Current, collect, read_run_csv


@pytest.fixture
def store(tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = MlflowClient(uri)
    exp = client.create_experiment("exportcast-KOR", artifact_location=str(tmp_path / "art"))
    return uri, client, exp


def _run(client, exp, files: dict[str, str], tmp_path, *, vintage="0123456789ab", last=2020):
    run = client.create_run(exp, tags={"data_vintage": vintage, "config_hash": "c",
                                       "last_year": str(last)})  # fmt: skip
    client.log_param(run.info.run_id, "horizon", "3")
    client.log_metric(run.info.run_id, "dependence_share_forecast", 0.4, step=last + 3)
    for name, text in files.items():
        path = tmp_path / run.info.run_id / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        client.log_artifact(run.info.run_id, str(path))
    client.set_terminated(run.info.run_id)
    time.sleep(0.02)
    return run.info.run_id


GOOD_FC = "reporter,partner,year,mean\nKOR,CHN,2021,1e11\nKOR,USA,2021,8e10\nKOR,REST,2021,2e11\n"
GOOD_CONC = "year,kind,dependence_share\n2020,history,0.4\n2021,forecast,0.41\n"


def test_read_run_csv_names_run_file_row_and_column(store, tmp_path):
    uri, client, exp = store
    s = tracking_store.resolve_store(uri)
    bad_mean = GOOD_FC.replace("8e10", "lots")
    rid = _run(client, exp, {"forecasts.csv": bad_mean}, tmp_path)
    cols = ["partner", "year", "mean"]
    with pytest.raises(
        tracking_store.TrackingError, match=rf"{rid}: forecasts.csv, row 3, column 'mean'"
    ):
        read_run_csv(s, rid, "forecasts.csv", cols, tmp_path)
    with pytest.raises(
        tracking_store.TrackingError, match=rf"{rid} has no artifact concentration.csv"
    ):
        read_run_csv(s, rid, "concentration.csv", ["year"], tmp_path)
    rid2 = _run(client, exp, {"forecasts.csv": "partner;year\nCHN;2021\n"}, tmp_path)
    with pytest.raises(tracking_store.TrackingError, match=rf"{rid2}: forecasts.csv has no column"):
        read_run_csv(s, rid2, "forecasts.csv", cols, tmp_path)
    rid3 = _run(client, exp, {"forecasts.csv": GOOD_FC}, tmp_path)
    frame = read_run_csv(s, rid3, "forecasts.csv", cols, tmp_path)
    assert frame["year"].dtype == "int64" and frame["mean"].sum() == pytest.approx(3.8e11)


def test_collect_skips_broken_runs_with_a_note_and_scores_the_good_one(store, tmp_path):
    uri, client, exp = store
    broken = _run(client, exp, {"forecasts.csv": GOOD_FC.replace("1e11", "x")}, tmp_path)
    no_conc = _run(client, exp, {"forecasts.csv": GOOD_FC}, tmp_path, vintage="ba5eba11ba5e")
    good = _run(client, exp, {"forecasts.csv": GOOD_FC, "concentration.csv": GOOD_CONC},
                tmp_path, vintage="0000000000aa")  # fmt: skip
    cfg = load_config(overrides=[f"tracking.uri={uri}", f"data.vintages_dir={tmp_path / 'v'}"])
    panel = pd.DataFrame({"reporter": "KOR", "partner": ["CHN", "USA", "VNM"] * 2,
                          "year": [2020] * 3 + [2021] * 3,
                          "export_usd": [9e10, 7e10, 2e11, 1.1e11, 7e10, 2.1e11]})  # fmt: skip
    conc = pd.DataFrame({"year": [2020, 2021], "kind": "history", "dependence_share": [0.4, 0.46]})
    now = client.create_run(exp, tags={"data_vintage": "530a1176eaf6", "config_hash": "c"})
    cur = Current(now.info.run_id, "KOR", "530a1176eaf6", "c", "kor_exports", panel, conc)
    history = collect(cfg, cur)
    assert "error" not in history.meta
    notes = " | ".join(history.meta["track_notes"])
    assert f"skipped run {broken}" in notes and "column 'mean'" in notes
    assert f"skipped run {no_conc}" in notes and "concentration.csv" in notes
    assert set(history.track["run_id"]) == {good}
    assert set(history.track["year"]) == {2021}
    share = history.track.set_index("measure").loc["dependence_share"]
    assert share["error"] == pytest.approx(-5.0)  # 41 % forecast, 46 % actual
    # no run kept its own data (no history.csv, vintages not in the store): today's data
    assert set(history.track["no_change_data"]) == {"revised"}
    # the previous run is the newest finished one on another vintage: "good"
    assert history.meta["previous"]["run_id"] == good
    assert history.tags["previous_run_id"] == good
    assert history.metrics["vintage_track_runs"] == 1
