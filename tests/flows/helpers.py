"""Helpers for tests that start real servers and child processes."""

from __future__ import annotations

import os
import socket
import time

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def subprocess_env(**extra: str) -> dict[str, str]:
    """A child's environment: this one without Prefect/MLflow targets and log levels, plus extra.

    (In-process CLI tests set log-level defaults in ``os.environ``; children start clean.)
    """
    drop = ("PREFECT_API", "PREFECT_HOME", "PREFECT_LOGGING", "MLFLOW_TRACKING", "MLFLOW_LOGGING")
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
    env.update(PREFECT_SERVER_ANALYTICS_ENABLED="false", MPLBACKEND="Agg", **extra)
    return env


def wait_for_http(url: str, *, timeout: float, proc=None) -> None:
    """Poll ``url`` until it answers 200; fail early when ``proc`` has exited."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before {url} answered")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.25)
    raise TimeoutError(f"{url} did not answer within {timeout:.0f} s")


# Overrides that keep pipeline runs in tests fast: the two cheapest models, fewer paths, no
# scenarios and no report, in this process (n_jobs 1: the two trivial models cost less than
# starting joblib's worker processes, which a CLI run also stops again at its end; measured
# 1.3 s of CPU per run in a child). The full default run (engine with two workers, scenarios)
# runs in tests/flows/test_default_run.py; parallel equals sequential is tested in
# tests/models/test_forecasting.py; scenarios and the report in a pipeline run:
# test_report_flow.py.
FAST = [
    "forecast.models=[Naive, Drift]",
    "forecast.n_paths=100",
    "forecast.n_jobs=1",
    "scenarios=[]",
    "report.enabled=false",
]
FAST_ARGS = [arg for item in FAST for arg in ("--set", item)]
