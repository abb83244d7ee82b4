"""Korea Customs / KOSIS exports by partner, as packaged by kdiplo (``kdiplo_kosis/trade_data.csv``).

Units: current USD (units, not thousands). ``export`` equals ``export_kosis`` when KOSIS has the
value, otherwise the Correlates of War (COW) value; the ``source`` column says which.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from exportcast.features.sources._common import (
    ROW,
    Loaded,
    SourceError,
    check_finite_nonnegative,
    check_unique,
    count_by,
    raise_on_unknown,
    read_table,
    to_number,
)
from exportcast.features.sources.codes import map_iso3

__all__ = ["REPORTER", "load_kosis_exports"]

REPORTER = "KOR"
_REQUIRED = ["iso3c", "year", "export", "export_kosis", "total_export"]
# Partner sums match total_export within 0.6 % from 1990 (SOURCES.md). A ratio far outside this
# band means a unit error (thousands vs units) or a truncated file.
_TOTAL_RATIO_BAND = (0.9, 1.1)


def load_kosis_exports(
    path: str | Path, *, start: int = 1990, end: int = 2023
) -> tuple[Loaded, pd.DataFrame]:
    """Load Korea's exports by partner and Korea's world totals.

    Args:
        path: ``kdiplo_kosis/trade_data.csv``.
        start: First year kept.
        end: Last year kept.

    Returns:
        ``(exports, totals)``: ``exports.frame`` has ``reporter, partner, year, export_usd,
        source`` (``source`` is ``kosis`` or ``cow``), one row per partner-year with a value;
        ``totals`` has ``reporter, year, total_export_usd`` from the KOSIS world total.

    Raises:
        SourceError: Missing columns, text in number columns, negative values, duplicate
            partner-years, or partner sums inconsistent with the world total (unit error).
    """
    df = read_table(path, _REQUIRED)
    year = to_number(df, "year", path, integer=True)
    export = to_number(df, "export", path)
    export_kosis = to_number(df, "export_kosis", path)
    total = to_number(df, "total_export", path)
    df = df.assign(year=year, export=export, export_kosis=export_kosis, total_export=total)
    check_finite_nonnegative(df, "export", path)
    check_finite_nonnegative(df, "total_export", path)

    in_range = df["year"].between(start, end).fillna(False).to_numpy(dtype=bool)
    df = df.loc[in_range]
    iso3, reason = map_iso3(df["iso3c"])
    df = df.assign(partner=iso3)
    has_value = df["export"].notna()
    dropped = count_by(reason[has_value & reason.notna()])
    n_na = int((~has_value).sum())
    if n_na:
        dropped["no export value (NA)"] = n_na
    raise_on_unknown(df, reason, "iso3c", path)
    kept = df.loc[has_value & df["partner"].notna()]
    check_unique(kept, ["partner", "year"], path)

    exports = pd.DataFrame(
        {
            "reporter": REPORTER,
            "partner": kept["partner"].astype(str).to_numpy(),
            "year": kept["year"].astype("int64").to_numpy(),
            "export_usd": kept["export"].to_numpy(dtype="float64"),
            "source": np.where(kept["export_kosis"].notna(), "kosis", "cow"),
            ROW: kept[ROW].to_numpy(),
        }
    )
    totals = (
        df.dropna(subset=["total_export"])
        .groupby("year", as_index=False)["total_export"]
        .agg(["min", "max"])
        .reset_index()
    )
    inconsistent = totals.loc[totals["min"] != totals["max"]]
    if len(inconsistent):
        y = int(inconsistent["year"].iloc[0])
        raise SourceError(
            path,
            f"total_export differs between rows of year {y}; expected one value per year",
            column="total_export",
        )
    totals = pd.DataFrame(
        {
            "reporter": REPORTER,
            "year": totals["year"].astype("int64"),
            "total_export_usd": totals["min"],
        }
    )
    _check_units(exports, totals, path)
    loaded = Loaded(
        frame=exports.sort_values(["partner", "year"], ignore_index=True),
        path=str(path),
        dropped=dropped,
    )
    return loaded, totals.sort_values("year", ignore_index=True)


def _check_units(exports: pd.DataFrame, totals: pd.DataFrame, path: str | Path) -> None:
    sums = exports.groupby("year")["export_usd"].sum()
    ratio = (sums / totals.set_index("year")["total_export_usd"]).dropna()
    lo, hi = _TOTAL_RATIO_BAND
    bad = ratio[(ratio < lo) | (ratio > hi)]
    if len(bad):
        y, r = int(bad.index[0]), float(bad.iloc[0])
        hint = ""
        if 5e-4 < r < 2e-3:
            hint = " (about 1/1000: are the partner values in thousands of USD?)"
        elif 500 < r < 2000:
            hint = " (about 1000x: is total_export in thousands of USD?)"
        raise SourceError(
            path,
            f"partner exports in {y} sum to {r:.4g} x total_export; expected "
            f"{lo}-{hi}: both must be in USD units{hint}",
            column="export",
        )
