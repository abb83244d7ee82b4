"""UN World Population Prospects 2024: age structure (via Gapminder) and population projections.

Two raw sources, both WPP 2024 (INDICATORS.md §2 and §3):

* ``gapminder_wpp/``: median age, total dependency ratio and population growth by Gapminder
  ``geo`` key, 1950-2100; years >= 2024 are WPP medium-variant projections (the files carry no
  flag, so :data:`PROJECTION_START` sets it).
* ``wpp2024/population_projections_2024_2100.csv``: total population with probabilistic 80 % and
  95 % bounds, 2024-2100, in **thousands** of persons in the file and in **persons** here.

Kosovo has no ISO3 in either file (Gapminder key ``kos``, UN M49 ``412``); it is mapped to the
World Bank code ``XKX`` that the project uses for Kosovo (see :mod:`features.sources.codes`).
"""

from __future__ import annotations

from collections.abc import Mapping
from itertools import pairwise
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
    raise_first,
    raise_on_unknown,
    read_table,
    to_number,
)
from exportcast.features.sources.codes import map_iso3

__all__ = [
    "GAPMINDER_FILES",
    "PROJECTION_START",
    "load_gapminder",
    "load_gapminder_geo",
    "load_wpp_population",
]

# First projection year of WPP 2024 (estimates run to 2023; INDICATORS.md §2).
PROJECTION_START = 2024

# Output column -> (file name, value column) of the Gapminder datapoint files.
GAPMINDER_FILES: Mapping[str, tuple[str, str]] = {
    "median_age": ("median_age_years.csv", "median_age_years"),
    "dependency_per_100": (
        "children_and_elderly_per_100_adults.csv",
        "children_and_elderly_per_100_adults",
    ),
    "pop_growth_pct": (
        "population_growth_annual_percent_with_projections.csv",
        "population_growth_annual_percent_with_projections",
    ),
}
_ENTITIES = "geo_entities.csv"
_ENTITY_KEY = "country"
_ENTITY_ISO3 = "iso3166_1_alpha3"
# Gapminder keys of real economies whose entity row has no ISO3 but that the project keeps.
_GEO_EXTRA: Mapping[str, str] = {"kos": "XKX"}
# Values that can legitimately be negative (population decline).
_SIGNED = frozenset({"pop_growth_pct"})

_WPP_BOUNDS = ["pop_95l", "pop_80l", "pop", "pop_80u", "pop_95u"]  # must be in this order
_WPP_REQUIRED = ["country_code", "iso3", "name", "location_type", "year", *_WPP_BOUNDS]
_WPP_COUNTRY_TYPE = 4
_WPP_M49_EXTRA: Mapping[int, str] = {412: "XKX"}  # Kosovo (under UNSC res. 1244)
_WPP_THOUSANDS = 1_000.0
# Largest plausible country population in the file's unit (thousands): India peaks near
# 1.7 billion = 1.7e6 thousand. A bigger value means the file is in persons, not thousands.
_WPP_MAX_THOUSANDS = 3.0e6


def _gapminder_entities(folder: Path) -> pd.DataFrame:
    """Gapminder ``geo`` key -> ISO3 (``<NA>`` where the entity has no ISO3), plus coordinates."""
    path = folder / _ENTITIES
    ent = read_table(path, [_ENTITY_KEY, _ENTITY_ISO3])
    ent = ent.assign(**{_ENTITY_KEY: ent[_ENTITY_KEY].str.strip().str.lower()})
    raise_first(ent, ent[_ENTITY_KEY].isna(), path, _ENTITY_KEY, "missing geo key")
    check_unique(ent, [_ENTITY_KEY], path)
    iso3, reason = map_iso3(ent[_ENTITY_ISO3])
    raise_on_unknown(ent, reason, _ENTITY_ISO3, path)
    extra = ent[_ENTITY_KEY].map(_GEO_EXTRA)
    iso3 = iso3.where(iso3.notna() | extra.isna(), extra)
    ent = ent.assign(iso3=iso3)
    check_unique(ent.loc[ent["iso3"].notna()], ["iso3"], path)
    return ent


def _gapminder_series(folder: Path, out: str, start: int, end: int) -> pd.DataFrame:
    """One Gapminder datapoint file as ``geo, year, <out>, _row`` (years ``start..end``)."""
    name, value = GAPMINDER_FILES[out]
    path = folder / name
    df = read_table(path, ["geo", "time", value])
    df = df.assign(
        geo=df["geo"].str.strip().str.lower(),
        year=to_number(df, "time", path, integer=True),
        **{value: to_number(df, value, path)},
    )
    raise_first(df, df["geo"].isna(), path, "geo", "missing geo key")
    raise_first(df, df["year"].isna(), path, "time", "missing year")
    if out in _SIGNED:
        infinite = np.isinf(df[value].to_numpy(dtype="float64"))
        raise_first(df, infinite, path, value, "expected a finite number, found {value!r}")
    else:
        check_finite_nonnegative(df, value, path)
    check_unique(df, ["geo", "year"], path)
    keep = df["year"].between(start, end).fillna(False).to_numpy(dtype=bool)
    return df.loc[keep, ["geo", "year", value, ROW]].rename(
        columns={value: out, ROW: f"{ROW}_{out}"}
    )


def load_gapminder(folder: str | Path, *, start: int = 1980, end: int = 2030) -> Loaded:
    """Load WPP 2024 median age, dependency ratio and population growth (Gapminder files).

    Args:
        folder: The ``gapminder_wpp/`` folder (three datapoint files plus ``geo_entities.csv``).
        start: First year kept.
        end: Last year kept (WPP runs to 2100).

    Returns:
        ``frame`` with one row per country-year: ``country`` (ISO3), ``year``, ``median_age``
        (years), ``dependency_per_100`` (persons aged 0-14 and 65+ per 100 aged 15-64),
        ``pop_growth_pct`` (annual %), ``is_projection`` (``year >= 2024``: WPP medium
        variant). A value missing in one file is NaN. ``dropped`` counts country-years of
        Gapminder entities with no ISO3, by ``geo`` key (e.g. ``"no ISO3 (geo abkh)"``).

    Raises:
        SourceError: A file or column is missing, a value is not a number, a median age or
            dependency ratio is negative, a (geo, year) repeats, a ``geo`` key is not in
            ``geo_entities.csv``, or two geo keys map to the same ISO3.
    """
    folder = Path(folder)
    entities = _gapminder_entities(folder)
    frames = [_gapminder_series(folder, out, start, end) for out in GAPMINDER_FILES]
    for out, df in zip(GAPMINDER_FILES, frames, strict=True):
        unknown = ~df["geo"].isin(entities[_ENTITY_KEY])
        raise_first(
            df.rename(columns={f"{ROW}_{out}": ROW}),
            unknown,
            folder / GAPMINDER_FILES[out][0],
            "geo",
            f"geo key {{value!r}} is not in {_ENTITIES}",
        )
    wide = frames[0]
    for df in frames[1:]:
        wide = wide.merge(df, on=["geo", "year"], how="outer")
    wide = wide.merge(entities[[_ENTITY_KEY, "iso3"]], left_on="geo", right_on=_ENTITY_KEY)
    no_iso = wide["iso3"].isna()
    dropped = count_by("no ISO3 (geo " + wide.loc[no_iso, "geo"] + ")")
    wide = wide.loc[~no_iso]
    year = wide["year"].astype("int64").to_numpy()
    frame = pd.DataFrame(
        {
            "country": wide["iso3"].astype(str).to_numpy(),
            "year": year,
            **{out: wide[out].to_numpy(dtype="float64") for out in GAPMINDER_FILES},
            "is_projection": year >= PROJECTION_START,
        }
    )
    frame = frame.sort_values(["country", "year"], ignore_index=True)
    return Loaded(frame=frame, path=str(folder), dropped=dropped)


def load_gapminder_geo(folder: str | Path) -> Loaded:
    """Load Gapminder's country centroids (``geo_entities.csv``) for great-circle fallbacks.

    CEPII GeoDist lacks Serbia, Montenegro, South Sudan and Curaçao; Gapminder has a point for
    each (a centroid, or the capital for some). Kosovo has neither an ISO3 nor coordinates here.

    Args:
        folder: The ``gapminder_wpp/`` folder.

    Returns:
        ``frame``: ``country`` (ISO3), ``geo`` (Gapminder key), ``name``, ``lat``, ``lon``
        (decimal degrees), one row per entity with an ISO3 and both coordinates. ``dropped``
        counts entities without ISO3 and without coordinates.

    Raises:
        SourceError: Missing column, non-numeric or out-of-range coordinates, an unknown ISO3.
    """
    folder = Path(folder)
    path = folder / _ENTITIES
    ent = _gapminder_entities(folder)
    for col in ("name", "latitude", "longitude"):
        if col not in ent.columns:
            raise SourceError(path, f"missing column ['{col}']")
    lat = to_number(ent, "latitude", path)
    lon = to_number(ent, "longitude", path)
    raise_first(ent, lat.abs() > 90, path, "latitude", "latitude {value!r} outside -90..90")
    raise_first(ent, lon.abs() > 180, path, "longitude", "longitude {value!r} outside -180..180")
    no_iso = ent["iso3"].isna()
    no_point = ~no_iso & (lat.isna() | lon.isna())
    counts = {"no ISO3": int(no_iso.sum()), "no coordinates": int(no_point.sum())}
    dropped = {k: v for k, v in counts.items() if v}
    keep = ~(no_iso | no_point)
    frame = pd.DataFrame(
        {
            "country": ent.loc[keep, "iso3"].astype(str).to_numpy(),
            "geo": ent.loc[keep, _ENTITY_KEY].to_numpy(),
            "name": ent.loc[keep, "name"].to_numpy(),
            "lat": lat[keep].to_numpy(dtype="float64"),
            "lon": lon[keep].to_numpy(dtype="float64"),
        }
    ).sort_values("country", ignore_index=True)
    return Loaded(frame=frame, path=str(path), dropped=dropped)


def load_wpp_population(path: str | Path, *, start: int = 2024, end: int = 2030) -> Loaded:
    """Load WPP 2024 population projections by country, in persons.

    Args:
        path: ``wpp2024/population_projections_2024_2100.csv`` (values in thousands).
        start: First year kept.
        end: Last year kept.

    Returns:
        ``frame``: ``country`` (ISO3), ``year``, ``pop`` (medium variant, persons, 1 July),
        ``pop_80l``, ``pop_80u``, ``pop_95l``, ``pop_95u`` (probabilistic 80 % / 95 % bounds,
        persons). Only ``location_type == 4`` (countries and areas); Kosovo (M49 412, no ISO3
        in the file) is mapped to ``XKX``. ``dropped`` counts rows of aggregates
        (``"aggregate (location_type != 4)"``) and countries still without ISO3.

    Raises:
        SourceError: Missing column, text in a number column, negative population, bounds out
            of order (95l <= 80l <= pop <= 80u <= 95u), a duplicate country-year, an unknown
            ISO3, or values too large to be thousands (file in persons).
    """
    df = read_table(path, _WPP_REQUIRED)
    numbers = {c: to_number(df, c, path) for c in _WPP_BOUNDS}
    df = df.assign(
        location_type=to_number(df, "location_type", path, integer=True),
        year=to_number(df, "year", path, integer=True),
        country_code=to_number(df, "country_code", path, integer=True),
        **numbers,
    )
    raise_first(df, df["year"].isna(), path, "year", "missing year")
    raise_first(df, df["location_type"].isna(), path, "location_type", "missing location type")
    keep = df["year"].between(start, end).fillna(False).to_numpy(dtype=bool)
    df = df.loc[keep]
    is_country = (df["location_type"] == _WPP_COUNTRY_TYPE).to_numpy(dtype=bool)
    dropped: dict[str, int] = {}
    if (~is_country).any():
        dropped["aggregate (location_type != 4)"] = int((~is_country).sum())
    df = df.loc[is_country]

    extra = df["country_code"].map(_WPP_M49_EXTRA)
    raw_iso = df["iso3"].where(df["iso3"].notna(), extra)
    iso3, reason = map_iso3(raw_iso)
    raise_on_unknown(df.assign(iso3=raw_iso), reason, "iso3", path)
    dropped.update(count_by(reason.dropna() + " (" + df.loc[reason.notna(), "name"] + ")"))
    df = df.assign(country=iso3).loc[iso3.notna()]

    for c in sorted(_WPP_BOUNDS, key=lambda c: c != "pop"):  # "pop" first
        raise_first(df, df[c].isna(), path, c, "missing population value")
        check_finite_nonnegative(df, c, path)
        raise_first(
            df,
            df[c] > _WPP_MAX_THOUSANDS,
            path,
            c,
            "population {value!r} is too large for thousands of persons "
            "(is the file in persons?); expected the WPP unit, thousands",
        )
    for lo, hi in pairwise(_WPP_BOUNDS):
        raise_first(
            df, df[lo] > df[hi], path, lo, f"{lo} = {{value!r}} is above {hi}; bounds out of order"
        )
    check_unique(df, ["country", "year"], path)

    frame = pd.DataFrame(
        {
            "country": df["country"].astype(str).to_numpy(),
            "year": df["year"].astype("int64").to_numpy(),
            **{c: df[c].to_numpy(dtype="float64") * _WPP_THOUSANDS for c in _WPP_BOUNDS[::-1]},
        }
    )
    frame = frame[["country", "year", "pop", "pop_80l", "pop_80u", "pop_95l", "pop_95u"]]
    return Loaded(
        frame=frame.sort_values(["country", "year"], ignore_index=True),
        path=str(path),
        dropped=dropped,
    )
