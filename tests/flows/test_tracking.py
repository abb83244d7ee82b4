import multiprocessing
import time

import pandas as pd
import pytest
from mlflow import MlflowClient

from exportcast.flows.io import PROJECT_ENV
from exportcast.flows.tracking import tracked_run
from exportcast.flows.tracking_runs import recent_runs
from exportcast.flows.tracking_store import REDACTED, TrackingError, flatten_params, resolve_store
from exportcast.flows.tracking_ui import server_command


def _history(n_years=5, level=0.3):
    years = list(range(2000, 2000 + n_years))
    return pd.DataFrame(
        {"year": years, "hhi": [0.1] * n_years, "dependence_share": [level] * n_years}
    )


@pytest.fixture
def store(mlflow_uri):
    """The session's SQLite store (creating a new one costs seconds of MLflow migrations)."""
    return resolve_store(mlflow_uri)


@pytest.fixture
def experiment(request):
    return f"test-{request.node.name}"[:200]


def _runs(uri, experiment):
    client = MlflowClient(uri)
    found = client.get_experiment_by_name(experiment)
    return client.search_runs([found.experiment_id]) if found else []


def test_default_store_is_sqlite_under_project_mlruns(monkeypatch, tmp_path):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv(PROJECT_ENV, raising=False)
    monkeypatch.chdir(tmp_path)  # the working directory is the project by default
    store = resolve_store()
    assert store.uri == f"sqlite:///{tmp_path.resolve() / 'mlruns' / 'mlflow.db'}"
    assert store.artifacts == str(tmp_path.resolve() / "mlruns" / "artifacts")
    # an explicit project directory wins over the working directory
    project = tmp_path / "proj"
    monkeypatch.setenv(PROJECT_ENV, str(project))
    assert resolve_store().uri == f"sqlite:///{project.resolve() / 'mlruns' / 'mlflow.db'}"


def test_config_uri_wins_over_env_and_relative_sqlite_resolves_against_project(
    monkeypatch, tmp_path
):
    monkeypatch.setenv(PROJECT_ENV, str(tmp_path))
    PROJECT_ROOT = tmp_path.resolve()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:5999")
    assert resolve_store().uri == "http://127.0.0.1:5999"
    assert resolve_store().artifacts is None
    store = resolve_store("sqlite:///elsewhere/m.db", "arts")
    assert store.uri == f"sqlite:///{PROJECT_ROOT / 'elsewhere' / 'm.db'}"
    assert store.artifacts == str(PROJECT_ROOT / "arts")
    assert resolve_store("sqlite:////abs/m.db").artifacts == "/abs/artifacts"


@pytest.mark.parametrize("uri", ["mlruns", "./mlruns", "file:///tmp/mlruns", "sqlite://"])
def test_plain_file_store_and_memory_sqlite_are_refused(uri):
    with pytest.raises(TrackingError, match="sqlite:///"):
        resolve_store(uri)


def test_secret_values_never_reach_params_or_tags(store, experiment):
    params = {
        "reporter": "KOR",
        "source": {"api_key": "SECRET-1", "token": "SECRET-2", "db": {"password": "SECRET-3"}},
        "credentials": {"user": "u", "pass": "SECRET-4"},
        "tracking": {"uri": "https://alice:SECRET-5@mlflow.example.org/"},
        "access_token": "SECRET-6",
        "aws_secret_access_key": "SECRET-7",
        "private_key": "SECRET-8",
    }
    tags = {"reporter": "KOR", "auth_token": "SECRET-9", "url": "https://bob:SECRET-10@x.org/a"}
    with tracked_run(store, experiment, tags=tags, params=params) as run:
        run_id = run.run_id

    data = MlflowClient(store.uri).get_run(run_id).data
    for mapping in (data.params, data.tags):
        assert not [k for k, v in mapping.items() if "SECRET" in v], mapping
    assert data.params["reporter"] == "KOR"
    assert data.params["source.api_key"] == REDACTED
    assert data.params["source.db.password"] == REDACTED
    assert data.params["credentials"] == REDACTED
    assert data.params["tracking.uri"] == "https://mlflow.example.org/"
    assert data.tags["auth_token"] == REDACTED
    assert data.tags["url"] == "https://x.org/a"


def test_flatten_params_keeps_plain_settings():
    flat = flatten_params({"years": {"start": 1990}, "set": ["CHN", "USA"], "x": None, "k": True})
    assert flat == {"years.start": "1990", "set": '["CHN", "USA"]', "x": "null", "k": "true"}


def test_run_that_raises_is_marked_failed_with_the_error(store, experiment):
    with (
        pytest.raises(ZeroDivisionError),
        tracked_run(store, experiment, run_name="boom") as run,
    ):
        run.log_series(_history(), ["hhi"], step="year")
        _ = 1 / 0
    (found,) = _runs(store.uri, experiment)
    assert found.info.status == "FAILED"
    assert found.info.end_time is not None
    assert "ZeroDivisionError" in found.data.tags["error"]
    assert found.data.metrics["hhi"] == pytest.approx(0.1)


def test_interrupted_run_is_marked_killed_not_left_running(store, experiment):
    with pytest.raises(KeyboardInterrupt), tracked_run(store, experiment):
        raise KeyboardInterrupt
    (found,) = _runs(store.uri, experiment)
    assert found.info.status == "KILLED"


def _log_concurrently(uri, barrier, label, level):
    store = resolve_store(uri)
    barrier.wait(timeout=120)
    with tracked_run(store, "exportcast-TST", run_name=label, tags={"label": label}) as run:
        frame = _history(30, level)
        for i in range(len(frame)):  # many small writes, interleaved with the other process
            run.log_series(frame.iloc[[i]], ["hhi", "dependence_share"], step="year")
        run.log_table(frame, "history.csv")


@pytest.mark.slow  # two processes import mlflow: 36-55 s on the loaded 2-core machine
def test_two_processes_write_one_new_sqlite_store_concurrently(tmp_path):
    uri = f"sqlite:///{tmp_path / 'shared' / 'mlflow.db'}"
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(2)
    procs = [
        ctx.Process(target=_log_concurrently, args=(uri, barrier, label, level))
        for label, level in (("a", 0.25), ("b", 0.5))
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=180)
    assert [p.exitcode for p in procs] == [0, 0]

    runs = {r.data.tags["label"]: r for r in _runs(uri, "exportcast-TST")}
    assert sorted(runs) == ["a", "b"]
    client = MlflowClient(uri)
    for label, level in (("a", 0.25), ("b", 0.5)):
        run = runs[label]
        assert run.info.status == "FINISHED"
        history = client.get_metric_history(run.info.run_id, "dependence_share")
        assert sorted(m.step for m in history) == list(range(2000, 2030))
        assert {m.value for m in history} == {level}
        assert [a.path for a in client.list_artifacts(run.info.run_id)] == ["history.csv"]


def test_recent_runs_newest_first_with_last_dependence_share(tmp_path, store, experiment):
    missing = resolve_store(f"sqlite:///{tmp_path / 'mlflow.db'}")
    assert recent_runs(missing, "exportcast-KOR") == []  # no store yet: nothing, nothing created
    assert not (tmp_path / "mlflow.db").exists()
    for i, level in enumerate((0.30, 0.35, 0.40)):
        tags = {"data_vintage": f"v{i}", "config_hash": f"c{i}", "last_year": "2004"}
        with tracked_run(store, experiment, tags=tags) as run:
            frame = _history(5, level).assign(dependence_share=[0.1, 0.1, 0.1, 0.1, level])
            run.log_series(frame, ["dependence_share"], step="year")
        time.sleep(0.01)
    found = recent_runs(store, experiment, limit=2)
    assert [r["data_vintage"] for r in found] == ["v2", "v1"]
    assert found[0]["dependence_share"] == pytest.approx(0.40)
    assert found[0]["status"] == "FINISHED"
    assert found[0]["config_hash"] == "c2"
    assert recent_runs(store, experiment + "-other") == []


def test_ui_server_listens_on_localhost_by_default(tmp_path):
    store = resolve_store(f"sqlite:///{tmp_path / 'mlflow.db'}")
    command = server_command(store)
    assert command[command.index("--host") + 1] == "127.0.0.1"
    assert command[command.index("--backend-store-uri") + 1] == store.uri
    assert command[command.index("--default-artifact-root") + 1] == store.artifacts
    with pytest.raises(TrackingError, match="server already"):
        server_command(resolve_store("http://127.0.0.1:5000"))


def test_data_vintage_is_the_runs_input_dataset(store, experiment, mlflow_uri):
    with tracked_run(store, experiment, tags={"data_vintage": "00b77ba237ad"}) as run:
        run.log_dataset("00b77ba237ad", "exportcast data vintage 00b77ba237ad")
    got = MlflowClient(mlflow_uri).get_run(run.run_id)
    [inp] = got.inputs.dataset_inputs
    assert inp.dataset.digest == "00b77ba237ad"
    assert inp.dataset.name == "exportcast-data-00b77ba237ad"
    assert got.data.tags["data_vintage"] == "00b77ba237ad"


def test_preload_creates_a_new_store_that_the_run_then_uses(tmp_path):
    from exportcast.flows import tracking_store

    db = tmp_path / "mlruns" / "mlflow.db"
    uri = f"sqlite:///{db}"
    tracking_store.preload(uri)
    assert db.is_file()  # created and migrated while Prefect's server would be starting
    with tracked_run(resolve_store(uri), experiment="preloaded", run_name="r") as run:
        run_id = run.record.run_id
    assert MlflowClient(uri).get_run(run_id).info.status == "FINISHED"


def test_preload_leaves_a_store_it_cannot_open_to_the_run(tmp_path):
    from exportcast.flows import tracking_store

    blocked = tmp_path / "not-a-folder"
    blocked.write_text("x")  # a file where the store's folder should be (root ignores chmod)
    tracking_store.preload(f"sqlite:///{blocked / 'mlflow.db'}")  # no error here
    assert blocked.read_text() == "x"
    with (
        pytest.raises(OSError),
        tracked_run(
            resolve_store(f"sqlite:///{blocked / 'mlflow.db'}"), experiment="e", run_name="r"
        ),
    ):
        pass


def _counting_batches(run, monkeypatch) -> list[tuple[int, int]]:
    """(metrics, params) of every log_batch call the run's client makes."""
    calls: list[tuple[int, int]] = []
    real = run._client.log_batch

    def log_batch(run_id, metrics=(), params=(), **kwargs):
        calls.append((len(metrics), len(params)))
        return real(run_id, metrics=metrics, params=params, **kwargs)

    monkeypatch.setattr(run._client, "log_batch", log_batch)
    return calls


def test_a_batched_block_sends_its_metrics_and_params_in_one_call(store, experiment, monkeypatch):
    with tracked_run(store, experiment) as run:
        calls = _counting_batches(run, monkeypatch)
        with run.batched():
            run.log_series(_history(), ["hhi", "dependence_share"], step="year")
            run.log_metrics({"overall_MASE": 0.9, "nan": float("nan")})
            run.log_params({"title": "t", "origin": 2021})
            assert calls == []  # nothing sent inside the block
        assert calls == [(11, 2)]
        run.log_metrics({"after": 1.0})  # outside a block: at once
        assert calls == [(11, 2), (1, 0)]
    (found,) = _runs(store.uri, experiment)
    history = MlflowClient(store.uri).get_metric_history(found.info.run_id, "hhi")
    assert sorted(m.step for m in history) == list(range(2000, 2005))
    assert found.data.params == {"title": "t", "origin": "2021"}
    assert found.data.metrics["overall_MASE"] == 0.9 and "nan" not in found.data.metrics


def test_batches_keep_mlflows_limits_and_a_repeated_param_apart(store, experiment, monkeypatch):
    with tracked_run(store, experiment) as run:
        calls = _counting_batches(run, monkeypatch)
        with run.batched():
            run.log_params({f"p{i}": i for i in range(150)})
            run.log_metrics({f"m{i}": float(i) for i in range(1500)})
            run.log_params({"p0": 0})  # the same key again (same value: allowed by MLflow)
        assert calls[:3] == [(900, 100), (600, 50), (0, 1)]
        assert all(m + p <= 1000 and p <= 100 for m, p in calls)
    (found,) = _runs(store.uri, experiment)
    assert len(found.data.metrics) == 1500 and len(found.data.params) == 150


def test_what_a_batched_block_logged_before_an_error_is_kept(store, experiment):
    with (
        pytest.raises(ZeroDivisionError),
        tracked_run(store, experiment) as run,
        run.batched(),
    ):
        run.log_metrics({"before": 1.0})
        _ = 1 / 0
    (found,) = _runs(store.uri, experiment)
    assert found.info.status == "FAILED"
    assert found.data.metrics == {"before": 1.0}


def test_a_nested_run_sends_its_scores_at_its_end(store, experiment):
    with tracked_run(store, experiment) as run, run.nested_run("Drift") as child:
        child.log_metrics({"overall_MASE": 1.0})
        child.log_series(_history(), ["hhi"], step="year")
        assert child._pending is not None and len(child._pending[0]) == 6
    child_run = MlflowClient(store.uri).get_run(child.run_id)
    assert child_run.data.metrics == {"overall_MASE": 1.0, "hhi": 0.1}
    assert child_run.info.status == "FINISHED"
