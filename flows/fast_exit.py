"""Exit without the interpreter's garbage-collector passes over a finished run (issue 16).

At exit, Python finalizes its modules and runs full garbage collections over every object
still alive: after a run (pandas frames, Prefect, MLflow, SQLAlchemy, scikit-learn and
statsmodels modules) that took 2-5 s of one core with nothing left to do (seen with
``py-spy dump --native``: ``gc_collect_main`` after the last atexit hook). :func:`skip_final_gc`
registers :func:`gc.freeze` as an ``atexit`` hook that runs after the others (atexit runs
hooks last-in first-out, so the one registered first runs last): the frozen objects are
left out of those collections and freed by the operating system with the process. Every
other exit hook (Prefect's server stop, MLflow's, temporary folders) still runs first; files
the run wrote are closed and renamed in place by then (flows/io.py).
"""

from __future__ import annotations

import atexit
import gc

__all__ = ["skip_final_gc"]

_registered = False


def skip_final_gc() -> None:
    """Freeze the heap at exit, after the other exit hooks (once per process)."""
    global _registered
    if not _registered:
        atexit.register(gc.freeze)
        _registered = True
