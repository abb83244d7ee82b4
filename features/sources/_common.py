"""Shared machinery for the source adapters: errors, typed CSV reading, load reports.

Every adapter reads one raw format, checks it, maps country codes to ISO3 at the edge and
returns a :class:`Loaded` (a tidy frame plus what it dropped and why). Errors name the file,
the row (1-based line number in the file, header = line 1) and the column.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from exportcast.features.errors import ExportcastError

__all__ = [
    "Loaded",
    "SourceError",
    "check_finite_nonnegative",
    "check_unique",
    "raise_first",
    "raise_on_unknown",
    "read_table",
    "to_number",
]

ROW = "_row"  # line number in the source file, kept until validation is done


class SourceError(ExportcastError, ValueError):
    """A raw input does not match what its adapter expects.

    Args:
        path: The file (or table name) that is wrong.
        message: What was expected and what was found.
        row: 1-based line number in the file (header is line 1), when one row is to blame.
        column: The column to blame, when there is one.
    """

    def __init__(
        self, path: str | Path, message: str, *, row: int | None = None, column: str | None = None
    ) -> None:
        self.path = str(path)
        self.row = row
        self.column = column
        self.detail = message
        where = [self.path]
        if row is not None:
            where.append(f"row {row}")
        if column is not None:
            where.append(f"column '{column}'")
        super().__init__(f"{', '.join(where)}: {message}")


@dataclass(frozen=True)
class Loaded:
    """What an adapter returns.

    Attributes:
        frame: The tidy, validated table (ISO3 codes, documented units).
        path: The file it came from.
        dropped: Rows left out, counted by reason (e.g. ``"aggregate"``, ``"legacy code ANT"``).
        unmapped: Codes or names that could not be mapped to ISO3, with their row counts.
    """

    frame: pd.DataFrame
    path: str
    dropped: Mapping[str, int] = field(default_factory=dict)
    unmapped: Mapping[str, int] = field(default_factory=dict)

    def summary(self) -> str:
        """One line for progress output: rows kept, rows dropped by reason, unmapped codes."""
        parts = [f"{Path(self.path).name}: {len(self.frame):,} rows"]
        if self.dropped:
            parts.append(
                "dropped " + ", ".join(f"{k}={v:,}" for k, v in sorted(self.dropped.items()))
            )
        if self.unmapped:
            parts.append(
                "unmapped " + ", ".join(f"{k}={v}" for k, v in sorted(self.unmapped.items()))
            )
        return "; ".join(parts)


def read_table(
    path: str | Path,
    required: Iterable[str],
    *,
    dtype: Mapping[str, str] | None = None,
    na_values: Iterable[str] = ("", "NA"),
    compression: str | None = "infer",
) -> pd.DataFrame:
    """Read a CSV as text, check its columns and add the ``_row`` line-number column.

    Everything is read as strings so that a number column holding text can be reported with
    its row instead of silently becoming ``object`` or NaN.

    Args:
        path: CSV file (``.gz`` is read transparently).
        required: Columns that must be present.
        dtype: Optional per-column dtypes; default is ``str`` for every column.
        na_values: Cell values that mean missing.
        compression: Passed to :func:`pandas.read_csv`.

    Returns:
        The frame with the file's columns plus ``_row``.

    Raises:
        SourceError: The file is missing, empty or lacks a required column.
    """
    path = Path(path)
    if not path.is_file():
        raise SourceError(path, "file not found")
    try:
        df = pd.read_csv(
            path,
            dtype=dtype or str,
            keep_default_na=False,
            na_values=list(na_values),
            compression=compression,
            encoding="utf-8",
        )
    except pd.errors.EmptyDataError as exc:
        raise SourceError(path, "file is empty; expected a CSV with a header row") from exc
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise SourceError(path, f"not a readable UTF-8 CSV ({exc})") from exc
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise SourceError(
            path,
            f"missing column(s) {missing}; expected at least {list(required)}, "
            f"found {list(df.columns)}",
        )
    return df.assign(**{ROW: np.arange(2, len(df) + 2)})


def to_number(
    df: pd.DataFrame, column: str, path: str | Path, *, integer: bool = False
) -> pd.Series:
    """Parse a text column as numbers; text that is not a number is an error with its row.

    Missing cells (NaN) stay NaN.

    Args:
        df: Frame from :func:`read_table` (must carry ``_row``).
        column: Column to parse.
        path: File name for the error message.
        integer: Require whole numbers (years, flags).

    Returns:
        A float64 series (Int64 when ``integer``).

    Raises:
        SourceError: A cell holds text that is not a number, or a non-integer where one is needed.
    """
    raw = df[column]
    values = pd.to_numeric(raw, errors="coerce")
    bad = values.isna() & raw.notna()
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise SourceError(
            path,
            f"expected a number, found {raw.iloc[i]!r}",
            row=int(df[ROW].iloc[i]),
            column=column,
        )
    if integer:
        frac = values.notna() & (values != values.round())
        if frac.any():
            i = int(np.flatnonzero(frac.to_numpy())[0])
            raise SourceError(
                path,
                f"expected a whole number, found {raw.iloc[i]!r}",
                row=int(df[ROW].iloc[i]),
                column=column,
            )
        return values.astype("Int64")
    return values.astype("float64")


def check_finite_nonnegative(df: pd.DataFrame, column: str, path: str | Path) -> None:
    """Raise if a value column holds a negative or infinite number (NaN is allowed here).

    Raises:
        SourceError: Naming the first offending row.
    """
    v = df[column].to_numpy(dtype="float64")
    bad = np.isinf(v) | (v < 0)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise SourceError(
            path,
            f"expected a finite, non-negative amount, found {v[i]!r}",
            row=int(df[ROW].iloc[i]) if ROW in df.columns else None,
            column=column,
        )


def check_unique(df: pd.DataFrame, keys: list[str], path: str | Path) -> None:
    """Raise if two rows share the same key.

    Raises:
        SourceError: Naming the first duplicated row and the key values.
    """
    dup = df.duplicated(keys, keep="first")
    if dup.any():
        i = int(np.flatnonzero(dup.to_numpy())[0])
        key = {k: df[k].iloc[i] for k in keys}
        first = df.loc[(df[keys] == pd.Series(key)).all(axis=1)]
        rows = first[ROW].tolist() if ROW in df.columns else []
        raise SourceError(
            path,
            f"duplicate key {key}; expected one row per {keys} (rows {rows})",
            row=int(df[ROW].iloc[i]) if ROW in df.columns else None,
        )


def count_by(values: Iterable[str]) -> dict[str, int]:
    """Count occurrences, as a plain sorted dict (for ``Loaded.dropped``/``unmapped``)."""
    return dict(sorted(Counter(values).items()))


def raise_first(
    df: pd.DataFrame, bad: pd.Series | np.ndarray, path: str | Path, column: str, message: str
) -> None:
    """Raise a :class:`SourceError` naming the first row where ``bad`` is true (if any).

    ``message`` is formatted with ``value`` (the offending cell of ``column``) and with every
    column of that row by name (e.g. ``{status}``).
    """
    mask = np.asarray(bad, dtype=bool)
    if mask.any():
        i = int(np.flatnonzero(mask)[0])
        fields = {str(k): v for k, v in df.iloc[i].to_dict().items()}
        raise SourceError(
            path,
            message.format(**{**fields, "value": df[column].iloc[i]}),
            row=int(df[ROW].iloc[i]),
            column=column,
        )


def raise_on_unknown(df: pd.DataFrame, reason: pd.Series, column: str, path: str | Path) -> None:
    """Raise on the first code that :func:`~features.sources.codes.map_iso3` called unknown.

    Legacy codes on the documented drop list are not errors (they are counted); a code that is
    neither ISO3 nor on a list is, because it usually means a wrong column or a new code.

    Raises:
        SourceError: Naming the row and column of the first unknown code.
    """
    unknown = reason.fillna("").str.startswith("unknown code").to_numpy(dtype=bool)
    if unknown.any():
        i = int(np.flatnonzero(unknown)[0])
        raise SourceError(
            path,
            f"unknown country code {df[column].iloc[i]!r}; expected an ISO 3166-1 alpha-3 code "
            "or a legacy code listed in features/sources/codes.py",
            row=int(df[ROW].iloc[i]),
            column=column,
        )
