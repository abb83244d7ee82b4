"""IMF World Economic Outlook, October 2025: history and projections to 2030 (``imf_weo/``).

``weo_2025oct_values.csv`` is long: ``ref_area, concept, year, value, is_projection``. Values
are stored divided by a per-concept scale (``weo_concepts.csv``, column ``scale_label``):
``NGDPD`` is in billions of USD and ``LP`` in millions of persons. The adapter multiplies them
back to base units (USD, persons). ``ref_area`` is ISO3 except for IMF country groups
(``G001`` World, ``G110`` Advanced economies, ..., ``GX123``), which are dropped, and Kosovo
(``KOS`` -> ``XKX``) and West Bank and Gaza (``WBG`` -> ``PSE``), which are mapped.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
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

__all__ = [
    "CONCEPTS_FILE",
    "DEFAULT_CONCEPTS",
    "META_FILE",
    "WEO_COLUMNS",
    "WEO_SCALES",
    "is_imf_group",
    "load_weo",
    "read_weo_scales",
    "weo_wide",
]

CONCEPTS_FILE = "weo_concepts.csv"
META_FILE = "weo_series_meta.csv"
DEFAULT_CONCEPTS = ("NGDP_RPCH", "NGDPD", "NGDPDPC", "LP", "TM_RPCH", "PCPIPCH")

# Built-in copy of weo_concepts.csv: the factor that turns a stored value into base units.
# Used when weo_concepts.csv is not beside the values file; a test checks both agree.
WEO_SCALES: dict[str, float] = {
    "BCA_NGDPD": 1.0,  # % of GDP
    "GGXWDG_NGDP": 1.0,  # % of GDP
    "LP": 1e6,  # millions of persons -> persons
    "LUR": 1.0,  # %
    "NGDPD": 1e9,  # billions of USD -> USD
    "NGDPDPC": 1.0,  # USD
    "NGDPRPPPPC": 1.0,  # intl $ (2021 PPP)
    "NGDP_RPCH": 1.0,  # % change
    "NID_NGDP": 1.0,  # % of GDP
    "PCPIPCH": 1.0,  # % change
    "PPPGDP": 1e9,  # billions of intl $ -> intl $
    "PPPPC": 1.0,  # intl $
    "TMG_RPCH": 1.0,  # % change
    "TM_RPCH": 1.0,  # % change
    "TXG_RPCH": 1.0,  # % change
    "TX_RPCH": 1.0,  # % change
}

# Concepts that are amounts and cannot be negative (growth, balances and ratios can).
_LEVELS = frozenset({"LP", "NGDPD", "NGDPDPC", "NGDPRPPPPC", "PPPGDP", "PPPPC"})

# WEO concept -> column of :func:`weo_wide` (unit in the name, after load_weo's scaling).
WEO_COLUMNS: dict[str, str] = {
    "NGDP_RPCH": "gdp_growth_pct",
    "NGDPD": "gdp_usd",
    "NGDPDPC": "gdp_pc_usd",
    "LP": "pop",
    "TM_RPCH": "imports_volume_growth_pct",
    "PCPIPCH": "inflation_pct",
}

_SCALE_LABELS = {"units": 1.0, "thousands": 1e3, "millions": 1e6, "billions": 1e9}
_GROUP = re.compile(r"^GX?\d+$")
_REQUIRED = ["ref_area", "concept", "year", "value", "is_projection"]


def is_imf_group(code: str) -> bool:
    """True for IMF country-group codes: ``G`` or ``GX`` followed by digits (``G001``, ``GX123``)."""
    return bool(_GROUP.match(str(code).strip().upper()))


def read_weo_scales(path: str | Path) -> dict[str, float]:
    """Read ``weo_concepts.csv`` into concept -> factor to base units.

    Args:
        path: ``weo_concepts.csv`` (columns ``concept, scale_label``).

    Returns:
        For each concept, 1, 1e3, 1e6 or 1e9 for ``units``/``thousands``/``millions``/``billions``.

    Raises:
        SourceError: Missing columns, an unknown scale label or a duplicated concept.
    """
    df = read_table(path, ["concept", "scale_label"])
    label = df["scale_label"].str.strip().str.lower()
    bad = ~label.isin(_SCALE_LABELS).to_numpy(dtype=bool)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise SourceError(
            path,
            f"unknown scale {df['scale_label'].iloc[i]!r}; expected one of {list(_SCALE_LABELS)}",
            row=int(df[ROW].iloc[i]),
            column="scale_label",
        )
    check_unique(df, ["concept"], path)
    return dict(zip(df["concept"], label.map(_SCALE_LABELS), strict=True))


def load_weo(
    values_path: str | Path,
    *,
    concepts: Iterable[str] = DEFAULT_CONCEPTS,
    start: int = 1980,
    end: int = 2030,
) -> Loaded:
    """Load WEO values for some concepts as a long frame in base units.

    The scale of each concept comes from ``weo_concepts.csv`` beside ``values_path`` when that
    file exists, otherwise from :data:`WEO_SCALES`. A blank ``is_projection`` is derived from
    ``weo_series_meta.csv`` beside ``values_path`` (``year > last_actual_year`` of that area and
    concept); when the file or that year is missing, the blank is an error.

    Args:
        values_path: ``weo_2025oct_values.csv``.
        concepts: WEO concept codes to keep (default: growth, GDP in USD, GDP per capita,
            population, import volume growth, inflation).
        start: First year kept.
        end: Last year kept.

    Returns:
        ``Loaded`` whose frame has ``country`` (ISO3), ``year`` (int64), ``concept``, ``value``
        (float64; ``NGDPD`` and ``PPPGDP`` in USD / intl $, ``LP`` in persons, percentages as
        stored) and ``is_projection`` (bool), sorted by ``country, year, concept``.
        ``dropped`` counts IMF groups (``"IMF group"``), legacy codes and empty values among
        the requested concepts and years.

    Raises:
        SourceError: Missing columns, text in number columns, an unknown area code, a flag
            other than 0/1, a blank flag that cannot be derived, a negative level (GDP,
            population) or a duplicated area-concept-year; a requested concept absent from
            the file.
        ValueError: A requested concept has no known scale.
    """
    values_path = Path(values_path)
    wanted = list(dict.fromkeys(concepts))
    scales = _concept_scales(values_path, wanted)

    df = read_table(values_path, _REQUIRED)
    year = to_number(df, "year", values_path, integer=True)
    keep = year.between(start, end).fillna(False) & df["concept"].isin(wanted)
    keep = keep.to_numpy(dtype=bool)
    df = df.loc[keep].assign(year=year[keep])
    absent = [c for c in wanted if c not in set(df["concept"])]

    df, reason = _with_countries(df, values_path)
    dropped = count_by(reason.dropna())
    kept = df.loc[reason.isna().to_numpy(dtype=bool)]

    flag = _projection_flag(kept, values_path)
    level = kept["concept"].isin(_LEVELS).to_numpy(dtype=bool)
    check_finite_nonnegative(kept.loc[level], "value", values_path)
    check_unique(kept, ["country", "concept", "year"], values_path)

    scale = kept["concept"].map(scales).to_numpy(dtype="float64")
    frame = pd.DataFrame(
        {
            "country": kept["country"].astype(str).to_numpy(),
            "year": kept["year"].to_numpy(dtype="int64"),
            "concept": kept["concept"].astype(str).to_numpy(),
            "value": kept["value"].to_numpy(dtype="float64") * scale,
            "is_projection": flag,
        }
    ).sort_values(["country", "year", "concept"], ignore_index=True)
    if absent:  # after the row checks, which name a row
        raise SourceError(
            values_path,
            f"no rows for concept(s) {absent} in {start}-{end}; found {sorted(set(df['concept']))}",
            column="concept",
        )
    return Loaded(frame=frame, path=str(values_path), dropped=dropped)


def _concept_scales(values_path: Path, wanted: list[str]) -> Mapping[str, float]:
    """The scale of each concept: ``weo_concepts.csv`` beside the values, else :data:`WEO_SCALES`.

    Raises:
        ValueError: A requested concept has no known scale.
    """
    concepts_file = values_path.parent / CONCEPTS_FILE
    scales = read_weo_scales(concepts_file) if concepts_file.is_file() else WEO_SCALES
    no_scale = [c for c in wanted if c not in scales]
    if no_scale:
        raise ValueError(f"unknown WEO concept(s) {no_scale}; known: {sorted(scales)}")
    return scales


def _with_countries(df: pd.DataFrame, values_path: Path) -> tuple[pd.DataFrame, pd.Series]:
    """Rows with ``country`` (ISO3), numeric ``value`` and ``is_projection``; why a row is dropped.

    The reason is NaN for rows kept, else ``"IMF group"``, a legacy code's reason or
    ``"no value"``.

    Raises:
        SourceError: An unknown area code, or text in a number column.
    """
    group = df["ref_area"].astype(str).str.strip().str.upper().str.match(_GROUP.pattern)
    group = group.to_numpy(dtype=bool)
    iso3, reason = map_iso3(df["ref_area"])
    reason = reason.mask(group, "IMF group")
    raise_on_unknown(df, reason, "ref_area", values_path)
    df = df.assign(
        country=iso3,
        value=to_number(df, "value", values_path),
        is_projection=to_number(df, "is_projection", values_path, integer=True),
    )
    return df, reason.mask(df["value"].isna() & reason.isna(), "no value")


def _projection_flag(df: pd.DataFrame, path: Path) -> np.ndarray:
    """The 0/1 flag as bool; blanks derived from ``weo_series_meta.csv`` or an error."""
    flag = df["is_projection"]
    bad = (flag.notna() & ~flag.isin([0, 1])).to_numpy(dtype=bool)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise SourceError(
            path,
            f"expected 0, 1 or blank, found {flag.iloc[i]!r}",
            row=int(df[ROW].iloc[i]),
            column="is_projection",
        )
    blank = flag.isna().to_numpy(dtype=bool)
    if not blank.any():
        return flag.to_numpy(dtype=bool)
    last = _last_actual_years(path.parent / META_FILE)
    key = pd.MultiIndex.from_arrays([df["ref_area"].str.strip(), df["concept"]])
    last_year = last.reindex(key).to_numpy(dtype="float64")
    underivable = blank & np.isnan(last_year)
    if underivable.any():
        i = int(np.flatnonzero(underivable)[0])
        raise SourceError(
            path,
            f"is_projection is blank and {META_FILE} has no last_actual_year for "
            f"({df['ref_area'].iloc[i]}, {df['concept'].iloc[i]}); expected 0 or 1",
            row=int(df[ROW].iloc[i]),
            column="is_projection",
        )
    derived = df["year"].to_numpy(dtype="float64") > last_year
    return np.where(blank, derived, flag.fillna(0).to_numpy(dtype=bool))


def _last_actual_years(path: Path) -> pd.Series:
    """``last_actual_year`` by ``(ref_area, concept)``; empty when the file is absent."""
    if not path.is_file():
        index = pd.MultiIndex.from_arrays([[], []], names=["ref_area", "concept"])
        return pd.Series([], index=index, dtype="float64")
    meta = read_table(path, ["ref_area", "concept", "last_actual_year"])
    meta = meta.assign(
        ref_area=meta["ref_area"].str.strip(),
        last_actual_year=to_number(meta, "last_actual_year", path, integer=True),
    )
    check_unique(meta, ["ref_area", "concept"], path)
    return meta.set_index(["ref_area", "concept"])["last_actual_year"].astype("float64")


def weo_wide(frame: pd.DataFrame, columns: Mapping[str, str] = WEO_COLUMNS) -> pd.DataFrame:
    """Pivot :func:`load_weo`'s long frame to one row per country-year.

    ``is_projection`` is the projection flag of **real GDP growth** (``NGDP_RPCH``) for that
    country-year, because the growth series drives the forecasts; other concepts of the same
    row can have another last actual year (e.g. inflation one year earlier). It is ``<NA>``
    when the row has no ``NGDP_RPCH`` value. Concepts outside ``columns`` are ignored; a
    concept in ``columns`` that the frame lacks gives an all-NaN column.

    Args:
        frame: Output of :func:`load_weo` (``country, year, concept, value, is_projection``).
        columns: WEO concept -> output column (default :data:`WEO_COLUMNS`).

    Returns:
        ``country, year, <columns...>, is_projection`` (nullable ``boolean``), sorted, with a
        clean RangeIndex. The input is not modified.
    """
    missing = [
        c for c in ("country", "year", "concept", "value", "is_projection") if c not in frame
    ]
    if missing:
        raise ValueError(f"frame lacks column(s) {missing}; expected load_weo's output")
    sub = frame.loc[frame["concept"].isin(list(columns))]
    wide = sub.pivot(index=["country", "year"], columns="concept", values="value")
    wide = wide.reindex(columns=list(columns)).rename(columns=dict(columns))
    growth = sub.loc[sub["concept"] == "NGDP_RPCH"].set_index(["country", "year"])
    wide["is_projection"] = growth["is_projection"].reindex(wide.index).astype("boolean")
    wide.columns.name = None
    out = wide.sort_index().reset_index()
    return out.astype({"year": "int64"})
