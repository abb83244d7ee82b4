"""The MLflow UI on a local store: the ``mlflow server`` command and running it in the foreground."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from typing import Any

from exportcast.flows.tracking_store import Store, TrackingError

__all__ = ["run_ui_server", "server_command"]


def server_command(store: Store, *, host: str = "127.0.0.1", port: int = 5000) -> list[str]:
    """The ``mlflow server`` command line that shows a local store in the browser.

    Raises:
        TrackingError: The store is a tracking server already (open its URL instead).
    """
    if store.db_path is None:
        raise TrackingError(
            f"the tracking store {store.display} is an MLflow server already; open it in a browser"
        )
    return [
        sys.executable, "-m", "mlflow", "server",
        "--backend-store-uri", store.uri,
        "--default-artifact-root", str(store.artifacts),
        "--host", host,
        "--port", str(port),
        "--workers", "1",
    ]  # fmt: skip


def run_ui_server(store: Store, *, host: str = "127.0.0.1", port: int = 5000) -> int:
    """Run ``mlflow server`` on a local store in the foreground until Ctrl-C or SIGTERM.

    MLflow's background job runner (GenAI jobs) is switched off unless the environment says
    otherwise: exportcast does not use it, and it slows the start and the stop.

    Returns:
        The server's exit code (0 after Ctrl-C).
    """
    env = {**os.environ}
    env.setdefault("MLFLOW_SERVER_ENABLE_JOB_EXECUTION", "false")
    proc = subprocess.Popen(server_command(store, host=host, port=port), env=env)

    def _stop(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, _stop)
    try:
        return proc.wait()
    except KeyboardInterrupt:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        return 0
    finally:
        signal.signal(signal.SIGTERM, previous)
