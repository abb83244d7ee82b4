"""Flow tests run against a temporary Prefect server and a temporary MLflow store.

The session's ``prefect_harness`` (tests/conftest.py: a throwaway Prefect API on a temporary
SQLite database) starts only for the tests that need it: the ones that run the whole flow get
it automatically, the others that call a Prefect flow or task ask for it. MLflow writes to a
session SQLite store under tmp, and the task cache goes to a temporary folder unless a test
sets ``cache.dir`` itself.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from exportcast.flows import cache_keys, pipeline
from tests.flows.helpers import FAST, FAST_ARGS, free_port, subprocess_env, wait_for_http


@pytest.fixture(scope="session")
def mlflow_uri(tmp_path_factory) -> str:
    """The session's MLflow store (SQLite under tmp)."""
    return f"sqlite:///{tmp_path_factory.mktemp('mlruns') / 'mlflow.db'}"


@pytest.fixture(scope="session", autouse=True)
def isolated_stores(tmp_path_factory, mlflow_uri):
    """Keep tests out of the project's mlruns/ and .exportcast-cache/."""
    cache_root = tmp_path_factory.mktemp("cache-root")
    real_cache_dir = cache_keys.cache_dir

    def cache_dir(config):
        path = Path(config.cache.dir)
        return real_cache_dir(config) if path.is_absolute() else cache_root / path

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLFLOW_TRACKING_URI", mlflow_uri)
        mp.setenv("MLFLOW_LOGGING_LEVEL", "WARNING")
        mp.setattr(cache_keys, "cache_dir", cache_dir)
        yield


@pytest.fixture(scope="session")
def fast_run(tmp_path_factory, prefect_harness, isolated_stores):
    """One pipeline run of the default config with the FAST overrides, shared by the tests
    that only read what such a run leaves (outputs, its MLflow run, its progress lines).

    Returns a namespace with ``result`` (the RunResult), ``folder`` (outputs/KOR) and
    ``lines`` (the progress output). Tests must not change its files.
    """
    from exportcast.configs import load_config

    out = tmp_path_factory.mktemp("fast-run") / "out"
    lines: list[str] = []
    config = load_config(overrides=[f"output.dir={out}", *FAST])
    result = pipeline.run_pipeline(config, log=lines.append)
    return SimpleNamespace(config=config, result=result, folder=out / "KOR", lines=tuple(lines))


@pytest.fixture(scope="session")
def quiet_cli_run(tmp_path_factory, prefect_harness, isolated_stores):
    """``exportcast run -q`` with the FAST overrides into its own experiment (clitest-KOR),
    shared by the tests of ``--quiet`` and of ``exportcast runs``.

    Returns a namespace with ``result`` (the CliRunner result), ``folder`` (outputs/KOR) and
    ``experiment`` (the ``--set`` arguments that select the experiment).
    """
    from typer.testing import CliRunner

    from exportcast.flows.cli import app

    out = tmp_path_factory.mktemp("quiet-cli-run")
    experiment = ["--set", "tracking.experiment=clitest-{reporter}"]
    res = CliRunner().invoke(
        app, ["run", "-q", "--set", f"output.dir={out}", *FAST_ARGS, *experiment]
    )
    return SimpleNamespace(result=res, folder=out / "KOR", experiment=experiment)


@pytest.fixture
def mlflow_server(tmp_path):
    """Start real ``mlflow server`` processes on free 127.0.0.1 ports.

    ``start(*args)`` launches one and returns at once a namespace with ``url`` and ``ready()``,
    which waits until the server answers and returns the URL (so a test can do other work
    while the server imports). ``args`` are the store options (``--backend-store-uri``,
    ``--artifacts-destination``, ...); host, port and one worker are added. Each server runs
    in its own process group with MLflow's telemetry and job runner off, logs to
    ``<tmp>/mlflow-server-<n>.log``, and is stopped with everything it started at teardown,
    also when the test failed.
    """
    started: list[tuple[subprocess.Popen, object]] = []

    def tail(path: Path, n: int = 40) -> str:
        return "\n".join(path.read_text(errors="replace").splitlines()[-n:])

    def start(*args: str) -> SimpleNamespace:
        port = free_port()
        log_path = tmp_path / f"mlflow-server-{len(started)}.log"
        log = open(log_path, "w")  # noqa: SIM115 - closed in teardown
        env = subprocess_env(
            MLFLOW_DISABLE_TELEMETRY="true", MLFLOW_SERVER_ENABLE_JOB_EXECUTION="false"
        )
        proc = subprocess.Popen(
            [sys.executable, "-m", "mlflow", "server", *args,
             "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
            cwd=tmp_path,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        started.append((proc, log))
        url = f"http://127.0.0.1:{port}"

        def ready(timeout: float = 120) -> str:
            try:
                wait_for_http(f"{url}/health", timeout=timeout, proc=proc)
            except (TimeoutError, RuntimeError) as exc:
                pytest.fail(f"mlflow server did not start: {exc}\n{tail(log_path)}")
            return url

        return SimpleNamespace(url=url, ready=ready)

    yield start
    for proc, log in started:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)  # mlflow server and its uvicorn child
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=15)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)  # whatever is left of the group
        proc.wait()
        log.close()
