"""Flow tests run against a temporary Prefect server and a temporary MLflow store.

One session-scoped ``prefect_test_harness`` (a throwaway Prefect API on a temporary SQLite
database) serves every flow run here; MLflow writes to a session SQLite store under tmp, and
the task cache goes to a temporary folder unless a test sets ``cache.dir`` itself.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from prefect.testing.utilities import prefect_test_harness

from flows import pipeline


@pytest.fixture(scope="session", autouse=True)
def prefect_harness():
    """A temporary Prefect API for the whole session (first start creates its database)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PREFECT_SERVER_ANALYTICS_ENABLED", "false")  # no network in tests
        with prefect_test_harness(server_startup_timeout=180):
            yield


@pytest.fixture(scope="session")
def mlflow_uri(tmp_path_factory) -> str:
    """The session's MLflow store (SQLite under tmp)."""
    return f"sqlite:///{tmp_path_factory.mktemp('mlruns') / 'mlflow.db'}"


@pytest.fixture(scope="session", autouse=True)
def isolated_stores(tmp_path_factory, mlflow_uri):
    """Keep tests out of the project's mlruns/ and .exportcast-cache/."""
    cache_root = tmp_path_factory.mktemp("cache-root")
    real_cache_dir = pipeline.cache_dir

    def cache_dir(config):
        path = Path(config.cache.dir)
        return real_cache_dir(config) if path.is_absolute() else cache_root / path

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLFLOW_TRACKING_URI", mlflow_uri)
        mp.setenv("MLFLOW_LOGGING_LEVEL", "WARNING")
        mp.setattr(pipeline, "cache_dir", cache_dir)
        yield
