"""World Bank World Development Indicators (``wdi/``), one long CSV per indicator.

Every file has the columns ``Country Name, Country Code, Year, Value`` and is named after the
lower-case WDI series code (``ny.gdp.mktp.cd.csv``). Missing country-years are absent rows.
World Bank aggregates (``WLD``, ``EAS``, ...) are mixed in with countries; they are dropped and
counted. Units are those of the indicator and are carried in the project column name
(:data:`WDI_INDICATORS`): ``*_usd`` current US$, ``*_pct`` per cent, ``pop`` persons,
``fx_lcu_per_usd`` local currency units per US$.
"""

from __future__ import annotations

from collections.abc import Mapping
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

__all__ = ["WB_AGGREGATES", "WDI_INDICATORS", "is_level_column", "load_wdi", "load_wdi_indicator"]

# File stem (lower-case WDI series code) -> project column, unit in the name.
WDI_INDICATORS: dict[str, str] = {
    "ny.gdp.mktp.cd": "gdp_usd",
    "ny.gdp.mktp.kd.zg": "gdp_growth_pct",
    "ny.gdp.pcap.cd": "gdp_pc_usd",
    "ny.gdp.pcap.kd.zg": "gdp_pc_growth_pct",
    "sp.pop.totl": "pop",
    "sp.pop.grow": "pop_growth_pct",
    "sp.pop.0014.to.zs": "pop_0_14_pct",
    "sp.pop.65up.to.zs": "pop_65_up_pct",
    "sp.pop.dpnd": "dependency_ratio_pct",
    "sp.urb.totl.in.zs": "urban_pct",
    "tx.val.mrch.cd.wt": "merch_exports_usd",
    "tm.val.mrch.cd.wt": "merch_imports_usd",
    "ne.imp.gnfs.zs": "imports_gdp_pct",
    "fp.cpi.totl.zg": "inflation_pct",
    "pa.nus.fcrf": "fx_lcu_per_usd",
}

# World Bank group codes that are not economies: the 47 listed in INDICATORS.md §1 plus FCS
# ("Fragile and conflict affected situations"), which is missing from that list but appears
# in ny.gdp.pcap.kd.zg.csv (64 rows) and in wb_class/class_fy2026_economies.csv.
# fmt: off
WB_AGGREGATES: frozenset[str] = frozenset(
    {
        "AFE", "AFW", "ARB", "CEB", "CSS", "EAP", "EAR", "EAS", "ECA", "ECS", "EMU", "EUU", "HIC",
        "HPC", "IBD", "IBT", "IDA", "IDB", "IDX", "LAC", "LCN", "LDC", "LIC", "LMC", "LMY", "LTE",
        "MEA", "MIC", "MNA", "NAC", "OED", "OSS", "PRE", "PSS", "PST", "SAS", "SSA", "SSF", "SST",
        "TEA", "TEC", "TLA", "TMN", "TSA", "TSS", "UMC", "WLD",
        "FCS",
    }
)
# fmt: on

_REQUIRED = ["Country Code", "Year", "Value"]
_CODE = "Country Code"


def is_level_column(column: str) -> bool:
    """True for amounts that cannot be negative: ``*_usd`` columns and ``pop``.

    Growth rates, inflation and other ``*_pct`` columns can be negative and are not checked.
    """
    return column == "pop" or column.endswith("_usd")


def load_wdi_indicator(
    path: str | Path, column: str, *, start: int = 1980, end: int = 2030
) -> Loaded:
    """Load one WDI indicator file as a long ``country, year, <column>`` frame.

    Args:
        path: A ``wdi/<series code>.csv`` file.
        column: Name of the value column in the result (e.g. ``"gdp_usd"``); when
            :func:`is_level_column` says it is a level, negative values are an error.
        start: First year kept.
        end: Last year kept.

    Returns:
        ``Loaded`` whose frame has ``country`` (ISO3), ``year`` (int64) and ``column``
        (float64, the file's unit), one row per country-year, sorted. ``dropped`` counts World
        Bank aggregates (``"aggregate"``), legacy codes and empty values (``"no value"``) in
        the requested years.

    Raises:
        SourceError: Missing columns, text in ``Year``/``Value``, a code that is neither ISO3,
            a listed legacy code nor in :data:`WB_AGGREGATES`, a negative level, or a
            duplicated country-year.
    """
    df = read_table(path, _REQUIRED)
    year = to_number(df, "Year", path, integer=True)
    in_range = year.between(start, end).fillna(False).to_numpy(dtype=bool)
    df = df.loc[in_range]
    df = df.assign(Year=year[in_range], Value=to_number(df, "Value", path))

    code = df[_CODE].astype("string").str.strip().str.upper()
    aggregate = code.isin(WB_AGGREGATES).to_numpy(dtype=bool)
    iso3, reason = map_iso3(df[_CODE])
    reason = reason.mask(aggregate, "aggregate")
    raise_on_unknown(df, reason, _CODE, path)
    no_value = df["Value"].isna() & reason.isna()
    reason = reason.mask(no_value, "no value")
    dropped = count_by(reason.dropna())
    kept = df.assign(country=iso3).loc[reason.isna().to_numpy(dtype=bool)]

    if is_level_column(column):
        check_finite_nonnegative(kept, "Value", path)
    else:
        _check_finite(kept, "Value", path)
    check_unique(kept, ["country", "Year"], path)
    frame = pd.DataFrame(
        {
            "country": kept["country"].astype(str).to_numpy(),
            "year": kept["Year"].to_numpy(dtype="int64"),
            column: kept["Value"].to_numpy(dtype="float64"),
        }
    ).sort_values(["country", "year"], ignore_index=True)
    return Loaded(frame=frame, path=str(path), dropped=dropped)


def load_wdi(
    folder: str | Path,
    indicators: Mapping[str, str] = WDI_INDICATORS,
    *,
    start: int = 1980,
    end: int = 2030,
) -> Loaded:
    """Load several WDI indicators and join them into one wide country-year frame.

    Args:
        folder: The ``wdi/`` folder; each indicator is read from ``<folder>/<stem>.csv``.
        indicators: File stem -> project column name (default :data:`WDI_INDICATORS`).
        start: First year kept.
        end: Last year kept.

    Returns:
        ``Loaded`` whose frame has ``country, year`` and one float64 column per indicator (in
        the order of ``indicators``), outer-joined: a country-year present in any file is a
        row, with NaN where another file has no value. ``dropped`` and ``unmapped`` merge the
        per-file counts with the stem prefixed, e.g. ``"ny.gdp.mktp.cd: aggregate"``.

    Raises:
        SourceError: From :func:`load_wdi_indicator` for the first bad file.
        ValueError: Two stems map to the same column, or ``indicators`` is empty.
    """
    if not indicators:
        raise ValueError("indicators is empty; expected at least one file stem -> column")
    columns = list(indicators.values())
    if len(set(columns)) != len(columns):
        raise ValueError(f"indicator columns must be distinct, got {columns}")
    folder = Path(folder)
    frames: list[pd.DataFrame] = []
    dropped: dict[str, int] = {}
    unmapped: dict[str, int] = {}
    for stem, column in indicators.items():
        loaded = load_wdi_indicator(folder / f"{stem}.csv", column, start=start, end=end)
        frames.append(loaded.frame.set_index(["country", "year"]))
        dropped.update({f"{stem}: {k}": v for k, v in loaded.dropped.items()})
        unmapped.update({f"{stem}: {k}": v for k, v in loaded.unmapped.items()})
    wide = pd.concat(frames, axis=1, join="outer").sort_index().reset_index()
    wide = wide.astype({"year": "int64"})[["country", "year", *columns]]
    return Loaded(frame=wide, path=str(folder), dropped=dropped, unmapped=unmapped)


def _check_finite(df: pd.DataFrame, column: str, path: str | Path) -> None:
    v = df[column].to_numpy(dtype="float64")
    bad = np.isinf(v)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise SourceError(
            path,
            f"expected a finite number, found {v[i]!r}",
            row=int(df[ROW].iloc[i]),
            column=column,
        )
