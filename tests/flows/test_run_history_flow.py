"""Two real runs in one store: the second reports what changed since the first and scores it.

The first run reads a test vintage with Korea's exports cut after 2021 (made like
``exportcast update`` makes vintages, in a temporary store); the second reads the embedded
snapshot (data to 2023). A third, older run in the same experiment has a malformed
``forecasts.csv``: it is skipped with a note naming it, and nothing fails.
"""

from __future__ import annotations

import json
import os
import time

import pandas as pd
import pytest
from mlflow import MlflowClient

from exportcast.configs import load_config
from exportcast.flows.io import CODE_ROOT
from exportcast.flows.pipeline import run_pipeline
from exportcast.flows.snapshot import load_snapshot
from exportcast.flows.update import _write_vintage
from exportcast.flows.vintages import publish, staging_dir
from tests.flows.helpers import FAST

SNAPSHOT = CODE_ROOT / "data" / "snapshot"
EXPERIMENT = "runhistory-{reporter}"


def _truncated_vintage(store, last: int) -> str:
    snap = load_snapshot(SNAPSHOT)
    cut = {n: snap[n].loc[snap[n]["year"] <= last].reset_index(drop=True)
           for n in ("kor_exports", "kor_totals")}  # fmt: skip
    staging = staging_dir(store)
    _write_vintage(snap, cut, {}, staging, SNAPSHOT)
    return publish(staging, store)[0]


def _broken_run(client: MlflowClient, tmp_path) -> str:
    """An older FINISHED run of a vintage no store holds, whose forecasts.csv is not a table."""
    exp = client.get_experiment_by_name("runhistory-KOR")
    exp_id = (
        exp.experiment_id
        if exp
        else client.create_experiment(
            "runhistory-KOR", artifact_location=str(tmp_path / "artifacts")
        )
    )
    run = client.create_run(exp_id, tags={"data_vintage": "0123456789ab", "config_hash": "x",
                                          "last_year": "2020"})  # fmt: skip
    client.log_param(run.info.run_id, "horizon", "5")
    client.log_metric(run.info.run_id, "dependence_share_forecast", 0.4, step=2025)
    bad = tmp_path / "forecasts.csv"
    bad.write_text("partner;year\nCHN;2021\n", encoding="utf-8")
    client.log_artifact(run.info.run_id, str(bad))
    client.set_terminated(run.info.run_id)
    time.sleep(0.05)
    return run.info.run_id


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("run-history")
    store = tmp / "vintages"
    cut = _truncated_vintage(store, 2021)
    settings = [
        *[s for s in FAST if not s.startswith("report.")],
        "report.pdf=false",
        f"tracking.experiment={EXPERIMENT}",
        f"data.vintages_dir={store}",
    ]
    client = MlflowClient(os.environ["MLFLOW_TRACKING_URI"])
    broken = _broken_run(client, tmp)
    own = [f"data.vintage={cut}", f"output.dir={tmp / 'o1'}", "report.enabled=false"]
    first = run_pipeline(load_config(overrides=[*settings, *own]), log=lambda _: None)
    lines: list[str] = []
    second = run_pipeline(load_config(overrides=[*settings, f"output.dir={tmp / 'o2'}"]),
                          log=lines.append)  # fmt: skip
    return {"cut": cut, "broken": broken, "first": first, "second": second, "lines": lines,
            "folder": tmp / "o2" / "KOR", "client": client}  # fmt: skip


def test_second_run_names_the_first_as_previous_and_lists_new_years(two_runs):
    first, second, folder = two_runs["first"], two_runs["second"], two_runs["folder"]
    assert first.vintage == two_runs["cut"] != second.vintage
    meta = json.loads((folder / "report.json").read_text())["run_history"]
    assert meta["previous"]["run_id"] == first.mlflow_run_id
    assert meta["previous"]["data_vintage"] == first.vintage
    assert meta["changes_compared"] is True
    changes = pd.read_csv(folder / "changes_since_last_run.csv")
    new_years = changes.loc[changes["kind"] == "new year", "year"].tolist()
    assert new_years == [2022, 2023]
    assert (changes["kind"] == "revision").sum() == 0  # the same data up to 2021
    move = meta["headline"]
    assert (move["previous_year"], move["current_year"]) == (2026, 2028)
    assert move["same_year_kind"] == "forecast"


def test_track_record_scores_the_first_run_on_2022_2023_only(two_runs):
    first, folder = two_runs["first"], two_runs["folder"]
    track = pd.read_csv(folder / "vintage_track.csv", dtype={"run_id": str, "data_vintage": str})
    assert set(track["run_id"]) == {first.mlflow_run_id}
    assert sorted(set(track["year"])) == [2022, 2023]
    assert len(track) == 6 and set(track["measure"]) == {"total_usd", "dependence_share",
                                                           "partner_mape"}  # fmt: skip
    # the actual totals are the embedded snapshot's (data published after the first run)
    kor = load_snapshot(SNAPSHOT, ["kor_exports"])["kor_exports"]
    panel = pd.read_csv(folder / "history.csv")
    totals = track.loc[track["measure"] == "total_usd"].set_index("year")
    for year in (2022, 2023):
        assert totals.loc[year, "actual"] == pytest.approx(
            panel.loc[panel["year"] == year, "export_usd"].sum()
        )
        assert kor.loc[kor["year"] == year, "export_usd"].sum() > 0
    # the first run's own 2021 data (its vintage in the store) gave the no-change forecast
    assert set(track["no_change_data"]) == {"run"}
    meta = json.loads((folder / "report.json").read_text())["run_history"]
    broken = two_runs["broken"]
    assert any(broken in n and "skipped" in n for n in meta["track_notes"])


def test_mlflow_and_report_carry_both(two_runs):
    second, client = two_runs["second"], two_runs["client"]
    run = client.get_run(second.mlflow_run_id)
    assert run.data.tags["previous_run_id"] == two_runs["first"].mlflow_run_id
    assert run.data.metrics["vintage_track_runs"] == 1
    assert run.data.metrics["vintage_track_years"] == 2
    assert run.data.metrics["vintage_track_mape"] > 0
    assert "headline_change_pp" in run.data.metrics
    names = {a.path for a in client.list_artifacts(second.mlflow_run_id)}
    assert {"vintage_track.csv", "changes_since_last_run.csv"} <= names
    html = next((two_runs["folder"] / "report").glob("*.html")).read_text(encoding="utf-8")
    assert "What changed since the last run" in html
    assert "Track record across data vintages" in html
    assert two_runs["first"].mlflow_run_id in html
    assert any(line.strip().startswith("earlier runs") for line in two_runs["lines"])
