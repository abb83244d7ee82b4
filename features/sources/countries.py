"""Country reference data: names, regions, memberships and World Bank income groups.

Three raw tables (INDICATORS.md §6 and §9):

* ``country_ref/countries.csv``: one row per economy (ISO 3166-1 plus ``CHI`` and ``XKX``), with
  continent and UN sub-region, OECD/EU/G20/APEC membership (from ``country_converter``) and the
  World Bank FY2026 region and income group.
* ``wb_class/class_historical_fy1988_2026.csv``: World Bank income group by economy and year.
* ``wb_class/class_fy2026_economies.csv``: the FY2026 classification (July 2025), economies and
  aggregate rows mixed.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from exportcast.features.sources._common import (
    Loaded,
    check_unique,
    count_by,
    raise_first,
    raise_on_unknown,
    read_table,
    to_number,
)
from exportcast.features.sources.codes import map_iso3

__all__ = [
    "INCOME_GROUPS",
    "load_countries",
    "load_income_history",
    "load_wb_economies",
]

# World Bank income groups, poorest first.
INCOME_GROUPS = ("Low income", "Lower middle income", "Upper middle income", "High income")

# Membership flag column -> the only non-blank value allowed in countries.csv.
_FLAGS: Mapping[str, str] = {"eu_member": "EU", "g20_member": "G20", "apec_member": "APEC"}
_COUNTRY_TEXT: Mapping[str, str] = {
    "name": "name",
    "continent": "continent",
    "un_subregion": "un_subregion",
    "wb_region": "wb_region",
    "income_group": "wb_income_group_fy2026",
}
_COUNTRIES_REQUIRED = ["iso3", *_COUNTRY_TEXT.values(), "oecd_since", *_FLAGS]
_HISTORY_REQUIRED = ["code", "year_fiscal", "year_data", "incgroup_historical"]
_ECONOMIES_REQUIRED = ["Economy", "Code", "Region", "Income group", "Lending category"]
# OECD founded 1961; anything outside this range is a wrong column or unit.
_OECD_YEARS = (1961, 2100)


def _check_income(df: pd.DataFrame, column: str, path: str | Path) -> pd.Series:
    """Strip an income-group column and check it holds World Bank labels (or blank)."""
    values = df[column].str.strip()
    bad = values.notna() & ~values.isin(INCOME_GROUPS)
    raise_first(
        df, bad, path, column, f"unknown income group {{value!r}}; expected one of {INCOME_GROUPS}"
    )
    return values


def _iso3(df: pd.DataFrame, column: str, path: str | Path) -> pd.Series:
    """Map a code column to ISO3; unknown, legacy or blank codes are errors (reference tables)."""
    iso3, reason = map_iso3(df[column])
    raise_on_unknown(df, reason, column, path)
    raise_first(
        df,
        reason.notna().to_numpy(dtype=bool),
        path,
        column,
        "code {value!r} is missing or not a current country; expected ISO3",
    )
    return iso3


def load_countries(country_ref_path: str | Path) -> Loaded:
    """Load the country reference table.

    Args:
        country_ref_path: ``country_ref/countries.csv``.

    Returns:
        ``frame``, one row per economy (251): ``country`` (ISO3), ``name`` (ISO 3166 name),
        ``continent`` (Africa, America, Asia, Europe, Oceania, Antarctica; NaN for CHI, XKX),
        ``un_subregion`` (UN M49), ``wb_region``, ``income_group`` (World Bank FY2026, NaN for
        the territories the WB does not classify and for ETH, VEN), ``oecd_since`` (Int64 year
        of accession, ``<NA>`` if not a member), ``eu_member``, ``g20_member``,
        ``apec_member`` (bool). Note that ``g20_member`` is country_converter's flag, which
        marks every EU member state (the EU is a G20 member): 43 countries, not the 19
        national members.

    Raises:
        SourceError: Missing column, an unknown or repeated code, a non-year ``oecd_since``,
            an unexpected membership flag value or income group.
    """
    path = country_ref_path
    df = read_table(path, _COUNTRIES_REQUIRED)
    country = _iso3(df, "iso3", path)
    df = df.assign(country=country)
    check_unique(df, ["country"], path)
    oecd = to_number(df, "oecd_since", path, integer=True)
    lo, hi = _OECD_YEARS
    raise_first(
        df,
        (oecd.notna() & ~oecd.between(lo, hi)).fillna(False),
        path,
        "oecd_since",
        f"expected an accession year {lo}-{hi}, found {{value!r}}",
    )
    flags = {}
    for col, value in _FLAGS.items():
        text = df[col].str.strip()
        raise_first(
            df,
            text.notna() & (text != value),
            path,
            col,
            f"expected {value!r} or blank, found {{value!r}}",
        )
        flags[col] = text.notna().to_numpy(dtype=bool)
    income = _check_income(df, "wb_income_group_fy2026", path)
    frame = pd.DataFrame(
        {
            "country": df["country"].astype(str).to_numpy(),
            **{out: df[raw].str.strip().to_numpy() for out, raw in _COUNTRY_TEXT.items()},
            "oecd_since": oecd.to_numpy(),
            "eu_member": flags["eu_member"],
            "g20_member": flags["g20_member"],
            "apec_member": flags["apec_member"],
        }
    )
    frame = frame.assign(income_group=income.to_numpy(), oecd_since=oecd.astype("Int64").array)
    return Loaded(frame=frame.sort_values("country", ignore_index=True), path=str(path))


def load_income_history(path: str | Path) -> Loaded:
    """Load the World Bank's historical income classification.

    Args:
        path: ``wb_class/class_historical_fy1988_2026.csv``.

    Returns:
        ``frame``: ``country`` (ISO3), ``year`` (``year_data``: the year of the GNI per capita
        the group is based on), ``fiscal_year`` (``year_fiscal`` = ``year`` + 2, the WB fiscal
        year the group applied to), ``income_group`` (``incgroup_historical``). One row per
        (country, year); 1987-2024.

    Raises:
        SourceError: Missing column, text in a year column, an unknown code or income group,
            or a repeated (country, year).
    """
    df = read_table(path, _HISTORY_REQUIRED)
    df = df.assign(
        year_data=to_number(df, "year_data", path, integer=True),
        year_fiscal=to_number(df, "year_fiscal", path, integer=True),
        country=_iso3(df, "code", path),
    )
    for col in ("year_data", "year_fiscal"):
        raise_first(df, df[col].isna(), path, col, "missing year")
    income = _check_income(df, "incgroup_historical", path)
    check_unique(df, ["country", "year_data"], path)
    frame = pd.DataFrame(
        {
            "country": df["country"].astype(str).to_numpy(),
            "year": df["year_data"].astype("int64").to_numpy(),
            "fiscal_year": df["year_fiscal"].astype("int64").to_numpy(),
            "income_group": income.to_numpy(),
        }
    )
    return Loaded(frame=frame.sort_values(["country", "year"], ignore_index=True), path=str(path))


def load_wb_economies(path: str | Path) -> Loaded:
    """Load the World Bank FY2026 classification of economies (aggregates dropped).

    Args:
        path: ``wb_class/class_fy2026_economies.csv``.

    Returns:
        ``frame``: ``country`` (ISO3; WB codes ``XKX``, ``CHI`` kept), ``name`` (WB name),
        ``region``, ``income_group`` (NaN where the WB gives none: ETH, VEN in FY2026),
        ``lending_category`` (IDA, IBRD, Blend; NaN otherwise). ``dropped`` counts aggregate
        rows (blank ``Region``) and fully blank separator rows.

    Raises:
        SourceError: Missing column, an unknown or repeated economy code, or an unknown
            income group.
    """
    df = read_table(path, _ECONOMIES_REQUIRED)
    text = df[_ECONOMIES_REQUIRED].apply(lambda s: s.str.strip())
    df = df.assign(**{c: text[c] for c in _ECONOMIES_REQUIRED})
    blank = df[_ECONOMIES_REQUIRED].isna().all(axis=1).to_numpy(dtype=bool)
    aggregate = ~blank & df["Region"].isna().to_numpy(dtype=bool)
    dropped = count_by(["aggregate (blank Region)"] * int(aggregate.sum()))
    if blank.any():
        dropped["blank row"] = int(blank.sum())
    df = df.loc[~blank & ~aggregate]
    df = df.assign(country=_iso3(df, "Code", path))
    check_unique(df, ["country"], path)
    income = _check_income(df, "Income group", path)
    frame = pd.DataFrame(
        {
            "country": df["country"].astype(str).to_numpy(),
            "name": df["Economy"].to_numpy(),
            "region": df["Region"].to_numpy(),
            "income_group": income.to_numpy(),
            "lending_category": df["Lending category"].to_numpy(),
        }
    )
    return Loaded(
        frame=frame.sort_values("country", ignore_index=True), path=str(path), dropped=dropped
    )
