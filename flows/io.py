"""File I/O helpers: atomic writes and deterministic Parquet."""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pandas and pyarrow load on first use: the CLI imports project_path
    import pandas as pd

__all__ = [
    "CODE_ROOT",
    "PROJECT_ENV",
    "atomic_write",
    "packaged_path",
    "project_path",
    "project_root",
    "read_parquet",
    "sha256_file",
    "write_csv",
    "write_parquet",
]

PROJECT_ENV = "EXPORTCAST_PROJECT"

# Where the code folders (flows/, models/, ...) live: the checkout's root, or the installed
# ``exportcast`` package. Only the code hash and the packaged data (default config, scenario
# files, report templates, the embedded snapshot) are read from here; every path a user gives
# or a run writes resolves against the project directory (:func:`project_root`).
CODE_ROOT = Path(__file__).resolve().parents[1]

# Files shipped with the package, by their path in a source checkout -> in an installed wheel
# (pyproject.toml's package-dir mapping puts data/snapshot at exportcast/snapshot).
_PACKAGED = {"data/snapshot": "snapshot", "configs": "configs", "reports": "reports"}


def project_root() -> Path:
    """The project directory: ``$EXPORTCAST_PROJECT`` when set, else the working directory.

    Outputs, the MLflow store (``mlruns/``), the cache, the vintage store and the inbox live
    here; relative paths in configs and options resolve against it.
    """
    env = os.environ.get(PROJECT_ENV, "").strip()
    return Path(env).expanduser().resolve() if env else Path.cwd().resolve()


def packaged_path(path: str | Path) -> Path | None:
    """The copy of a relative path shipped with exportcast (embedded snapshot, configs), if any.

    ``data/snapshot/...`` and ``configs/...`` name the package's own files when the project
    directory has none: ``exportcast run`` in an empty folder reads the embedded snapshot and
    the default scenario files of the installed package.
    """
    rel = Path(path).as_posix()
    for source, installed in _PACKAGED.items():
        if rel == source or rel.startswith(source + "/"):
            tail = rel[len(source) :].lstrip("/")
            for base in (CODE_ROOT / source, CODE_ROOT / installed):
                candidate = base / tail if tail else base
                if candidate.exists():
                    return candidate
    return None


def project_path(path: str | Path) -> Path:
    """Resolve a path: absolute as given; relative under the project directory.

    A relative input the project does not have (``data/snapshot``, ``configs/scenarios/...``)
    falls back to the copy shipped with the package, so a fresh project folder works.
    """
    path = Path(path).expanduser()
    if path.is_absolute():
        return path
    candidate = project_root() / path
    if candidate.exists():
        return candidate
    shipped = packaged_path(path)
    return shipped if shipped is not None else candidate


def atomic_write(path: str | Path, write: Callable[[Path], None]) -> Path:
    """Write a file through a temporary sibling and rename it into place.

    A crash or error half-way leaves the old file (if any) untouched and no partial file.

    Args:
        path: Destination.
        write: Called with the temporary path; must write the whole file there.

    Returns:
        The destination path.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        write(tmp_path)
        # mkstemp creates 0600; give the file the permissions a normal write would have.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp_path, 0o666 & ~umask)
        os.replace(tmp_path, path)
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise
    return path


def write_csv(frame: pd.DataFrame, path: str | Path, *, float_format: str | None = None) -> Path:
    """Atomically write a CSV (no index, UTF-8, LF line ends)."""
    return atomic_write(
        path,
        lambda p: frame.to_csv(p, index=False, float_format=float_format, lineterminator="\n"),
    )


def write_parquet(frame: pd.DataFrame, path: str | Path) -> Path:
    """Atomically write a deterministic Parquet file.

    Same frame, same bytes: no index, no pandas schema metadata (it embeds the pandas version),
    zstd compression, one row group.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pandas(frame, preserve_index=False).replace_schema_metadata(None)

    def _write(p: Path) -> None:
        pq.write_table(
            table,
            p,
            compression="zstd",
            compression_level=9,
            row_group_size=max(len(frame), 1),
            write_statistics=False,
            store_schema=False,
        )

    return atomic_write(path, _write)


def read_parquet(path: str | Path) -> pd.DataFrame:
    """Read a Parquet file into pandas (strings as ``object``)."""
    import pyarrow.parquet as pq

    return pq.read_table(path).to_pandas()


def sha256_file(path: str | Path) -> str:
    """Hex sha256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
