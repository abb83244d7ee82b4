"""CEPII GeoDist: bilateral distances and dummies, and country geography (INDICATORS.md §5).

Cite Mayer & Zignago (2011), CEPII WP 2011-25. GeoDist is static (one value per pair) and uses
2011 country codes: ``ROM``, ``ZAR``, ``TMP`` and ``PAL`` are mapped to ``ROU``, ``COD``, ``TLS``
and ``PSE``; ``YUG`` (Serbia and Montenegro) and ``ANT`` (Netherlands Antilles) cannot be mapped to
one current economy and are dropped. South Sudan, Montenegro, Serbia, Kosovo and Curaçao are
therefore absent; :func:`fill_missing_pairs` adds great-circle distances for such pairs.

Distance measures in the file (all km):

* ``dist``: great circle between the most populated cities. The numbers usually quoted for
  GeoDist (KOR-CHN 956, KOR-KHM 3,629, KOR-USA 11,066 km) are this measure.
* ``distcap``: great circle between capitals.
* ``distw``: population-weighted average over city pairs (θ = 1, Head & Mayer). Missing for
  every pair involving CCK, CXR, MAC, MSR or PCN.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from exportcast.features.sources._common import (
    ROW,
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
    "EARTH_RADIUS_KM",
    "combine_points",
    "fill_missing_pairs",
    "great_circle_km",
    "load_cepii_distances",
    "load_cepii_geo",
]

# Mean Earth radius (IUGG). CEPII's own great-circle distances are about 0.09 % longer (they
# imply a radius near 6,377 km), far below the precision a gravity model can use.
EARTH_RADIUS_KM = 6371.0088

# Output column -> raw 0/1 dummy column.
_DUMMIES = {
    "contiguous": "contig",
    "common_language": "comlang_off",
    "colony": "colony",
    "same_country": "smctry",
}
_DISTANCES = ["dist", "distcap", "distw"]
_DIST_REQUIRED = ["iso_o", "iso_d", *_DUMMIES.values(), *_DISTANCES]
_GEO_REQUIRED = ["iso3", "landlocked", "continent", "lat", "lon", "cap"]
_NO_CONTINENT = "No"  # geo_cepii.csv writes "No" for the French Southern Territories (ATF)


def _dummy(df: pd.DataFrame, column: str, path: str | Path) -> pd.Series:
    """Parse a 0/1 column; anything else (including blank) is an error naming the row."""
    values = to_number(df, column, path, integer=True)
    raise_first(
        df, ~values.isin([0, 1]).fillna(False), path, column, "expected 0 or 1, found {value!r}"
    )
    return values.astype("int8")


def load_cepii_distances(path: str | Path) -> Loaded:
    """Load CEPII GeoDist bilateral distances and gravity dummies.

    Args:
        path: ``cepii_geodist/dist_cepii.csv``.

    Returns:
        ``frame`` with one row per ordered pair of different countries: ``reporter``,
        ``partner`` (ISO3; ``iso_o``, ``iso_d`` in the file), ``distance_km`` (``distw``,
        population-weighted; ``dist`` where ``distw`` is missing), ``dist_km`` (``dist``, most
        populated cities: the commonly quoted GeoDist figure), ``distcap_km`` (capitals),
        ``contiguous``, ``common_language`` (common official language, ``comlang_off``),
        ``colony`` (ever a colonial link), ``same_country`` (were the same country); the four
        dummies are int8 0/1. Pairs are symmetric in the file, so both orders are present.
        ``dropped`` counts own pairs (``i == i``) and pairs with a dissolved code (YUG, ANT).

    Raises:
        SourceError: Missing column, text in a number column, a dummy that is not 0/1, a
            distance that is missing or not positive, an unknown code, or a repeated pair.
    """
    df = read_table(path, _DIST_REQUIRED)
    dummies = {out: _dummy(df, raw, path) for out, raw in _DUMMIES.items()}
    dist = {c: to_number(df, c, path) for c in _DISTANCES}
    df = df.assign(**dist)
    for c in _DISTANCES:
        must_have = c != "distw"
        missing = df[c].isna() if must_have else pd.Series(False, index=df.index)
        raise_first(df, missing, path, c, "missing distance")
        bad = (~(df[c] > 0) & df[c].notna()) | np.isinf(df[c].to_numpy(dtype="float64"))
        raise_first(df, bad, path, c, "expected a positive, finite distance in km, found {value!r}")

    raw_o = df["iso_o"].astype("string").str.strip().str.upper()
    raw_d = df["iso_d"].astype("string").str.strip().str.upper()
    own = (raw_o == raw_d).fillna(False).to_numpy(dtype=bool)
    reporter, reason_o = map_iso3(df["iso_o"])
    partner, reason_d = map_iso3(df["iso_d"])
    raise_on_unknown(df, reason_o, "iso_o", path)
    raise_on_unknown(df, reason_d, "iso_d", path)
    reason = reason_o.fillna(reason_d)
    dropped = count_by(reason[~own & reason.notna()])
    if own.any():
        dropped["own pair (i == i)"] = int(own.sum())
    keep = ~own & reason.isna().to_numpy(dtype=bool)
    out = pd.DataFrame(
        {
            "reporter": reporter[keep].astype(str).to_numpy(),
            "partner": partner[keep].astype(str).to_numpy(),
            "distance_km": df.loc[keep, "distw"].fillna(df.loc[keep, "dist"]).to_numpy(),
            "dist_km": df.loc[keep, "dist"].to_numpy(dtype="float64"),
            "distcap_km": df.loc[keep, "distcap"].to_numpy(dtype="float64"),
            **{k: v[keep].to_numpy(dtype="int8") for k, v in dummies.items()},
            ROW: df.loc[keep, ROW].to_numpy(),
        }
    )
    check_unique(out, ["reporter", "partner"], path)
    frame = out.drop(columns=ROW).sort_values(["reporter", "partner"], ignore_index=True)
    return Loaded(frame=frame, path=str(path), dropped=dropped)


def load_cepii_geo(path: str | Path) -> Loaded:
    """Load CEPII country geography: one point per country (its capital where flagged).

    Args:
        path: ``cepii_geodist/geo_cepii.csv``.

    Returns:
        ``frame``: ``country`` (ISO3), ``landlocked`` (int8 0/1), ``continent`` (Africa,
        America, Asia, Europe, Pacific; ``NaN`` for ATF, written "No" in the file), ``lat``,
        ``lon`` (decimal degrees of the ``cap == 1`` city, else of the country's first row).
        Some countries have a second row (main city, or ``cap == 2`` for a second capital
        such as Cotonou); ``dropped`` counts those rows and the rows of dissolved codes.

    Raises:
        SourceError: Missing column, text in a number column, coordinates out of range,
            ``landlocked`` not 0/1, an unknown code, or two ``cap == 1`` rows for one country.
    """
    df = read_table(path, _GEO_REQUIRED)
    landlocked = _dummy(df, "landlocked", path)
    lat = to_number(df, "lat", path)
    lon = to_number(df, "lon", path)
    cap = to_number(df, "cap", path, integer=True)
    df = df.assign(landlocked=landlocked, lat=lat, lon=lon, cap=cap)
    for c, lim in (("lat", 90), ("lon", 180)):
        bad = df[c].isna() | (df[c].abs() > lim)
        raise_first(df, bad, path, c, f"expected a coordinate in -{lim}..{lim}, found {{value!r}}")
    country, reason = map_iso3(df["iso3"])
    raise_on_unknown(df, reason, "iso3", path)
    df = df.assign(country=country)
    dropped = count_by(reason.dropna())
    df = df.loc[reason.isna().to_numpy(dtype=bool)]
    check_unique(df.loc[(df["cap"] == 1).fillna(False).to_numpy(dtype=bool)], ["country"], path)

    # cap == 1 first, then file order; keep one row per country.
    rank = np.where((df["cap"] == 1).fillna(False), 0, 1)
    df = df.assign(_rank=rank).sort_values(["country", "_rank", ROW], kind="stable")
    first = ~df.duplicated("country", keep="first")
    n_extra = int((~first).sum())
    if n_extra:
        dropped["second city of a country"] = n_extra
    df = df.loc[first]
    continent = df["continent"].str.strip()
    frame = pd.DataFrame(
        {
            "country": df["country"].astype(str).to_numpy(),
            "landlocked": df["landlocked"].to_numpy(dtype="int8"),
            "continent": continent.where(continent != _NO_CONTINENT).to_numpy(),
            "lat": df["lat"].to_numpy(dtype="float64"),
            "lon": df["lon"].to_numpy(dtype="float64"),
        }
    )
    return Loaded(
        frame=frame.sort_values("country", ignore_index=True), path=str(path), dropped=dropped
    )


def great_circle_km(
    lat1: np.ndarray | float,
    lon1: np.ndarray | float,
    lat2: np.ndarray | float,
    lon2: np.ndarray | float,
) -> np.ndarray:
    """Great-circle (haversine) distance in km on a sphere of radius :data:`EARTH_RADIUS_KM`.

    Args:
        lat1: Latitude of the first point(s), decimal degrees.
        lon1: Longitude of the first point(s), decimal degrees.
        lat2: Latitude of the second point(s), decimal degrees.
        lon2: Longitude of the second point(s), decimal degrees.

    Returns:
        Distances in km (array; broadcast like numpy).
    """
    p1, l1, p2, l2 = (np.radians(np.asarray(x, dtype="float64")) for x in (lat1, lon1, lat2, lon2))
    h = np.sin((p2 - p1) / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin((l2 - l1) / 2) ** 2
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0)))


def combine_points(*tables: pd.DataFrame) -> pd.DataFrame:
    """Stack ``country, lat, lon`` tables; for a country in several, the first table wins.

    Typical use: CEPII capitals first, Gapminder points (:func:`load_gapminder_geo` in
    :mod:`features.sources.demography`) for the countries CEPII lacks (SRB, MNE, SSD, CUW...).

    Args:
        *tables: Frames with at least ``country``, ``lat``, ``lon`` (decimal degrees).

    Returns:
        ``country, lat, lon, point_source`` (index of the table each point came from), one row
        per country, sorted by country.
    """
    parts = [t[["country", "lat", "lon"]].assign(point_source=i) for i, t in enumerate(tables)]
    if not parts:
        return pd.DataFrame(columns=["country", "lat", "lon", "point_source"])
    out = pd.concat(parts, ignore_index=True).dropna(subset=["lat", "lon"])
    out = out.drop_duplicates("country", keep="first")
    return out.sort_values("country", ignore_index=True)


def fill_missing_pairs(
    pairs: pd.DataFrame,
    geo_points: pd.DataFrame,
    reporters: Iterable[str],
    partners: Iterable[str],
    *,
    on_missing: Literal["warn", "raise", "skip"] = "warn",
) -> pd.DataFrame:
    """Add great-circle distances for (reporter, partner) pairs that CEPII lacks.

    Pure function (no I/O). Pairs already in ``pairs`` keep their CEPII values; every other
    pair of ``reporters`` x ``partners`` with reporter != partner gets ``distance_km``,
    ``dist_km`` and ``distcap_km`` all set to the haversine distance between the two points of
    ``geo_points`` (so the meaning of the point, capital or centroid, carries over) and the
    dummies set to ``<NA>`` (unknown, not 0).

    Args:
        pairs: Frame from :func:`load_cepii_distances` (needs ``reporter``, ``partner``,
            ``distance_km``; other columns are carried).
        geo_points: ``country, lat, lon`` (decimal degrees), one row per country, e.g. CEPII
            capitals from :func:`load_cepii_geo` completed with Gapminder points
            (:func:`features.sources.demography.load_gapminder_geo`).
        reporters: ISO3 codes of reporters wanted.
        partners: ISO3 codes of partners wanted.
        on_missing: What to do with a missing pair whose country has no point in
            ``geo_points``: ``"warn"`` (default: leave the pair out and emit a
            :class:`UserWarning` naming the countries), ``"raise"``, or ``"skip"`` (silently).
            In the raw data XKX, BES, BLM, MAF, BVT, HMD, SGS and UMI have no coordinates in
            either CEPII or Gapminder.

    Returns:
        All rows of ``pairs`` plus the new ones, with ``distance_source`` = ``"cepii"`` or
        ``"great_circle"``; dummies become nullable ``Int8``. Sorted by reporter, partner.

    Raises:
        ValueError: ``geo_points`` repeats a country, or (``on_missing="raise"``) lacks one.
        UserWarning: Issued (``on_missing="warn"``) for countries without a point.
    """
    if geo_points["country"].duplicated().any():
        dup = sorted(geo_points.loc[geo_points["country"].duplicated(), "country"].unique())
        raise ValueError(f"geo_points has more than one row for {dup}")
    wanted = pd.MultiIndex.from_product(
        [sorted(set(reporters)), sorted(set(partners))], names=["reporter", "partner"]
    ).to_frame(index=False)
    wanted = wanted.loc[wanted["reporter"] != wanted["partner"]]
    have = pd.MultiIndex.from_frame(pairs[["reporter", "partner"]])
    todo = wanted.loc[~pd.MultiIndex.from_frame(wanted).isin(have)]
    points = geo_points.dropna(subset=["lat", "lon"]).set_index("country")[["lat", "lon"]]
    no_point = sorted(set(todo["reporter"]).union(todo["partner"]) - set(points.index))
    if no_point:
        message = f"no coordinates in geo_points for {no_point}: their missing pairs are left out"
        if on_missing == "raise":
            raise ValueError(f"{message}; add points or pass on_missing='skip'")
        if on_missing == "warn":
            warnings.warn(message, UserWarning, stacklevel=2)
    todo = todo.loc[todo["reporter"].isin(points.index) & todo["partner"].isin(points.index)]
    a = points.loc[todo["reporter"]].to_numpy(dtype="float64")
    b = points.loc[todo["partner"]].to_numpy(dtype="float64")
    km = great_circle_km(a[:, 0], a[:, 1], b[:, 0], b[:, 1])
    extra = {c: km for c in ("dist_km", "distcap_km") if c in pairs.columns}
    new = todo.assign(distance_km=km, **extra, distance_source="great_circle")
    out = pairs.assign(distance_source="cepii")
    if len(new):
        out = pd.concat([out, new], ignore_index=True)
    out = out.astype({c: "Int8" for c in _DUMMIES if c in out.columns})
    return out.sort_values(["reporter", "partner"], ignore_index=True)
