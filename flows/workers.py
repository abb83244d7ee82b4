"""joblib's worker processes of a run: when to stop them.

Early in a process that ends with the run (:data:`RELEASE_WORKERS`), and at the end of a
deployed run, which would otherwise never exit (:func:`stop_worker_processes`).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any, TypeVar

T = TypeVar("T")

__all__ = [
    "RELEASE_WORKERS",
    "return_free_memory",
    "stop_worker_processes",
    "trimmed",
    "trimming",
]

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


def return_free_memory() -> bool:
    """Collect garbage and hand the C heap's free pages back to the system (glibc ``malloc_trim``).

    Between heavy stages a process keeps the pages its freed objects used (pandas and numpy
    buffers of the engine's paths, a scenario's design matrices); the next stage's peak then
    sits on top of them. Measured on the default run: the run's process 776 -> 598 MB after the
    scenarios. Returns whether ``malloc_trim`` was called (False without glibc: then only
    ``gc.collect``).
    """
    import gc

    gc.collect()
    trim = _malloc_trim()
    if trim is None:
        return False
    trim(0)  # 1 if pages were released, 0 if there were none to release
    return True


def trimmed(func: Callable[..., T], *args: Any) -> T:
    """``func(*args)`` between two :func:`return_free_memory` calls (for a worker process).

    A joblib worker keeps the heap pages of its earlier tasks (the engine's fits); handing
    them back first puts the next heavy task's peak (a scenario's gravity GLM, about 150 MB)
    on a smaller base, and handing its own back after leaves the worker small for the rest of
    the run.
    """
    return_free_memory()
    try:
        return func(*args)
    finally:
        return_free_memory()


def trimming(log: Callable[[str], None]) -> Callable[[str], None]:
    """``log``, then :func:`return_free_memory`: a progress callback that frees memory too.

    The FTA track record prints one line per agreement origin, after that origin's world
    gravity fit; handing the fit's garbage back there kept its process at 457 MB instead of
    602 MB at the peak (Korea, 14 origins, same time; 2026-12-04).
    """

    def log_and_trim(line: str) -> None:
        log(line)
        return_free_memory()

    return log_and_trim


@functools.cache
def _malloc_trim() -> Any:
    """Glibc's ``malloc_trim`` from the symbols this process already has, or None (musl, macOS)."""
    import ctypes

    try:
        return ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):
        return None
