"""joblib's worker processes of a run: when to stop them.

Early in a process that ends with the run (:data:`RELEASE_WORKERS`), and at the end of a
deployed run, which would otherwise never exit (:func:`stop_worker_processes`).
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any

__all__ = ["RELEASE_WORKERS", "stop_worker_processes"]

# Set by run_pipeline(release_workers=True) (the CLI: its process ends with the run): joblib's
# idle worker processes (about 240 MB each) are stopped once the last stage that fits models is
# done, instead of staying alive beside Chromium printing the report.
RELEASE_WORKERS: ContextVar[bool] = ContextVar("exportcast_release_workers", default=False)


def _stop_workers_of_deployed_run(flow: Any, run: Any, state: Any) -> None:
    # see stop_worker_processes: only a deployed run's process has to exit by itself
    if getattr(run, "deployment_id", None) is not None:
        stop_worker_processes()


def stop_worker_processes() -> None:
    """Stop joblib's reusable worker processes, if any were started.

    A deployed run (``exportcast serve``) executes in a multiprocessing child; at its end
    multiprocessing joins every child process *before* the atexit hook that would stop
    joblib's idle workers, so the run's process never exits and the server's runner waits for
    it forever (the hang seen after SIGTERM). Stopping them at the end of the flow avoids it.
    """
    from joblib.externals.loky import reusable_executor

    executor = reusable_executor._executor
    if executor is not None:
        executor.shutdown(wait=True)
