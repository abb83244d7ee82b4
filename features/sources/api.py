"""Parsers of the statistics APIs' response bodies (pure: bytes in, checked frames out).

The wire formats and their traps are in ``tests/data/fixtures/api/README.md`` (recorded
bodies):

- IMF IMTS, SDMX 3.0 StructureSpecificData XML: ``OBS_VALUE`` is already in the series unit
  (USD for ``XG_FOB_USD``); ``SCALE`` describes presentation and is **never** applied.
  ``COUNTERPART_COUNTRY`` is ISO3 for countries, ``G001`` for the World, other ``G…`` for groups.
- World Bank v2 JSON: ``[page metadata, observations]``; ``value`` may be null; an error is
  HTTP 200 with ``[{"message": [...]}]``.
- UN Comtrade v1 JSON: ``{"count", "data": [...], "error"}``; values in USD.
- KOSIS OpenAPI JSON: a list of cells (``DT`` is a string); an error is HTTP 200 with
  ``{"err": "...", "errMsg": "..."}``.

Every error is a :class:`SourceError` naming the request (``name``, without any key), the
record and the field.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from exportcast.features.sources._common import ROW, SourceError, count_by
from exportcast.features.sources.codes import known_iso3
from exportcast.features.sources.inbox import (
    Release,
    comtrade_frame_release,
    kosis_frame_release,
    split_totals,
)
from exportcast.features.sources.wdi import WB_AGGREGATES

__all__ = [
    "IMTS_EXPORTS",
    "parse_comtrade_json",
    "parse_imts_xml",
    "parse_kosis_json",
    "parse_wdi_json",
]

IMTS_EXPORTS = "XG_FOB_USD"
IMTS_WORLD = "G001"
IMTS_UNITS = {"USD": 1.0}  # OBS_VALUE unit -> factor to USD; SCALE is never applied


def _json(body: bytes, name: str) -> Any:
    try:
        return json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SourceError(
            name, f"truncated or malformed JSON ({exc}); expected the complete answer"
        ) from exc


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def parse_imts_xml(body: bytes, name: str) -> Release:
    """IMTS exports by partner (``XG_FOB_USD``) from an SDMX 3.0 StructureSpecificData body.

    Raises:
        SourceError: Malformed or truncated XML, another indicator, a unit other than USD, a
            non-numeric ``OBS_VALUE`` or an unknown counterpart code.
    """
    try:
        root = ET.fromstring(body)
    except ET.ParseError as exc:
        raise SourceError(name, f"truncated or malformed XML ({exc})") from exc
    units = {
        g.get("INDICATOR"): (c.findtext("./{*}Value") or c.findtext("Value"))
        for g in root.iter()
        if _local(g.tag) == "Group"
        for c in g
        if _local(c.tag) == "Comp" and c.get("id") == "UNIT"
    }
    rows, dropped = [], []
    series = [s for s in root.iter() if _local(s.tag) == "Series"]
    if not series:
        raise SourceError(name, "no Series element; expected SDMX StructureSpecificData")
    known = known_iso3()
    for i, s in enumerate(series, start=1):
        indicator = s.get("INDICATOR")
        if indicator != IMTS_EXPORTS:
            raise SourceError(
                name, f"series {i}: INDICATOR {indicator!r}; expected {IMTS_EXPORTS!r}",
                column="INDICATOR",
            )  # fmt: skip
        unit = s.get("UNIT") or units.get(indicator)
        if unit not in IMTS_UNITS:
            raise SourceError(
                name, f"series {i}: UNIT {unit!r}; expected one of {sorted(IMTS_UNITS)}",
                column="UNIT",
            )  # fmt: skip
        partner = s.get("COUNTERPART_COUNTRY", "")
        if partner != IMTS_WORLD and partner not in known:
            if partner.startswith("G") or partner.startswith("X"):
                dropped.append(f"IMTS group {partner}")
                continue
            raise SourceError(
                name, f"series {i}: unknown COUNTERPART_COUNTRY {partner!r}; expected ISO3 or "
                "an IMF group code (G…)", column="COUNTERPART_COUNTRY",
            )  # fmt: skip
        for obs in s:
            if _local(obs.tag) != "Obs":
                continue
            text = obs.get("OBS_VALUE")
            try:
                value = float(text) * IMTS_UNITS[unit] if text not in (None, "", "NaN") else None
                year = int(str(obs.get("TIME_PERIOD"))[:4])
            except ValueError:
                raise SourceError(
                    name, f"series {i} ({partner}): OBS_VALUE {text!r} / TIME_PERIOD "
                    f"{obs.get('TIME_PERIOD')!r}; expected numbers", column="OBS_VALUE",
                ) from None  # fmt: skip
            if value is not None:
                rows.append((s.get("COUNTRY"), partner, year, value, i))
    df = pd.DataFrame(rows, columns=["reporter", "partner", "year", "export_usd", ROW])
    total = df["partner"].eq(IMTS_WORLD).to_numpy(dtype=bool)
    rel = split_totals(df, total, name, "imts", "imts")
    return Release(rel.rows, rel.totals, name, "imts", count_by(dropped))


def parse_wdi_json(body: bytes, name: str, indicator: str) -> tuple[pd.DataFrame, dict]:
    """One WDI indicator for many countries from a World Bank v2 JSON body.

    Args:
        body: The response body.
        name: The request (without keys) for errors.
        indicator: The indicator code asked for (checked against the answer).

    Returns:
        ``(frame, page)``: ``country, year, value`` (countries only; nulls dropped) and the
        page metadata (``page``, ``pages``, ``total``, ``lastupdated``).

    Raises:
        SourceError: An error message inside HTTP 200, truncated JSON, missing fields.
    """
    data = _json(body, name)
    if isinstance(data, dict) or (
        isinstance(data, list) and data and isinstance(data[0], dict) and "message" in data[0]
    ):
        msg = data.get("message") if isinstance(data, dict) else data[0]["message"]
        raise SourceError(name, f"the World Bank API answered with an error: {msg}")
    if not (isinstance(data, list) and len(data) == 2 and isinstance(data[0], dict)):
        raise SourceError(name, "expected [page metadata, observations]")
    page, obs = data[0], data[1] or []
    for key in ("page", "pages", "total"):
        if key not in page:
            raise SourceError(name, f"page metadata lacks {key!r}", column=key)
    rows = []
    for i, o in enumerate(obs, start=1):
        for key in ("countryiso3code", "date", "value", "indicator"):
            if key not in o:
                raise SourceError(name, f"observation {i} lacks field {key!r}", column=key)
        code = (o["indicator"] or {}).get("id", "")
        if code.lower() != indicator.lower():
            raise SourceError(
                name, f"observation {i}: indicator {code!r}; expected {indicator!r}",
                column="indicator",
            )  # fmt: skip
        rows.append((o["countryiso3code"], o["date"], o["value"], i))
    df = pd.DataFrame(rows, columns=["country", "year", "value", ROW])
    year = pd.to_numeric(df["year"], errors="coerce")
    value = pd.to_numeric(df["value"], errors="coerce")
    bad = (value.isna() & df["value"].notna()) | year.isna()
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise SourceError(
            name, f"observation {int(df[ROW].iloc[i])}: date {df['year'].iloc[i]!r}, value "
            f"{df['value'].iloc[i]!r}; expected numbers", column="value",
        )  # fmt: skip
    keep = value.notna() & df["country"].isin(known_iso3()) & ~df["country"].isin(WB_AGGREGATES)
    out = pd.DataFrame(
        {"country": df["country"], "year": year.astype("Int64"), "value": value}
    ).loc[keep]
    return out.astype({"year": "int64"}).reset_index(drop=True), page


def parse_comtrade_json(body: bytes, name: str) -> Release:
    """Exports by partner from a Comtrade ``data/v1/get`` JSON body.

    Raises:
        SourceError: ``error`` set, ``count`` not matching ``data`` (truncated), a missing or
            renamed field, unknown codes.
    """
    data = _json(body, name)
    if not isinstance(data, dict) or "data" not in data:
        raise SourceError(name, "expected an object with 'data', 'count' and 'error'")
    if data.get("error"):
        raise SourceError(name, f"Comtrade answered with an error: {data['error']}")
    records = data["data"] or []
    if "count" in data and data["count"] != len(records):
        raise SourceError(
            name, f"count says {data['count']} records but data holds {len(records)}: "
            "a truncated answer", column="count",
        )  # fmt: skip
    if not records:
        raise SourceError(name, "no records; expected exports for the requested years")
    df = pd.DataFrame.from_records(records)
    need = ["reporterISO", "partnerISO", "refYear", "flowCode", "primaryValue"]
    missing = [c for c in need if c not in df.columns]
    if missing:
        raise SourceError(
            name, f"records lack field(s) {missing}; expected {need} (renamed by the API?)",
            column=missing[0],
        )  # fmt: skip
    df = df.assign(**{ROW: np.arange(1, len(df) + 1)})
    return comtrade_frame_release(df, name, "comtrade", "comtrade_api")


def parse_kosis_json(body: bytes, name: str, names: Mapping[str, str]) -> Release:
    """Korea's exports by country (DT_1R11006_FRM101) from a KOSIS OpenAPI JSON body.

    Raises:
        SourceError: ``err``/``errMsg`` inside HTTP 200, truncated JSON, missing fields, an
            unknown unit or country.
    """
    data = _json(body, name)
    if isinstance(data, dict):
        if "err" in data or "errMsg" in data:
            raise SourceError(
                name, f"KOSIS answered with error {data.get('err')}: {data.get('errMsg')}"
            )
        raise SourceError(name, "expected a list of cells")
    if not data:
        raise SourceError(name, "no cells; expected exports for the requested years")
    df = pd.DataFrame.from_records(data).astype("string")
    return kosis_frame_release(df.assign(**{ROW: np.arange(1, len(df) + 1)}), name, names)
