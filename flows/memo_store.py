"""The on-disk layer under the backtest forecasts memo (:mod:`models.memo`), in the run's cache.

The in-process memo lets an ex ante scenario's baseline reuse the backtest origins of the run's
own backtest, but only within one process: a later run (another scenario year, the forecast
stage recomputed for a changed scenario file) fitted every origin again. This store keeps each
origin's forecasts in ``<cache.dir>/memo/forecasts/<sha256>.pkl``; the file name is the sha256 of
the memo's key (the exact bytes of the histories known at the origin, the horizon, the models'
and the fallback's settings) together with the version of the forecasting code
(:func:`memo_code_version`), so a change of data, settings or code is another file.

Files are pickles of the exact frame ``compute()`` returned (columns, order, dtypes, index and
values to the last bit: pickle round-trips a DataFrame exactly, parquet does not promise it for
object columns and index types). They are as trusted as Prefect's own result files, which are
pickles in the same folder. Writes go to a temporary file moved into place (:func:`flows.io.atomic_write`), so
a reader sees a whole file or none; an unreadable file is a miss (and rewritten), and a failed
write is logged and leaves the run alone. The folder is kept under :data:`MAX_BYTES`: at the end
of each run the least recently used files beyond it are removed.

:func:`installed` puts the store under the memo for one flow run when ``cache.enabled`` (and
the memo is on: ``EXPORTCAST_NO_MEMO=1`` reads and writes nothing).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import logging
import os
import pickle
import sys
import time
from collections.abc import Callable, Iterator
from importlib import metadata
from pathlib import Path

import pandas as pd

from exportcast.configs import RunConfig
from exportcast.flows import cache_keys
from exportcast.flows.io import atomic_write
from exportcast.models import memo

__all__ = [
    "MAX_BYTES",
    "DiskForecastStore",
    "installed",
    "memo_code_version",
    "report_disk_reuse",
    "reused_text",
    "store_folder",
]

MAX_BYTES = 256 * 2**20  # about 1.3 MB per default run (22 origins), so about 190 such runs
FORMAT = "exportcast-forecasts-memo-1"
# libraries whose numerics make the forecasts (a new version may move the last digits)
LIBRARIES = ("numpy", "pandas", "scipy", "statsmodels", "scikit-learn")
_STALE_TMP_SECONDS = 3600
_LOG = logging.getLogger(__name__)


@functools.cache
def memo_code_version() -> str:
    """Version of the code that makes the memo's forecasts: ``features/`` and ``models/``.

    A content hash of those folders (as :func:`flows.cache_keys.data_logic_key`) plus Python's
    and the numerical libraries' versions. Not the git commit: a commit, a change of ``flows/``
    or an edited scenario YAML under ``configs/`` does not change a backtest forecast, and each
    would otherwise throw the stored origins away.
    """
    versions = []
    for name in LIBRARIES:
        try:
            versions.append(f"{name}={metadata.version(name)}")
        except metadata.PackageNotFoundError:
            versions.append(f"{name}=none")
    logic = cache_keys.source_hash(("features", "models"))
    py = ".".join(map(str, sys.version_info[:3]))
    return ";".join([f"logic.{logic}", f"python={py}", *versions])


class DiskForecastStore:
    """:class:`models.memo.ForecastStore` on files in ``folder``, for one code version.

    Args:
        folder: Where the files go (created on the first write).
        version: The code version (:func:`memo_code_version`); part of every file's name.
        max_bytes: :meth:`prune` removes the least recently used files beyond this size.
    """

    def __init__(self, folder: Path, version: str, max_bytes: int = MAX_BYTES) -> None:
        self.folder = Path(folder)
        self.version = version
        self.max_bytes = max_bytes
        self.reads = self.writes = self.write_errors = 0

    def path(self, key: str) -> Path:
        """The file of ``key``: the sha256 of the code version and the key."""
        digest = hashlib.sha256(f"{self.version}\0{key}".encode()).hexdigest()
        return self.folder / f"{digest}.pkl"

    def get(self, key: str) -> pd.DataFrame | None:
        """The stored frame of ``key``; None if absent, unreadable or another key's."""
        path = self.path(key)
        try:
            with path.open("rb") as fh:
                payload = pickle.load(fh)
        except FileNotFoundError:
            return None
        except Exception as exc:  # truncated, corrupt, a folder, unreadable: a miss
            _LOG.debug("forecasts memo: cannot read %s (%s); recomputing", path.name, exc)
            return None
        if not (
            isinstance(payload, tuple)
            and len(payload) == 3
            and payload[0] == FORMAT
            and payload[1] == f"{self.version}\0{key}"
            and isinstance(payload[2], pd.DataFrame)
        ):
            _LOG.debug("forecasts memo: %s holds something else; recomputing", path.name)
            return None
        self.reads += 1
        with contextlib.suppress(OSError):  # recently used: kept longest by prune
            os.utime(path)
        return payload[2]

    def put(self, key: str, frame: pd.DataFrame) -> None:
        """Write ``frame`` for ``key`` atomically; a failure is logged, never raised."""
        payload = (FORMAT, f"{self.version}\0{key}", frame)
        try:
            data = pickle.dumps(payload, protocol=pickle.HIGHEST_PROTOCOL)
            atomic_write(self.path(key), lambda tmp: tmp.write_bytes(data))
            self.writes += 1
        except Exception as exc:
            self.write_errors += 1
            level = logging.WARNING if self.write_errors == 1 else logging.DEBUG
            _LOG.log(level, "forecasts memo: cannot write to %s (%s)", self.folder, exc)

    def prune(self) -> int:
        """Remove the least recently used files beyond ``max_bytes``; the number removed.

        Temporary files of interrupted writes older than an hour go too.
        """
        try:
            entries = list(os.scandir(self.folder))
        except OSError:
            return 0
        files, removed, now = [], 0, time.time()
        for entry in entries:
            try:
                st = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            if entry.name.startswith(".") and entry.name.endswith(".tmp"):
                if now - st.st_mtime > _STALE_TMP_SECONDS:
                    with contextlib.suppress(OSError):
                        os.unlink(entry.path)
            elif entry.name.endswith(".pkl") and entry.is_file(follow_symlinks=False):
                files.append((st.st_mtime, st.st_size, entry.path))
        total = sum(size for _, size, _ in files)
        for _, size, path in sorted(files):
            if total <= self.max_bytes:
                break
            try:
                os.unlink(path)
            except OSError:
                continue
            total -= size
            removed += 1
        return removed


def store_folder(config: RunConfig) -> Path:
    """``<cache.dir>/memo/forecasts``."""
    return cache_keys.cache_dir(config) / "memo" / "forecasts"


@contextlib.contextmanager
def installed(config: RunConfig) -> Iterator[DiskForecastStore | None]:
    """The disk store under the forecasts memo for the block, when the cache and memo are on.

    Yields the store (None when off); prunes the folder at the end.
    """
    if not (config.cache.enabled and memo.enabled()):
        yield None
        return
    store = DiskForecastStore(store_folder(config), memo_code_version())
    try:
        with memo.use_store(store):
            yield store
    finally:
        removed = store.prune()
        if removed:
            _LOG.debug("forecasts memo: pruned %d file(s) in %s", removed, store.folder)


def reused_text(before: dict[str, int], after: dict[str, int]) -> str:
    """``backtest origins reused: H of N`` between two :func:`models.memo.stats` ('' if none).

    Origins read from the disk store are named: ``... 21 of 21 (21 from disk)``.
    """
    hits = after["forecast_hits"] - before["forecast_hits"]
    total = hits + after["forecast_misses"] - before["forecast_misses"]
    if not total:
        return ""
    disk = after["forecast_store_hits"] - before["forecast_store_hits"]
    return f"backtest origins reused: {hits} of {total}" + (f" ({disk} from disk)" if disk else "")


@contextlib.contextmanager
def report_disk_reuse(printer: Callable[[], Callable[[str], None]], name: str) -> Iterator[None]:
    """Print ``name  backtest origins reused: ...`` after the block if the disk store served any.

    ``printer`` gives the line's printer (:func:`flows.progress.stage_log`); it is asked only
    when there is a line, so the block also runs outside a Prefect run (a task's ``.fn``).
    """
    before = memo.stats()
    yield
    after = memo.stats()
    if after["forecast_store_hits"] > before["forecast_store_hits"]:
        printer()(f"  {name:<22} {reused_text(before, after)}")
