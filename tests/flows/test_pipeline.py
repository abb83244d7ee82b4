import json
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest
from mlflow import MlflowClient
from prefect import flow
from prefect.states import Failed

from exportcast.configs import load_config
from exportcast.flows import cache_keys, pipeline, years
from exportcast.flows.cache_keys import cache_key, code_version
from exportcast.flows.pipeline import (
    build_panel,
    compute_concentration,
    load_data,
    run_pipeline,
)
from exportcast.flows.snapshot import Snapshot
from tests.flows.helpers import FAST


def _config(tmp_path, *sets):
    return load_config(overrides=[f"output.dir={tmp_path / 'out'}", *FAST, *sets])


def _counting(monkeypatch, name):
    calls = []
    real = getattr(pipeline, name)

    def wrapper(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(pipeline, name, wrapper)
    return calls


def test_flow_logs_one_mlflow_run_with_tags_params_metrics_and_artifacts(
    fast_run, tmp_path, mlflow_uri
):
    result, lines = fast_run.result, fast_run.lines

    client = MlflowClient(mlflow_uri)
    run = client.get_run(result.mlflow_run_id)
    assert run.info.status == "FINISHED"
    experiment = client.get_experiment(run.info.experiment_id)
    assert experiment.name == "exportcast-KOR"
    tags = run.data.tags
    assert tags["reporter"] == "KOR"
    assert tags["data_vintage"] == result.vintage
    assert tags["config_hash"] == result.config_hash
    assert tags["code_version"] == code_version()
    assert tags["prefect_flow_run_id"] == result.flow_run_id
    params = run.data.params
    assert params["reporter"] == "KOR"
    assert params["years.start"] == "1990"
    assert params["dependence_set"] == '["CHN", "USA"]'
    history = client.get_metric_history(run.info.run_id, "dependence_share")
    assert sorted(m.step for m in history) == list(range(1990, 2024))
    by_year = {m.step: m.value for m in history}
    assert by_year[2019] == pytest.approx(0.386, abs=0.0005)
    for name in ("hhi", "n_effective", "share_CHN", "share_USA"):
        assert len(client.get_metric_history(run.info.run_id, name)) == 34
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
    # the run-history tables (docs/data-updates.md): the track record always, the changes
    # table only when an earlier run of the store is the previous run (shared stores have one)
    previous = "previous_run_id" in tags
    assert artifacts == {
        "concentration.csv", "dependence_share.png", "forecasts.csv", "backtest_accuracy.csv",
        "backtest_forecasts.csv", "vintage_track.csv",
        *(["changes_since_last_run.csv"] if previous else []),
    }  # fmt: skip
    fc = client.get_metric_history(run.info.run_id, "dependence_share_forecast_p50")
    assert sorted(m.step for m in fc) == list(range(2024, 2029))
    lo = {
        m.step: m.value
        for m in client.get_metric_history(run.info.run_id, "dependence_share_forecast_lo_80")
    }
    hi = {
        m.step: m.value
        for m in client.get_metric_history(run.info.run_id, "dependence_share_forecast_hi_80")
    }
    assert all(lo[m.step] <= m.value <= hi[m.step] for m in fc)
    assert "backtest_Selected_relMASE" in run.data.metrics
    assert run.data.tags["selected_model"] in {"Naive", "Drift", "Ensemble"}
    png = client.download_artifacts(run.info.run_id, "dependence_share.png", str(tmp_path))
    assert Path(png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    meta = json.loads((fast_run.folder / "run.json").read_text())
    assert meta["mlflow_run_id"] == result.mlflow_run_id
    assert meta["prefect_flow_run_id"] == result.flow_run_id
    assert meta["code_version"] == code_version()
    text = "\n".join(lines)
    for stage in ("load data", "build panel", "compute concentration", "log run", "write outputs"):
        assert stage in text
    assert "248 partners, 7,706 partner-years" in text


# the stages an identical rerun loads from the cache (the index forecasts and the index
# backtest too: same data, config and code as the engine they read)
HEAVY = (
    "build_panel", "compute_concentration", "build_series", "forecast_partners",
    "forecast_concentration", "backtest_index",
)  # fmt: skip


@pytest.fixture(scope="session")  # session: built once, by the two tests below (one group)
def cached_first_run(tmp_path_factory, prefect_harness, isolated_stores):
    """A FAST run into a cache folder of its own, counting the heavy calls it makes.

    The two tests below each add runs after it: the same config (reuses everything), another
    output folder (reuses) and another dependence set (recomputes).
    """
    tmp_path = tmp_path_factory.mktemp("cached-first-run")
    cache = f"cache.dir={tmp_path / 'cache'}"
    with pytest.MonkeyPatch.context() as mp:
        panels = _counting(mp, "build_trade_panel")
        indices = _counting(mp, "concentration_index")
        first = run_pipeline(_config(tmp_path, cache), log=lambda _: None)
    return SimpleNamespace(
        tmp_path=tmp_path, cache=cache, result=first, calls=(len(panels), len(indices))
    )


def test_second_identical_run_reuses_heavy_stages(cached_first_run, monkeypatch):
    first, tmp_path = cached_first_run.result, cached_first_run.tmp_path
    panels = _counting(monkeypatch, "build_trade_panel")
    indices = _counting(monkeypatch, "concentration_index")

    lines = []
    second = run_pipeline(_config(tmp_path, cached_first_run.cache), log=lines.append)

    assert cached_first_run.calls == (1, 1)  # the first run computed them
    assert (len(panels), len(indices)) == (0, 0)  # the second did not
    assert first.cached == ()
    assert second.cached == HEAVY
    assert "(cached)" in "\n".join(lines)
    pd.testing.assert_frame_equal(first.concentration, second.concentration)
    assert second.mlflow_run_id != first.mlflow_run_id  # every run is tracked


def test_cached_results_are_stored_apart_from_their_records(cached_first_run):
    """A result is the serializer's bytes (no JSON around them); its record names it."""
    cache = cached_first_run.tmp_path / "cache"
    records = sorted(cache_keys.records_dir(cache).iterdir())
    assert {p.name.split("-")[0] for p in records} >= set(HEAVY)
    for record in records:
        meta = json.loads(record.read_text())
        assert meta["storage_key"] == str(cache.resolve() / record.name)
        assert meta["serializer"]["type"] == "pickle"
        assert not (cache / record.name).read_bytes().startswith(b"{")


def test_changed_config_recomputes_but_output_location_does_not(cached_first_run, monkeypatch):
    tmp_path, cache = cached_first_run.tmp_path, cached_first_run.cache
    indices = _counting(monkeypatch, "concentration_index")

    moved = run_pipeline(_config(tmp_path / "elsewhere", cache), log=lambda _: None)
    assert moved.cached == HEAVY
    changed = run_pipeline(_config(tmp_path, cache, "dependence_set=[CHN]"), log=lambda _: None)
    assert changed.cached == ()
    assert len(indices) == 1  # the changed run's only
    assert "share_USA" not in changed.concentration.columns
    assert "share_USA_lo_80" not in changed.concentration.columns


def test_cache_key_changes_with_data_vintage_config_and_code(monkeypatch):
    cfg = load_config()
    key = cache_key("aaaa", cfg)
    assert key.startswith("aaaa-") and key.endswith(code_version())
    assert cache_key("bbbb", cfg) != key
    assert cache_key("aaaa", load_config(overrides=["years.start=2000"])) != key
    assert cache_key("aaaa", load_config(overrides=["output.dir=/tmp/x"])) == key
    assert cache_key("aaaa", load_config(overrides=["tracking.uri=http://h:5000"])) == key
    monkeypatch.setattr(cache_keys, "code_version", lambda: "other")
    assert cache_key("aaaa", cfg) != key


def test_disabled_cache_persists_nothing(tmp_path):
    cache = tmp_path / "cache"
    cfg = _config(tmp_path, f"cache.dir={cache}", "cache.enabled=false")
    run_pipeline(cfg, log=lambda _: None)
    again = run_pipeline(cfg, log=lambda _: None)
    assert again.cached == ()
    assert not cache.exists() or not any(cache.iterdir())


def test_code_version_is_git_commit_or_marked_dirty():
    version = code_version()
    commit = version.split("+")[0]
    assert len(commit) == 12 and all(c in "0123456789abcdef" for c in commit)
    assert version == commit or "+dirty." in version


def test_tasks_compute_the_contract_columns_through_fn():
    snapshot = load_data.fn("snapshot", "data/snapshot", None)
    assert isinstance(snapshot, Snapshot)
    panel = build_panel.fn(snapshot["kor_exports"], "KOR", 2000, 2010, cache_key=None)
    assert (panel["year"].min(), panel["year"].max()) == (2000, 2010)
    conc = compute_concentration.fn(panel, ("CHN", "JPN"), cache_key=None)
    assert list(conc["year"]) == list(range(2000, 2011))
    assert {"share_CHN", "share_JPN", "dependence_share", "hhi", "kind"} <= set(conc.columns)
    assert (conc["dependence_share"] - conc["share_CHN"] - conc["share_JPN"]).abs().max() < 1e-12


@pytest.mark.parametrize(
    ("exc", "retry"),
    [
        (ConnectionResetError("reset"), True),
        (OSError("disk hiccup"), True),
        (FileNotFoundError("gone"), False),
        (PermissionError("no"), False),
        (ValueError("bad data"), False),
    ],
)
def test_io_tasks_retry_only_transient_errors(exc, retry):
    assert cache_keys.is_transient(None, None, Failed(data=exc)) is retry


def test_io_tasks_are_set_to_retry_transient_errors_only():
    # what the flow test below proves through Prefect's engine, for every I/O task, without a
    # server: Prefect retries a task by these attributes
    from exportcast.flows.outputs import make_report, write_outputs
    from exportcast.flows.run_record import log_run

    for task, retries in ((load_data, 2), (log_run, 2), (write_outputs, 2), (make_report, 1)):
        assert task.retries == retries, task.name
        assert task.retry_condition_fn is cache_keys.is_transient, task.name


# The Prefect test server takes 20-30 s to start: in `make test-fast` this test shares one with
# the update flow's test (tests/flows/test_update_flow.py, same xdist group: same worker)
@pytest.mark.integration
@pytest.mark.xdist_group("prefect_harness_fast")
@pytest.mark.usefixtures("prefect_harness")  # runs a small flow
def test_load_data_retries_a_transient_read_error(monkeypatch):
    real = pipeline.load_snapshot
    failures = [OSError("NFS timeout")]

    def flaky(*args, **kwargs):
        if failures:
            raise failures.pop()
        return real(*args, **kwargs)

    monkeypatch.setattr(pipeline, "load_snapshot", flaky)

    @flow
    def load_only():
        return load_data.with_options(retry_delay_seconds=0)("snapshot", "data/snapshot", None)

    assert isinstance(load_only(), Snapshot)
    assert failures == []


def test_failing_stage_fails_the_run_with_its_error(tmp_path):
    cfg = _config(tmp_path, f"data.snapshot_dir={tmp_path / 'missing'}")
    with pytest.raises(RuntimeError, match="manifest not found"):
        run_pipeline(cfg, log=lambda _: None)
    assert not (tmp_path / "out").exists()


def test_another_reporter_runs_on_the_imf_dots_panel(tmp_path, mlflow_uri):
    lines = []
    result = run_pipeline(_config(tmp_path, "reporter=NZL"), log=lines.append)
    out = tmp_path / "out" / "NZL"
    conc = pd.read_csv(out / "concentration.csv")
    history = conc[conc["kind"] == "history"]
    assert (history["year"].min(), history["year"].max()) == (1990, 2020)  # DOTS ends in 2020
    assert sorted(conc.loc[conc["kind"] == "forecast", "year"]) == list(range(2021, 2026))
    # the history is the DOTS panel's: the China + US share recomputed from the snapshot table
    dots = pd.read_parquet(pipeline.project_path(Path("data/snapshot/dots_exports.parquet")))
    nzl = dots[(dots["reporter"] == "NZL") & (dots["year"] == 2015)]
    direct = (
        nzl.loc[nzl["partner"].isin(["CHN", "USA"]), "export_usd"].sum() / nzl["export_usd"].sum()
    )
    got = history.set_index("year").loc[2015, "dependence_share"]
    assert got == pytest.approx(direct, rel=1e-9)
    assert pd.read_csv(out / "forecasts.csv")["reporter"].eq("NZL").all()
    # the FTA table has Korea's agreements only: New Zealand's are unknown, not "none"
    opp = pd.read_csv(out / "opportunities.csv")
    assert set(opp["fta_status"]) == {"not in the data"}
    run = MlflowClient(mlflow_uri).get_run(result.mlflow_run_id)
    assert run.data.tags["reporter"] == "NZL"
    assert "1990-2020 (source: imf_dots)" in "\n".join(lines)


def test_unknown_reporter_is_a_clear_error():
    snapshot = load_data.fn("snapshot", "data/snapshot", None)
    with pytest.raises(ValueError, match=r"no exports for reporter 'ATA'.*expected one of the"):
        years.reporter_exports(snapshot.tables, "ATA")
    rows, name = years.reporter_exports(snapshot.tables, "KOR")
    assert name == "data/snapshot/kor_exports.parquet" and set(rows["source"]) <= {"kosis", "cow"}


def test_output_folder_holds_only_the_latest_runs_files(tmp_path, mlflow_uri):
    out = tmp_path / "out" / "KOR"
    (out / "report").mkdir(parents=True)
    stale_pdf = out / "report" / "exportcast-report-KOR-2023.pdf"  # an earlier run's PDF
    stale_pdf.write_bytes(b"%PDF-old")
    other_year = out / "report" / "exportcast-report-KOR-2020.html"
    other_year.write_text("old")
    mine = out / "notes.txt"  # not an output of exportcast: never touched
    mine.write_text("analyst notes")

    lines = []
    first = run_pipeline(
        _config(tmp_path, "report.enabled=true", "report.pdf=false"), log=lines.append
    )
    report = sorted(p.name for p in (out / "report").iterdir())
    assert report == ["exportcast-report-KOR-2023.html", "exportcast-report-KOR-2023.xlsx"]
    assert "removed 2 file(s) an earlier run had left there" in "\n".join(lines)
    assert (out / "forecasts.csv").exists() and (out / "scenario_partners.csv").exists()

    lines = []
    second = run_pipeline(_config(tmp_path, "forecast.enabled=false"), log=lines.append)
    left = sorted(p.name for p in out.iterdir() if p.is_file())
    assert left == ["concentration.csv", "notes.txt", "run.json"]
    assert list((out / "report").iterdir()) == []
    assert mine.read_text() == "analyst notes"
    meta = json.loads((out / "run.json").read_text())
    assert meta["files"] == ["concentration.csv"]
    assert meta["mlflow_run_id"] == second.mlflow_run_id != first.mlflow_run_id
    text = "\n".join(lines)
    assert "write outputs" in text and "forecasts.csv" in text.split("removed", 1)[1]
    # the first run's files are still in its MLflow run
    client = MlflowClient(mlflow_uri)
    logged = {a.path for a in client.list_artifacts(first.mlflow_run_id)}
    assert "forecasts.csv" in logged
