"""IMF World Economic Outlook from the IMF SDMX API (dataflow ``IMF.RES/WEO``, latest version).

Pure parsing: response bytes in, a checked :class:`WeoRelease` out. The body is SDMX
StructureSpecificData XML (SDMX 3.0 from ``api.imf.org/external/sdmx/3.0``; the SDMX 2.1 layout
of the recorded October 2025 answer, ``tests/data/fixtures/api/imf/weo_sdmx21_*``, parses the
same way): ``Series`` elements with ``COUNTRY``, ``INDICATOR``, ``FREQUENCY`` and ``Obs``
children with ``TIME_PERIOD`` and ``OBS_VALUE``.

Traps handled:

- ``OBS_VALUE`` is already in the unit of the series (USD for ``NGDPD``, persons for ``LP``);
  the ``SCALE`` attribute (``9``, ``6``) describes presentation and is **never** applied.
  The ``weo_2025oct_values.csv`` file, by contrast, stores values divided by the scale; the
  adapter ``features/sources/weo.py`` multiplies them back, so both end in base units.
- ``COUNTRY`` is ISO3 for economies, ``G001`` for the World (kept as ``WLD``, as in the
  ``weo_vintages`` table) and ``G110``/``GX123``... for other IMF groups (dropped and counted);
  Kosovo ``KOS`` and West Bank and Gaza ``WBG`` are mapped like the file adapter does.
- The vintage is the dataset's ``PUBLICATION_DATE`` (``2025-10-14`` -> ``F2025``; a month
  before July is a spring WEO, ``S``). Its ``published`` date in the ``weo_vintages`` table
  follows the table's convention (:func:`features.sources.weo_vintages.published_date`).
- ``LATEST_ACTUAL_ANNUAL_DATA`` (on the country-indicator group, or the series) marks the
  years after it as projections; without it a series' ``is_projection`` is unknown (``<NA>``).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import pandas as pd

from exportcast.features.sources._common import SourceError, count_by
from exportcast.features.sources.codes import map_iso3
from exportcast.features.sources.weo import DEFAULT_CONCEPTS, is_imf_group

__all__ = [
    "WEO_UNITS",
    "WORLD",
    "WeoRelease",
    "parse_weo_xml",
    "vintage_of",
]

# Expected UNIT per concept when the answer states one (IMF codes: PT percent, USD).
WEO_UNITS: dict[str, str] = {
    "NGDP_RPCH": "PT",
    "NGDPD": "USD",
    "NGDPDPC": "USD",
    "TM_RPCH": "PT",
    "PCPIPCH": "PT",
}
_LEVELS = frozenset({"NGDPD", "NGDPDPC", "LP"})  # amounts: never negative
_GROWTH = frozenset({"NGDP_RPCH", "TM_RPCH", "PCPIPCH"})  # % change: above -100
WORLD_CODE, WORLD = "G001", "WLD"  # the World is kept (weo_vintages has it); other groups dropped
_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})")


@dataclass(frozen=True)
class WeoRelease:
    """One WEO vintage as fetched.

    Attributes:
        values: ``country, year, concept, value, is_projection`` (base units; ``is_projection``
            nullable boolean), sorted.
        vintage: ``S<year>`` or ``F<year>``.
        vintage_year: The WEO's edition year.
        season: ``S`` (spring, April) or ``F`` (fall, October).
        publication_date: The dataset's ``PUBLICATION_DATE`` as given (``YYYY-MM-DD``).
        name: The request (without keys), for messages.
        dropped: Rows left out, by reason (IMF groups, empty values).
    """

    values: pd.DataFrame
    vintage: str
    vintage_year: int
    season: str
    publication_date: str
    name: str
    dropped: Mapping[str, int] = field(default_factory=dict)


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _attr(element: ET.Element, key: str) -> str | None:
    """An SDMX attribute: an XML attribute (2.1, 3.0 series) or a ``Comp`` child (3.0)."""
    value = element.get(key)
    if value is not None:
        return value
    for child in element:
        if _local(child.tag) == "Comp" and child.get("id") == key:
            for v in child:
                if _local(v.tag) == "Value":
                    return (v.text or "").strip()
    return None


def vintage_of(publication_date: str, name: str) -> tuple[str, int, str]:
    """``"2025-10-14..."`` -> ``("F2025", 2025, "F")``; before July is a spring WEO.

    Raises:
        SourceError: Not a ``YYYY-MM-DD`` date.
    """
    m = _DATE.match(publication_date.strip())
    if not m:
        raise SourceError(
            name, f"PUBLICATION_DATE {publication_date!r}; expected YYYY-MM-DD",
            column="PUBLICATION_DATE",
        )  # fmt: skip
    year, month = int(m.group(1)), int(m.group(2))
    season = "S" if month < 7 else "F"
    return f"{season}{year}", year, season


def _publication(root: ET.Element, name: str) -> str:
    for ds in root.iter():
        if _local(ds.tag) == "DataSet":
            found = _attr(ds, "PUBLICATION_DATE")
            if found:
                return found
    raise SourceError(
        name, "no PUBLICATION_DATE on the DataSet; expected the WEO edition's publication date "
        "(it decides the vintage)", column="PUBLICATION_DATE",
    )  # fmt: skip


def _group_attrs(root: ET.Element) -> tuple[dict, dict]:
    """UNIT by indicator and LATEST_ACTUAL_ANNUAL_DATA by (country, indicator), from Groups."""
    units, last = {}, {}
    for g in root.iter():
        if _local(g.tag) != "Group":
            continue
        indicator, country = g.get("INDICATOR"), g.get("COUNTRY")
        unit = _attr(g, "UNIT")
        if indicator and unit and not country:
            units[indicator] = unit
        actual = _attr(g, "LATEST_ACTUAL_ANNUAL_DATA")
        if indicator and country and actual:
            last[(country, indicator)] = actual
    return units, last


def _year(text: str | None, what: str, name: str, i: int, column: str) -> int:
    try:
        return int(str(text)[:4])
    except ValueError:
        raise SourceError(
            name, f"series {i}: {column} {text!r} ({what}); expected a year", column=column
        ) from None


def _series_rows(
    s: ET.Element, i: int, name: str, wanted: frozenset[str], units: dict, last: dict
) -> list[tuple]:
    indicator, country = s.get("INDICATOR"), s.get("COUNTRY")
    for key, value in (("COUNTRY", country), ("INDICATOR", indicator)):
        if not value:
            raise SourceError(
                name, f"series {i} has no {key}; expected COUNTRY.INDICATOR.FREQUENCY keys",
                column=key,
            )  # fmt: skip
    if indicator not in wanted:
        return []
    if s.get("FREQUENCY", "A") != "A":
        raise SourceError(
            name, f"series {i} ({country} {indicator}): FREQUENCY {s.get('FREQUENCY')!r}; "
            "expected 'A'", column="FREQUENCY",
        )  # fmt: skip
    unit = _attr(s, "UNIT") or units.get(indicator)
    expected = WEO_UNITS.get(str(indicator))
    if unit and expected and unit != expected:
        raise SourceError(
            name, f"series {i} ({country} {indicator}): UNIT {unit!r}; expected {expected!r}",
            column="UNIT",
        )  # fmt: skip
    actual = _attr(s, "LATEST_ACTUAL_ANNUAL_DATA") or last.get((country, indicator))
    last_year = None if actual is None else _year(actual, country, name, i, "LATEST_ACTUAL")
    rows = []
    obs_all = [o for o in s if _local(o.tag) == "Obs"]
    if obs_all and all(_attr(o, "OBS_VALUE") is None for o in obs_all):
        raise SourceError(
            name, f"series {i} ({country} {indicator}): no Obs has OBS_VALUE (attributes "
            f"{sorted(obs_all[0].attrib)}); expected OBS_VALUE (renamed?)", column="OBS_VALUE",
        )  # fmt: skip
    for obs in obs_all:
        text = _attr(obs, "OBS_VALUE")  # an Obs without it is a missing value
        year = _year(obs.get("TIME_PERIOD"), f"{country} {indicator}", name, i, "TIME_PERIOD")
        try:
            value = float(text) if text not in (None, "", "NaN", "NA") else None
        except ValueError:
            raise SourceError(
                name, f"series {i} ({country} {indicator}) {year}: OBS_VALUE {text!r}; "
                "expected a number", column="OBS_VALUE",
            ) from None  # fmt: skip
        projection = None if last_year is None else year > last_year
        rows.append((country, indicator, year, value, projection, i))
    return rows


def _check_values(df: pd.DataFrame, name: str) -> None:
    level = df["concept"].isin(list(_LEVELS)) & (df["value"] < 0)
    growth = df["concept"].isin(list(_GROWTH)) & (df["value"] <= -100)
    bad = (level | growth).to_numpy(dtype=bool)
    if bad.any():
        r = df.loc[bad].iloc[0]
        raise SourceError(
            name, f"series {int(r['series'])} ({r['country']} {r['concept']}) {int(r['year'])}: "
            f"OBS_VALUE {r['value']!r}; expected a non-negative amount or a percentage change "
            "above -100", column="OBS_VALUE",
        )  # fmt: skip
    dup = df.duplicated(["country", "concept", "year"]).to_numpy(dtype=bool)
    if dup.any():
        r = df.loc[dup].iloc[0]
        raise SourceError(
            name, f"series {int(r['series'])}: {r['country']} {r['concept']} {int(r['year'])} "
            "appears twice; expected one value per country, indicator and year",
            column="TIME_PERIOD",
        )  # fmt: skip


def parse_weo_xml(body: bytes, name: str, concepts: Iterable[str] = DEFAULT_CONCEPTS) -> WeoRelease:
    """The WEO concepts the features use, from an IMF SDMX StructureSpecificData body.

    Args:
        body: The response body.
        name: The request (without keys), for errors.
        concepts: WEO indicator codes to keep (others in the answer are ignored).

    Returns:
        The vintage and its values in base units (``OBS_VALUE`` as given; SCALE not applied).

    Raises:
        SourceError: Truncated or malformed XML, no series, a missing key or
            ``PUBLICATION_DATE``, a series whose ``Obs`` all lack ``OBS_VALUE`` (renamed field;
            one ``Obs`` without it is a missing value), a unit other
            than the concept's, text where a number belongs, a negative amount, a growth rate at
            or below -100 %, a duplicate, an unknown country code, or a requested concept absent.
    """
    try:
        root = ET.fromstring(body)
    except ET.ParseError as exc:
        raise SourceError(name, f"truncated or malformed XML ({exc})") from exc
    series = [s for s in root.iter() if _local(s.tag) == "Series"]
    if not series:
        raise SourceError(name, "no Series element; expected SDMX StructureSpecificData")
    vintage, vintage_year, season = vintage_of(_publication(root, name), name)
    units, last = _group_attrs(root)
    wanted = frozenset(concepts)
    rows = [
        r for i, s in enumerate(series, 1) for r in _series_rows(s, i, name, wanted, units, last)
    ]
    cols = ["code", "concept", "year", "value", "is_projection", "series"]
    df = pd.DataFrame(rows, columns=cols)
    absent = sorted(wanted - set(df["concept"]))
    if absent:
        raise SourceError(
            name, f"no series for indicator(s) {absent}; expected all of {sorted(wanted)}",
            column="INDICATOR",
        )  # fmt: skip
    world = df["code"].eq(WORLD_CODE).to_numpy(dtype=bool)
    group = df["code"].map(is_imf_group).to_numpy(dtype=bool) & ~world
    iso3, reason = map_iso3(df["code"].where(~(group | world), "XXX"))
    iso3 = iso3.mask(world, WORLD)
    reason = reason.mask(group, "IMF group").mask(world, pd.NA)
    unknown = reason.fillna("").str.startswith("unknown code").to_numpy(dtype=bool)
    if unknown.any():
        r = df.loc[unknown].iloc[0]
        raise SourceError(
            name, f"series {int(r['series'])}: unknown COUNTRY {r['code']!r}; expected ISO3 or "
            "an IMF group code (G…)", column="COUNTRY",
        )  # fmt: skip
    reason = reason.mask(reason.isna() & df["value"].isna(), "no value")
    df = df.assign(country=iso3).loc[reason.isna().to_numpy(dtype=bool)]
    _check_values(df, name)
    values = pd.DataFrame(
        {
            "country": df["country"].astype(str).to_numpy(),
            "year": df["year"].to_numpy(dtype="int64"),
            "concept": df["concept"].astype(str).to_numpy(),
            "value": df["value"].to_numpy(dtype="float64"),
            "is_projection": pd.array(df["is_projection"].tolist(), dtype="boolean"),
        }
    ).sort_values(["country", "year", "concept"], ignore_index=True)
    return WeoRelease(
        values=values,
        vintage=vintage,
        vintage_year=vintage_year,
        season=season,
        publication_date=_publication(root, name)[:10],
        name=name,
        dropped=count_by(reason.dropna()),
    )
