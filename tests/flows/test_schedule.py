"""``exportcast serve`` against a real ``prefect server start``: deployment, cron, a run."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from mlflow import MlflowClient
from prefect.client.orchestration import get_client
from prefect.exceptions import ObjectNotFound
from prefect.settings import PREFECT_API_URL, temporary_settings

from exportcast.flows.serve import SHUTDOWN_GRACE_S
from exportcast.flows.snapshot import read_manifest
from tests.flows.helpers import FAST_ARGS, free_port, subprocess_env, wait_for_http
from tests.prefect_db import migrated_copy

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]


def _start(args, env, log):
    # A new session, so that teardown can stop the process with everything it started.
    return subprocess.Popen(
        args,
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def _stop(proc, sig=signal.SIGTERM, timeout=30):
    if proc.poll() is None:
        os.killpg(proc.pid, sig)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    return proc.returncode


def _tail(path, n=40):
    return "\n".join(Path(path).read_text(errors="replace").splitlines()[-n:])


@pytest.fixture(scope="module")
def prefect_server(tmp_path_factory):
    """A real Prefect server on a free local port, with its own PREFECT_HOME (its database a
    copy of a migrated one: tests/prefect_db.py)."""
    home = tmp_path_factory.mktemp("prefect-home")
    migrated_copy(home / "prefect.db")  # the server's default database there, migrated
    port = free_port()
    log = open(home / "server.log", "w")  # noqa: SIM115 - closed in teardown
    proc = _start(
        [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1",
         "--port", str(port), "--no-ui"],
        subprocess_env(PREFECT_HOME=str(home)),
        log,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}/api"
    try:
        wait_for_http(f"{url}/health", timeout=180, proc=proc)
    except (TimeoutError, RuntimeError) as exc:
        _stop(proc)
        pytest.fail(f"prefect server did not start: {exc}\n{_tail(home / 'server.log')}")
    yield url
    _stop(proc)
    log.close()


def _wait_for_deployment(client, name, serve, log_path, timeout=120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if serve.poll() is not None:
            pytest.fail(f"exportcast serve exited with {serve.returncode}\n{_tail(log_path)}")
        try:
            return client.read_deployment_by_name(name)
        except ObjectNotFound:
            time.sleep(0.5)
    pytest.fail(f"deployment {name} not registered within {timeout} s\n{_tail(log_path)}")


def _wait_for_final_state(client, flow_run_id, log_path, timeout=240):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = client.read_flow_run(flow_run_id)
        if run.state is not None and run.state.is_final():
            return run
        time.sleep(1)
    pytest.fail(f"flow run {flow_run_id} not finished within {timeout} s\n{_tail(log_path)}")


def test_serve_registers_cron_deployment_and_runs_it(prefect_server, tmp_path):
    mlflow_uri = f"sqlite:///{tmp_path / 'mlruns' / 'mlflow.db'}"
    serve_log = tmp_path / "serve.log"
    env = subprocess_env(
        PREFECT_API_URL=prefect_server,
        PREFECT_HOME=str(tmp_path / "prefect-home"),
        PREFECT_RUNNER_POLL_FREQUENCY="2",  # pick up the triggered run quickly
        MLFLOW_TRACKING_URI=mlflow_uri,
    )
    # a release waiting in the inbox: the deployed run updates the data, then forecasts
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    kor = pd.read_parquet(ROOT / "data" / "snapshot" / "kor_exports.parquet")
    new_year = kor.loc[kor["year"] == 2023].assign(year=2024)  # synthetic test data
    new_year[["reporter", "partner", "year", "export_usd"]].to_csv(inbox / "kor.csv", index=False)
    with open(serve_log, "w") as log:
        serve = _start(
            [sys.executable, "-m", "exportcast.flows.cli", "serve", *FAST_ARGS,
             "--set", f"output.dir={tmp_path / 'out'}",
             "--set", f"cache.dir={tmp_path / 'cache'}",
             "--set", f"data.inbox_dir={inbox}",
             "--set", f"data.vintages_dir={tmp_path / 'vintages'}",
             "--set", f"data.quarantine_dir={tmp_path / 'quarantine'}"],
            env,
            log,
        )  # fmt: skip
        try:
            with (
                temporary_settings({PREFECT_API_URL: prefect_server}),
                get_client(sync_client=True) as client,
            ):
                deployment = _wait_for_deployment(client, "forecast-exports/KOR", serve, serve_log)
                (schedule,) = deployment.schedules
                assert schedule.active
                assert schedule.schedule.cron == "0 6 1 * *"
                assert schedule.schedule.timezone == "Asia/Seoul"
                assert deployment.parameters["config"]["reporter"] == "KOR"

                flow_run = client.create_flow_run_from_deployment(deployment.id)
                finished = _wait_for_final_state(client, flow_run.id, serve_log)
                assert finished.state.is_completed(), f"{finished.state}\n{_tail(serve_log)}"

                serve.send_signal(signal.SIGTERM)  # what systemd sends: a graceful shutdown
                # The graceful part is Prefect pausing the schedule; then the process exits
                # with 0, by itself or (Prefect 3.9's runner sometimes lingers) at the exit
                # deadline flows.serve sets on SIGTERM.
                deadline = time.monotonic() + 60
                while time.monotonic() < deadline:
                    if client.read_deployment_by_name("forecast-exports/KOR").paused:
                        break
                    time.sleep(0.5)
                assert client.read_deployment_by_name("forecast-exports/KOR").paused
                assert serve.wait(timeout=SHUTDOWN_GRACE_S + 30) == 0, _tail(serve_log)
                # ... and by itself: the run's process no longer keeps joblib workers alive
                assert "still alive" not in serve_log.read_text(), _tail(serve_log)
        finally:
            _stop(serve, timeout=10)

    client = MlflowClient(mlflow_uri)
    experiment = client.get_experiment_by_name("exportcast-KOR")
    (run,) = client.search_runs(
        [experiment.experiment_id], f"tags.prefect_flow_run_id = '{flow_run.id}'"
    )
    assert run.info.status == "FINISHED"
    active = (tmp_path / "vintages" / "active").read_text().strip()
    assert run.data.tags["data_update"] == "new"
    assert (
        run.data.tags["data_vintage"]
        == active
        != read_manifest(ROOT / "data" / "snapshot")["vintage"]
    )
    assert (inbox / "processed" / "kor.csv").is_file()
    assert run.data.metrics["dependence_share"] == pytest.approx(0.380, abs=0.0005)
    assert (tmp_path / "out" / "KOR" / "concentration.csv").is_file()
    assert any((tmp_path / "cache").glob("compute_concentration-*"))  # cache.dir reached the run
