"""The tidy trade panel (``reporter, partner, year, export_usd, source``) and its checks.

Also the one pair of conversions between the panel and the engine's long frame
(``unique_id, ds, y`` with ``unique_id = "KOR|CHN"``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from exportcast.features.sources._common import ROW, SourceError
from exportcast.features.sources.codes import known_iso3

__all__ = [
    "PANEL_COLUMNS",
    "build_export_series",
    "build_trade_panel",
    "series_to_panel",
    "validate_trade_panel",
]

PANEL_COLUMNS = ["reporter", "partner", "year", "export_usd", "source"]
_SEP = "|"
# Partner sums within two orders of magnitude of an independent reporter total are plausible
# (a panel may hold only some partners); a ratio near
# 1/1000 or 1000 means thousands-vs-units (or millions) got mixed up.
_TOTAL_RATIO_BAND = (0.01, 10.0)


def _row_of(df: pd.DataFrame, i: int) -> int:
    # Line number in the file when the adapter kept it, else 1-based row with header = 1.
    return int(df[ROW].iloc[i]) if ROW in df.columns else i + 2


def _fail(df: pd.DataFrame, mask: np.ndarray, name: str, column: str | None, message: str) -> None:
    if mask.any():
        i = int(np.flatnonzero(mask)[0])
        raise SourceError(
            name, message(i) if callable(message) else message, row=_row_of(df, i), column=column
        )


def validate_trade_panel(
    panel: pd.DataFrame,
    *,
    name: str,
    start: int | None = None,
    end: int | None = None,
    reference_totals: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Check a trade panel against the contract and return it with clean dtypes.

    Checks: required columns; numbers in ``year``/``export_usd``; finite non-negative values;
    known ISO3 reporter and partner codes (no aggregates); no self-trade; years in range; unique
    (reporter, partner, year); and, when ``reference_totals`` (``reporter, year, total_usd``) is
    given, partner sums of the same order as the reference (catches thousands vs USD).

    Args:
        panel: Frame with at least ``reporter, partner, year, export_usd``.
        name: File or table name used in error messages.
        start: First allowed year (inclusive), if any.
        end: Last allowed year (inclusive), if any.
        reference_totals: Independent reporter totals in USD for the unit check.

    Returns:
        The panel with columns ``PANEL_COLUMNS`` (``source`` filled with ``name`` when absent),
        ``year`` as int64 and ``export_usd`` as float64, sorted by reporter, partner, year.

    Raises:
        SourceError: Naming the file/table, the row and the column of the first problem.
    """
    required = ["reporter", "partner", "year", "export_usd"]
    missing = [c for c in required if c not in panel.columns]
    if missing:
        raise SourceError(name, f"missing column(s) {missing}; expected {PANEL_COLUMNS}")
    df = panel.reset_index(drop=True)
    _parse_numbers(df, name)
    year, v = _check_numbers(df, name, start, end)
    _check_keys(df, name, year)
    if "source" not in df.columns:
        df["source"] = name
    out = df.assign(year=df["year"].astype("int64"), export_usd=v)
    if reference_totals is not None:
        _check_units(out, reference_totals, name)
    return out[PANEL_COLUMNS].sort_values(["reporter", "partner", "year"], ignore_index=True)


def _parse_numbers(df: pd.DataFrame, name: str) -> None:
    """Parse ``year`` and ``export_usd`` as numbers in place; text or empty cells are errors."""
    for col in ("year", "export_usd"):
        parsed = pd.to_numeric(df[col], errors="coerce")
        bad = (parsed.isna() & df[col].notna()).to_numpy()
        _fail(df, bad, name, col, lambda i, c=col: f"expected a number, found {df[c].iloc[i]!r}")
        _fail(df, parsed.isna().to_numpy(), name, col, "expected a value, found an empty cell")
        df[col] = parsed


def _check_numbers(
    df: pd.DataFrame, name: str, start: int | None, end: int | None
) -> tuple[np.ndarray, np.ndarray]:
    """Whole years within ``start``-``end`` and finite non-negative amounts; the two arrays."""
    year = df["year"].to_numpy(dtype="float64")
    _fail(
        df,
        year != np.round(year),
        name,
        "year",
        lambda i: f"expected a whole year, found {year[i]!r}",
    )
    lo = start if start is not None else -np.inf
    hi = end if end is not None else np.inf
    _fail(
        df,
        (year < lo) | (year > hi),
        name,
        "year",
        lambda i: f"year {int(year[i])} outside the expected range {start}-{end}",
    )
    v = df["export_usd"].to_numpy(dtype="float64")
    _fail(
        df,
        ~np.isfinite(v) | (v < 0),
        name,
        "export_usd",
        lambda i: f"expected a finite, non-negative USD amount, found {v[i]!r}",
    )
    return year, v


def _check_keys(df: pd.DataFrame, name: str, year: np.ndarray) -> None:
    """Known ISO3 reporter and partner codes, no self-trade, one row per reporter-partner-year."""
    known = known_iso3()
    for col in ("reporter", "partner"):
        codes = df[col].astype("string")
        bad = (~codes.isin(known)).to_numpy(dtype=bool)
        _fail(
            df,
            bad,
            name,
            col,
            lambda i, c=col: (
                f"unknown country code {df[c].iloc[i]!r}; expected an ISO 3166-1 "
                "alpha-3 code of a country (aggregates such as World are not allowed)"
            ),
        )
    _fail(
        df,
        (df["reporter"] == df["partner"]).to_numpy(),
        name,
        "partner",
        "partner equals reporter (self-trade)",
    )
    dup = df.duplicated(["reporter", "partner", "year"]).to_numpy()
    _fail(
        df,
        dup,
        name,
        None,
        lambda i: (
            "duplicate key "
            f"(reporter={df['reporter'].iloc[i]}, partner={df['partner'].iloc[i]}, "
            f"year={int(year[i])}); expected one row per reporter-partner-year"
        ),
    )


def _check_units(panel: pd.DataFrame, reference: pd.DataFrame, name: str) -> None:
    sums = panel.groupby(["reporter", "year"], as_index=False)["export_usd"].sum()
    merged = sums.merge(reference, on=["reporter", "year"], how="inner")
    merged = merged.loc[merged["total_usd"] > 0]
    if merged.empty:
        return
    merged = merged.assign(ratio=merged["export_usd"] / merged["total_usd"])
    lo, hi = _TOTAL_RATIO_BAND
    bad = merged.loc[(merged["ratio"] < lo) | (merged["ratio"] > hi)]
    if len(bad):
        r = bad.iloc[0]
        hint = ""
        if 1e-4 < r["ratio"] < 1e-2:
            hint = "; the values look like thousands of USD, expected USD units"
        elif 1e-7 < r["ratio"] < 1e-5:
            hint = "; the values look like millions of USD, expected USD units"
        raise SourceError(
            name,
            f"partner exports of {r['reporter']} in {int(r['year'])} sum to "
            f"{r['ratio']:.3g} x the reference total; expected {lo}-{hi}{hint}",
            column="export_usd",
        )


def build_trade_panel(
    exports: pd.DataFrame, *, reporter: str, start: int, end: int, name: str = "trade panel"
) -> pd.DataFrame:
    """Select one reporter's years from an exports table and validate them as a panel.

    Args:
        exports: Table with the panel columns (e.g. the snapshot's Korea exports).
        reporter: ISO3 of the reporter.
        start: First year (inclusive).
        end: Last year (inclusive).
        name: Table name for error messages.

    Returns:
        The validated panel for ``reporter`` and ``start..end``.

    Raises:
        SourceError: When the reporter has no rows in that range or a row is invalid.
    """
    sel = exports.loc[(exports["reporter"] == reporter) & exports["year"].between(start, end)]
    if sel.empty:
        have = sorted(exports["reporter"].unique())[:10]
        raise SourceError(
            name,
            f"no exports for reporter {reporter!r} in {start}-{end}; reporters present include {have}",
        )
    return validate_trade_panel(sel, name=name, start=start, end=end)


def build_export_series(panel: pd.DataFrame) -> pd.DataFrame:
    """Panel -> long frame ``unique_id, ds, y`` (``unique_id = "reporter|partner"``)."""
    return pd.DataFrame(
        {
            "unique_id": panel["reporter"].astype(str) + _SEP + panel["partner"].astype(str),
            "ds": panel["year"].astype("int64").to_numpy(),
            "y": panel["export_usd"].astype("float64").to_numpy(),
        }
    ).sort_values(["unique_id", "ds"], ignore_index=True)


def series_to_panel(frame: pd.DataFrame, value: str = "y") -> pd.DataFrame:
    """Long frame -> panel columns ``reporter, partner, year`` plus the remaining columns.

    Args:
        frame: Frame with ``unique_id`` ("reporter|partner") and ``ds``.
        value: Column renamed to ``export_usd`` (if present).

    Returns:
        The frame with ``reporter, partner, year`` instead of ``unique_id, ds``.
    """
    # split each distinct id once (sample paths repeat every id a thousand times), then take
    codes, uniques = pd.factorize(frame["unique_id"], use_na_sentinel=False)
    parts = pd.Series(pd.Index(uniques).astype(str)).str.split(_SEP, n=1, expand=True)
    if parts.shape[1] != 2 or parts[1].isna().any():
        raise ValueError("unique_id must look like 'REPORTER|PARTNER'")
    rest = frame.drop(columns=["unique_id", "ds"])
    if value in rest.columns:
        rest = rest.rename(columns={value: "export_usd"})
    return pd.concat(
        [
            pd.DataFrame(
                {
                    "reporter": parts[0].to_numpy()[codes],
                    "partner": parts[1].to_numpy()[codes],
                    "year": frame["ds"].astype("int64"),
                },
                index=frame.index,
            ),
            rest,
        ],
        axis=1,
    ).reset_index(drop=True)
