"""IMF WEO Historical Forecasts: every spring and fall WEO's forecasts as published.

Two inputs make the ``weo_vintages`` table (one row per country, vintage, target, target year):

* ``imf_weo_vintages/weo_historical_forecasts.parquet`` (INDICATORS.md section 10): vintages
  S1990-F2024, real GDP growth (``ngdp_rpch``) and CPI inflation (``pcpi_pch``), horizons 0-5.5
  years, with first-release outturns ``tv_1``. The four groups (World, Advanced Economies,
  EMDEs, Euro area) have a blank ``ISOAlpha_3Code``; World is kept as ``WLD``, the other three
  are dropped and counted.
* ``imf_weo/weo_2025oct_values.csv`` (INDICATORS.md section 4): the October 2025 WEO, the
  newest vintage the project holds. Its ``NGDP_RPCH`` and ``PCPIPCH`` values for 2025-2030
  become vintage ``F2025`` (horizons 0-5, like every fall vintage); ``G001`` is World (``WLD``).
  Its actual 2024 values (``is_projection`` = 0) are, by definition, the outturns ``tv_1`` of
  target year 2024 (printed in the fall WEO one year later), which the historical file lacks.

``published`` is the documented approximate publication date: spring WEOs April 15 (May 15 in
1990-2001, when they came out in May), fall WEOs October 15. Rows of the Parquet file are named
by their 1-based record number (there is no header line).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from exportcast.features.sources._common import (
    ROW,
    Loaded,
    SourceError,
    check_unique,
    count_by,
    raise_first,
    raise_on_unknown,
    read_table,
    to_number,
)
from exportcast.features.sources.codes import map_iso3

__all__ = [
    "TARGETS",
    "VINTAGE_COLUMNS",
    "load_weo_latest_vintage",
    "load_weo_vintages",
    "published_date",
    "weo_vintages_table",
]

TARGETS = ("ngdp_rpch", "pcpi_pch")
WORLD = "WLD"
VINTAGE_COLUMNS = [
    "country",
    "vintage",
    "vintage_year",
    "season",
    "published",
    "target",
    "target_year",
    "prediction",
    "outturn",
]
_GROUPS = {
    "World": WORLD,
    "Advanced Economies": None,
    "Emerging Market and Developing Economies": None,
    "Euro area": None,
}
_REQUIRED = [
    "country",
    "ISOAlpha_3Code",
    "target",
    "forecast_year",
    "forecast_season",
    "target_year",
    "horizon",
    "prediction",
    "tv_1",
]
_WEO_CONCEPTS = {"NGDP_RPCH": "ngdp_rpch", "PCPIPCH": "pcpi_pch"}
_MAX_HORIZON = 5  # target_year - vintage_year


def published_date(
    vintage_year: pd.Series | np.ndarray, season: pd.Series | np.ndarray
) -> pd.Series:
    """Approximate publication date of WEO vintages (INDICATORS.md section 10).

    Spring (``S``): April 15, but May 15 in 1990-2001 (the spring WEO came out in May then).
    Fall (``F``): October 15 (some fall WEOs came out in late September; no as-of rule of the
    project falls between September and October 15, so the approximation cannot change which
    vintage an origin sees).

    Args:
        vintage_year: Years of the vintages.
        season: ``"S"`` or ``"F"`` per vintage.

    Returns:
        ``datetime64[ns]`` dates (a Series with a RangeIndex).
    """
    year = np.asarray(vintage_year, dtype="int64")
    season = np.asarray(season, dtype=object)
    month = np.where(season == "F", 10, np.where(year <= 2001, 5, 4))
    parts = pd.DataFrame({"year": year, "month": month, "day": 15})
    return pd.to_datetime(parts).astype("datetime64[ns]")


def _read_parquet(path: Path, required: list[str]) -> pd.DataFrame:
    if not path.is_file():
        raise SourceError(path, "file not found")
    try:
        df = pd.read_parquet(path)
    except Exception as exc:  # pyarrow raises several types for a file that is not Parquet
        raise SourceError(
            path, f"not a readable Parquet file ({type(exc).__name__}: {exc})"
        ) from exc
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise SourceError(
            path,
            f"missing column(s) {missing}; expected at least {required}, found {list(df.columns)}",
        )
    df = df[required].reset_index(drop=True)
    # Text in every column, so to_number can name a cell that is not a number.
    text = {c: df[c].astype("string").astype(object).where(df[c].notna(), None) for c in required}
    return pd.DataFrame(text).assign(**{ROW: np.arange(1, len(df) + 1)})


def _country(df: pd.DataFrame, path: Path) -> tuple[pd.Series, pd.Series]:
    """ISO3 per row (World -> WLD) and the reason a row is dropped (other groups)."""
    code = df["ISOAlpha_3Code"].fillna("").astype(str).str.strip()
    name = df["country"].fillna("").astype(str).str.strip()
    blank = (code == "").to_numpy(dtype=bool)
    unknown_group = blank & ~name.isin(list(_GROUPS)).to_numpy(dtype=bool)
    raise_first(
        df,
        unknown_group,
        path,
        "country",
        "blank ISOAlpha_3Code for {value!r}; expected an ISO3 code or one of the groups "
        + str(list(_GROUPS)),
    )
    iso3, reason = map_iso3(code.mask(blank, "XXX"))
    group = name.map(_GROUPS)
    iso3 = iso3.mask(blank, group)
    reason = reason.mask(blank, ("IMF group " + name).where(group.isna()))
    raise_on_unknown(df, reason, "ISOAlpha_3Code", path)
    return iso3, reason


def load_weo_vintages(path: str | Path) -> Loaded:
    """Load the WEO Historical Forecasts file as ``weo_vintages`` rows.

    Args:
        path: ``weo_historical_forecasts.parquet``.

    Returns:
        ``Loaded`` whose frame has :data:`VINTAGE_COLUMNS` (``prediction`` and ``outturn`` NaN
        where blank); ``dropped`` counts the three groups other than World.

    Raises:
        SourceError: File missing or not Parquet, missing columns, text in a number column, an
            unknown target, season or country code, a target year outside the vintage's 0-5
            years, a horizon that disagrees with vintage and target year, a growth rate at or
            below -100 % or infinite, or two rows for one country, vintage, target and year.
    """
    path = Path(path)
    df = _read_parquet(path, _REQUIRED)
    for col, allowed in (("target", TARGETS), ("forecast_season", ("S", "F"))):
        raise_first(
            df,
            ~df[col].isin(allowed),
            path,
            col,
            f"expected one of {list(allowed)}, found {{value!r}}",
        )
    year = to_number(df, "forecast_year", path, integer=True)
    target_year = to_number(df, "target_year", path, integer=True)
    horizon = to_number(df, "horizon", path)
    raise_first(df, year.isna(), path, "forecast_year", "expected a year, found a blank")
    raise_first(df, target_year.isna(), path, "target_year", "expected a year, found a blank")
    ahead = (target_year - year).astype("float64")
    raise_first(
        df,
        ~ahead.between(0, _MAX_HORIZON),
        path,
        "target_year",
        "target year {value} is not 0-5 years after the vintage year {forecast_year}",
    )
    expected = ahead + np.where(df["forecast_season"] == "S", 0.5, 0.0)
    raise_first(
        df,
        (horizon - expected).abs().gt(1e-9) | horizon.isna(),
        path,
        "horizon",
        "horizon {value} disagrees with the vintage {forecast_season}{forecast_year} and target "
        "year {target_year}; expected target_year - forecast_year (+ 0.5 in spring)",
    )
    values = _percent_changes(df, path)
    iso3, reason = _country(df, path)
    keep = reason.isna().to_numpy(dtype=bool)
    season = df["forecast_season"].astype(str)
    frame = pd.DataFrame(
        {
            "country": iso3.astype(object),
            "vintage": season + year.astype(str),
            "vintage_year": year.astype("int64"),
            "season": season,
            "target": df["target"].astype(str),
            "target_year": target_year.astype("int64"),
            "prediction": values["prediction"],
            "outturn": values["tv_1"],
            ROW: df[ROW],
        }
    ).loc[keep]
    frame, merged = _merge_spellings(frame, path)
    frame = frame.assign(
        published=published_date(frame["vintage_year"], frame["season"]).to_numpy()
    )
    dropped = count_by(reason.dropna())
    if merged:
        dropped["second spelling of a country, merged"] = merged
    return Loaded(frame=frame[[*VINTAGE_COLUMNS, ROW]], path=str(path), dropped=dropped)


def _percent_changes(df: pd.DataFrame, path: str | Path) -> dict[str, pd.Series]:
    """``prediction`` and ``tv_1`` (the outturn) as numbers: finite changes above -100 %.

    Raises:
        SourceError: Text in a number column, or an infinite change or one of -100 % or less.
    """
    values = {}
    for col in ("prediction", "tv_1"):
        v = to_number(df, col, path)
        raise_first(
            df,
            np.isinf(v) | (v <= -100),
            path,
            col,
            "expected a finite percentage change above -100, found {value} "
            "({country}, {target}, {forecast_season}{forecast_year}, {target_year})",
        )
        values[col] = v
    return values


def _merge_spellings(frame: pd.DataFrame, path: Path) -> tuple[pd.DataFrame, int]:
    """Merge the rows one country has under two spellings of its name.

    The file holds Turkey's CPI twice, as ``Turkey`` and as a mis-encoded ``Türkiye``, each
    cell filled in at most one of them. Two different values for one cell are an error.
    """
    key = ["country", "vintage", "target", "target_year"]
    dup = frame.duplicated(key, keep=False).to_numpy(dtype=bool)
    if not dup.any():
        return frame, 0
    rows = frame.loc[dup]
    groups = rows.groupby(key, sort=False)
    conflict = (groups[["prediction", "outturn"]].nunique() > 1).any(axis=1)
    if conflict.any():
        bad = rows.set_index(key).index.isin(conflict[conflict].index)
        first = rows.loc[bad].iloc[0]
        raise SourceError(
            path,
            f"duplicate key {dict(first[key])} with different values; expected one row per "
            f"{key}, or rows that fill different cells",
            row=int(first[ROW]),
        )
    merged = groups.first().reset_index()[rows.columns]  # first non-blank value per cell
    out = pd.concat([frame.loc[~dup], merged], ignore_index=True)
    return out, int(dup.sum() - len(merged))


def load_weo_latest_vintage(
    values_path: str | Path, *, vintage_year: int = 2025, season: str = "F"
) -> tuple[Loaded, pd.DataFrame]:
    """The October 2025 WEO as vintage ``F2025`` rows, and its 2024 actuals as outturns.

    Args:
        values_path: ``weo_2025oct_values.csv`` (``ref_area, concept, year, value,
            is_projection``).
        vintage_year: Year of the vintage (the WEO's edition).
        season: ``"F"`` (October) or ``"S"``.

    Returns:
        ``(loaded, outturns)``: ``loaded.frame`` has :data:`VINTAGE_COLUMNS` for target years
        ``vintage_year`` to ``vintage_year + 5`` (``outturn`` NaN: not yet published);
        ``outturns`` has ``country, target, target_year, outturn`` for year ``vintage_year - 1``
        where the value is an actual (``is_projection`` = 0). ``loaded.dropped`` counts IMF
        groups other than World and empty values.

    Raises:
        SourceError: Missing columns, text in number columns, an unknown area code, a
            percentage at or below -100, a duplicated area-concept-year, or no row of a concept.
    """
    values_path = Path(values_path)
    df = read_table(values_path, ["ref_area", "concept", "year", "value", "is_projection"])
    year = to_number(df, "year", values_path, integer=True)
    first, last = vintage_year - 1, vintage_year + _MAX_HORIZON
    keep = df["concept"].isin(list(_WEO_CONCEPTS)) & year.between(first, last).fillna(False)
    df = df.loc[keep.to_numpy(dtype=bool)].assign(year=year[keep.to_numpy(dtype=bool)])
    absent = sorted(set(_WEO_CONCEPTS) - set(df["concept"]))
    if absent:
        raise SourceError(
            values_path, f"no rows for concept(s) {absent} in {first}-{last}", column="concept"
        )
    code = df["ref_area"].astype(str).str.strip().str.upper()
    world = (code == "G001").to_numpy(dtype=bool)
    group = code.str.match(r"^GX?\d+$").to_numpy(dtype=bool) & ~world
    iso3, reason = map_iso3(code.mask(world | group, "XXX"))
    iso3 = iso3.mask(world, WORLD)
    reason = reason.mask(world, pd.NA).mask(group, "IMF group")
    raise_on_unknown(df, reason, "ref_area", values_path)
    value = to_number(df, "value", values_path)
    flag = to_number(df, "is_projection", values_path, integer=True)
    raise_first(
        df, np.isinf(value) | (value <= -100), values_path, "value",
        "expected a finite percentage change above -100, found {value} "
        "({ref_area}, {concept}, {year})",
    )  # fmt: skip
    reason = reason.mask(reason.isna() & value.isna(), "no value")
    df = df.assign(country=iso3, target=df["concept"].map(_WEO_CONCEPTS), value=value, flag=flag)
    df = df.loc[reason.isna().to_numpy(dtype=bool)]
    check_unique(df, ["country", "target", "year"], values_path)

    ahead = df.loc[df["year"] >= vintage_year]
    frame = pd.DataFrame(
        {
            "country": ahead["country"].astype(str),
            "vintage": f"{season}{vintage_year}",
            "vintage_year": vintage_year,
            "season": season,
            "published": published_date(
                [vintage_year] * len(ahead), [season] * len(ahead)
            ).to_numpy(),
            "target": ahead["target"].astype(str),
            "target_year": ahead["year"].astype("int64"),
            "prediction": ahead["value"].astype("float64"),
            "outturn": np.nan,
            ROW: ahead[ROW],
        }
    )
    actual = df.loc[(df["year"] == first) & (df["flag"] == 0)]
    outturns = pd.DataFrame(
        {
            "country": actual["country"].astype(str),
            "target": actual["target"].astype(str),
            "target_year": actual["year"].astype("int64"),
            "outturn": actual["value"].astype("float64"),
        }
    ).reset_index(drop=True)
    return Loaded(frame=frame, path=str(values_path), dropped=count_by(reason.dropna())), outturns


def weo_vintages_table(
    history: pd.DataFrame, latest: pd.DataFrame, latest_outturns: pd.DataFrame
) -> pd.DataFrame:
    """Combine the historical vintages, the newest vintage and its outturns into one table.

    Outturns missing from the history (target year = newest vintage year - 1) are filled from
    ``latest_outturns``; an outturn the history has is never overwritten.

    Args:
        history: :func:`load_weo_vintages` frame.
        latest: :func:`load_weo_latest_vintage` frame.
        latest_outturns: Its outturns.

    Returns:
        :data:`VINTAGE_COLUMNS`, sorted by country, target, publication date and target year.

    Raises:
        ValueError: The newest vintage is already in the history.
    """
    clash = set(latest["vintage"]) & set(history["vintage"])
    if clash:
        raise ValueError(f"vintage(s) {sorted(clash)} are in both inputs; expected a newer one")
    out = pd.concat([history[VINTAGE_COLUMNS], latest[VINTAGE_COLUMNS]], ignore_index=True)
    key = ["country", "target", "target_year"]
    fill = out[key].merge(latest_outturns, on=key, how="left")["outturn"].to_numpy()
    out["outturn"] = out["outturn"].fillna(pd.Series(fill, index=out.index))
    out = out.sort_values(["country", "target", "published", "target_year"], kind="mergesort")
    return out.reset_index(drop=True)
