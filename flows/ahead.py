"""The FTA track record computed ahead, in a second process, while the run forecasts (issue 16).

The track record (``models.fta_track_record.track_record``: a world PPML per agreement origin,
13-30 s of one core on a clean clone) reads only the snapshot, not the run's forecasts. When it
is not in the cache and a core is free, :func:`track_record_ahead` starts it in a child
process (``spawn``: a clean interpreter, no inherited threads or locks) as soon as the data
are loaded; the ``fta_track_record`` task then takes the child's rows instead of computing
them. The child fits with one BLAS thread, as the task does, so its rows are the rows the task
would compute (``tests/flows/test_default_run.py`` compares every CSV of a run with and
without it, byte for byte), and its progress lines are printed by the task, in the usual
place.

``EXPORTCAST_AHEAD`` decides: ``auto`` (default) starts the child only when the machine has a
free core: 2+ cores and, sampled over 0.1 s from ``/proc/stat``, other processes keeping fewer
than cores - 1.5 of them busy (elsewhere: the 1-minute load average). A loaded machine or a test
run gains nothing from a second process and pays its imports. ``1`` always, ``0`` never.
A child that dies is reported in a progress line and the task computes the rows itself.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from multiprocessing.connection import Connection
from typing import TYPE_CHECKING, Any

import pandas as pd

from exportcast.flows import cache_keys
from exportcast.models import memo

if TYPE_CHECKING:
    from exportcast.configs import RunConfig
    from exportcast.flows.run_info import RunInfo

__all__ = [
    "AHEAD",
    "TrackRecordAhead",
    "allowed",
    "busy_cores",
    "track_record_ahead",
    "track_record_needed",
    "wanted",
]

TABLES = ("kor_exports", "dots_exports", "rtas", "fta")
ENV = "EXPORTCAST_AHEAD"


def allowed() -> bool:
    """False under ``EXPORTCAST_AHEAD=0``: every stage in order in the run's process."""
    return os.environ.get(ENV, "auto").strip().lower() not in ("0", "false", "no", "off")


def wanted() -> bool:
    """Whether to compute ahead: ``EXPORTCAST_AHEAD`` (``auto`` by default, see module)."""
    value = os.environ.get(ENV, "auto").strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if not allowed():
        return False
    cores = os.cpu_count() or 1
    if cores < 2:
        return False
    busy = busy_cores()
    if busy is None:  # no /proc/stat: the 1-minute load average
        busy = os.getloadavg()[0]
    return busy < cores - 1.5


def _cpu_times() -> tuple[int, int] | None:
    """(busy, total) jiffies of all cores from ``/proc/stat``, or None where it is missing."""
    try:
        with open("/proc/stat", encoding="ascii") as f:
            fields = [int(x) for x in f.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return sum(fields[:8]) - idle, sum(fields[:8])


def busy_cores(interval: float = 0.1) -> float | None:
    """How many cores other processes keep busy now (sampled over ``interval`` seconds).

    What this process and its descendants use meanwhile is left out (Prefect's temporary
    server answering the run's first requests, a prefetch thread): they are the run, not
    someone else; counted, they had kept the track record's process from starting in every
    cold run once the server started earlier (2026-12-04). What is left is someone else's: a
    test worker, a benchmark, another run. Unlike the 1-minute load average it does not lag:
    an idle machine right after a heavy job reads idle. None where ``/proc/stat`` is missing.
    """
    first, own_first = _cpu_times(), _own_jiffies()
    if first is None:
        return None
    time.sleep(interval)
    second, own_second = _cpu_times(), _own_jiffies()
    if second is None or second[1] <= first[1]:
        return None
    others = (second[0] - first[0]) - max(0, own_second - own_first)
    share = max(0, others) / (second[1] - first[1])
    return share * (os.cpu_count() or 1)


def _own_jiffies() -> int:
    """CPU jiffies (user + system) used so far by this process and its descendants (``/proc``).

    Processes of the tree that exit meanwhile take theirs with them; :func:`busy_cores`
    clamps the difference at 0.
    """
    parents: dict[int, int] = {}
    jiffies: dict[int, int] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as f:
                data = f.read()
        except OSError:  # exited meanwhile
            continue
        # "pid (comm) state ppid ... utime stime": fields after the name, which may hold spaces
        fields = data[data.rindex(b")") + 2 :].split()
        pid = int(entry.name)
        parents[pid] = int(fields[1])
        jiffies[pid] = int(fields[11]) + int(fields[12])
    children: dict[int, list[int]] = {}
    for pid, ppid in parents.items():
        children.setdefault(ppid, []).append(pid)
    total, todo = 0, [os.getpid()]
    while todo:
        pid = todo.pop()
        total += jiffies.get(pid, 0)
        todo.extend(children.get(pid, ()))
    return total


def _child(conn: Connection, tables_conn: Connection) -> None:
    """In the child: the track record with one BLAS and numba thread; send its rows or the error.

    The tables come through ``tables_conn`` (sent by the parent's feeder thread).
    """
    # one thread for pyfixest's numba kernels too (read when numba is imported, below): the
    # run's two joblib workers have the cores; alone it took 13.3 s and 15.9 s of CPU instead
    # of 14.8 s and 17.6 s, the same rows to the last bit (2026-12-04)
    os.environ.setdefault("NUMBA_NUM_THREADS", "1")
    try:
        tables: dict[str, pd.DataFrame] = tables_conn.recv()
        tables_conn.close()
        import gc

        from threadpoolctl import threadpool_limits

        from exportcast.flows.workers import trimming
        from exportcast.models import memo
        from exportcast.models.fta_track_record import track_record

        # the modules and tables live as long as this process: the collections after each
        # origin (trimming) then skip them (1.56 -> 1.05 s of CPU over the 14 origins)
        gc.freeze()

        lines: list[str] = []
        with threadpool_limits(limits=1, user_api="blas"):
            # freed after each origin's fit: this process runs beside the forecasts' peak
            rows, _ = track_record(*(tables[k] for k in TABLES), log=trimming(lines.append))
        # its world gravity fits (the scenarios fit the last DOTS year's again, 1.3 s)
        conn.send(("ok", rows, lines, memo.world_fits(_world_tables(tables))))
    except BaseException as exc:  # reported by the parent, which then computes the rows
        conn.send(("error", f"{type(exc).__name__}: {exc}", traceback.format_exc()))
    finally:
        conn.close()


def _world_tables(tables: dict[str, pd.DataFrame]) -> tuple[pd.DataFrame, ...]:
    """The tables a world gravity fit is memoised on (``models.fta_effects.fit_world_gravity``)."""
    return tables["dots_exports"], tables["rtas"], tables["fta"]


class TrackRecordAhead:
    """The track record running in a child process; :meth:`take` waits for its rows.

    With the rows the child sends its world gravity fits; :meth:`take` puts them in this
    process's memo (:func:`models.memo.prime_world_fits`) under the run's own tables, so a
    scenario priced on the same years (the default's, 1992-2020) takes the fit instead of
    fitting it again: the same function on the same data, so the same numbers
    (``tests/flows/test_default_run.py``).
    """

    def __init__(self, tables: dict[str, pd.DataFrame]) -> None:
        self._world_tables = _world_tables(tables)
        ctx = multiprocessing.get_context("spawn")
        self._conn, child_conn = ctx.Pipe(duplex=False)
        tables_in, self._tables_out = ctx.Pipe(duplex=False)
        self._process = ctx.Process(
            target=_child,
            args=(child_conn, tables_in),
            name="exportcast-fta-track-record",
            daemon=True,
        )
        self._process.start()
        child_conn.close()  # the parent's copy: recv() then sees EOF if the child dies
        tables_in.close()
        # The tables (about 20 MB pickled) go to the child from a thread: a pipe write blocks
        # until the child has started Python and reads them, 2.2 s of the run's critical
        # path when they were the process's arguments (spawn writes those before returning).
        self._feeder = threading.Thread(
            target=self._feed, args=({k: tables[k] for k in TABLES},),
            name="exportcast-fta-track-record-feeder", daemon=True,
        )  # fmt: skip
        self._feeder.start()

    def _feed(self, tables: dict[str, pd.DataFrame]) -> None:
        """Send the tables to the child (in the feeder thread); a dead child is :meth:`take`'s."""
        with contextlib.suppress(OSError, ValueError):  # broken pipe: the child ended
            self._tables_out.send(tables)
        with contextlib.suppress(OSError):
            self._tables_out.close()

    def take(self, log: Callable[[str], None]) -> pd.DataFrame | None:
        """The child's rows (its progress lines go to ``log``), or None if it failed.

        A failure is reported through ``log`` (the caller then computes the rows itself).
        """
        try:
            message: tuple[Any, ...] = self._conn.recv()
        except (EOFError, OSError) as exc:
            self._process.join(timeout=5)
            log(
                f"  fta track record: the second process ended without a result (exit "
                f"{self._process.exitcode}, {type(exc).__name__}); computing it here"
            )
            return None
        finally:
            self.close()
        if message[0] == "ok":
            _, rows, lines, fits = message
            for line in lines:
                log(line)
            memo.prime_world_fits(self._world_tables, fits)
            return rows
        log(f"  fta track record: the second process failed ({message[1]}); computing it here")
        return None

    def close(self) -> None:
        """Stop the child if it still runs and release the pipes (safe to call twice)."""
        if self._process.is_alive():
            self._process.terminate()
        self._process.join(timeout=5)
        if self._process.is_alive():
            self._process.kill()
            self._process.join()
        self._feeder.join(timeout=5)  # the child is gone: its send has returned or failed
        self._conn.close()


def track_record_needed(config: RunConfig, run: RunInfo) -> bool:
    """The run will compute the FTA track record: forecasts, scenarios, and not in the cache."""
    if not (config.forecast.enabled and config.scenarios):
        return False
    if not run.cache_key:
        return True
    key = cache_keys.data_logic_key(run.vintage)  # the task's cache_key (flows/pipeline.py)
    return not cache_keys.cached_result(config, "fta_track_record", key).exists()


# the run's ahead computation, read by the fta_track_record task (same thread: the flow's)
AHEAD: ContextVar[TrackRecordAhead | None] = ContextVar("exportcast_ahead", default=None)


@contextlib.contextmanager
def track_record_ahead(
    tables: dict[str, pd.DataFrame], *, needed: bool, log: Callable[[str], None]
) -> Iterator[None]:
    """Start the track record in a child for the duration of the block, if needed and wanted.

    Args:
        tables: The snapshot tables (the child gets :data:`TABLES`).
        needed: The run computes the track record (scenarios configured) and it is not cached.
        log: Progress printer (one line when the child starts).
    """
    if not needed or not wanted():
        yield
        return
    ahead = TrackRecordAhead(tables)
    log("  fta track record       started in a second process (a core is free)")
    token = AHEAD.set(ahead)
    try:
        yield
    finally:
        AHEAD.reset(token)
        ahead.close()
