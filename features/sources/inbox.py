"""Files a person drops into ``data/inbox/``: detect the format, parse and check them.

Three formats (docs/data-updates.md), told apart by their header:

- **long**: ``reporter,partner,year,export_usd`` (USD units, ISO3 codes). A row whose partner
  is ``WLD`` (or ``TOTAL``) is the reporter's total exports that year.
- **kosis**: a KOSIS download of table DT_1R11006_FRM101 (Korea's exports by country) with the
  KOSIS OpenAPI column names ``C1_NM_ENG`` (country, English), ``PRD_DE`` (year), ``ITM_NM_ENG``
  (item; only export amount rows are read), ``UNIT_NM_ENG`` (unit) and ``DT`` (value). The unit
  decides the factor (``Thousand US$`` x 1000, ``US$`` x 1); any other unit is an error. The
  country ``Total`` (or ``World``) is the total.
- **comtrade**: a UN Comtrade CSV (columns ``reporterISO, partnerISO, refYear, flowCode,
  primaryValue``; values in USD). Only ``flowCode`` ``X`` (exports) is read; partner ``W00``
  is the total; ``S19`` (Other Asia, n.e.s.) is Taiwan; other n.e.s. areas are dropped and
  counted.

Every parser returns a :class:`Release`: partner rows and totals, both in USD.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from exportcast.features.panel import validate_trade_panel
from exportcast.features.sources._common import (
    ROW,
    SourceError,
    check_finite_nonnegative,
    count_by,
    raise_first,
    read_table,
    to_number,
)
from exportcast.features.sources.codes import known_iso3

__all__ = [
    "FORMATS",
    "TOTAL_CODES",
    "Release",
    "comtrade_frame_release",
    "detect_format",
    "kosis_frame_release",
    "parse_comtrade_csv",
    "parse_inbox_file",
    "parse_kosis_csv",
    "parse_long",
    "split_totals",
]

TOTAL_CODES = frozenset({"WLD", "TOTAL", "W00"})
FORMATS = {
    "long": ["reporter", "partner", "year", "export_usd"],
    "kosis": ["C1_NM_ENG", "PRD_DE", "ITM_NM_ENG", "UNIT_NM_ENG", "DT"],
    "comtrade": ["reporterISO", "partnerISO", "refYear", "flowCode", "primaryValue"],
}
KOSIS_UNITS = {"thousand us$": 1e3, "thousand us dollars": 1e3, "us$": 1.0, "us dollars": 1.0}
KOSIS_TOTAL_NAMES = frozenset({"total", "world", "grand total"})
# Comtrade's "Other Asia, nes" is Taiwan in UN trade statistics.
COMTRADE_ALIASES = {"S19": "TWN"}


@dataclass(frozen=True)
class Release:
    """One file's (or one fetch's) exports by partner, checked, in USD.

    Attributes:
        rows: ``reporter, partner, year, export_usd, source`` (ISO3, USD), one row per key.
        totals: ``reporter, year, total_usd``: the reporter's total exports (may be empty).
        path: The file (or request) it came from.
        kind: ``long``, ``kosis``, ``comtrade`` or a connector name.
        dropped: Rows left out, by reason.
    """

    rows: pd.DataFrame
    totals: pd.DataFrame
    path: str
    kind: str
    dropped: Mapping[str, int] = field(default_factory=dict)


def _header(path: Path) -> list[str]:
    try:
        return list(pd.read_csv(path, nrows=0, encoding="utf-8-sig").columns)
    except (pd.errors.EmptyDataError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise SourceError(path, f"not a readable UTF-8 CSV with a header row ({exc})") from exc


def detect_format(path: str | Path) -> str:
    """Which inbox format a file is, from its header.

    Raises:
        SourceError: The header matches none of :data:`FORMATS`.
    """
    path = Path(path)
    if path.suffix.lower() not in (".csv", ".gz"):
        raise SourceError(path, "expected a .csv file (long, KOSIS or Comtrade format)")
    cols = _header(path)
    for kind, required in FORMATS.items():
        if all(c in cols for c in required):
            return kind
    best = max(FORMATS, key=lambda k: sum(c in cols for c in FORMATS[k]))
    missing = [c for c in FORMATS[best] if c not in cols]
    raise SourceError(
        path,
        f"unknown inbox format: header {cols}; closest is the {best} format, which lacks "
        f"column(s) {missing}; expected one of "
        + "; ".join(f"{k}: {', '.join(v)}" for k, v in FORMATS.items()),
    )


def split_totals(
    df: pd.DataFrame, is_total: np.ndarray, path: Path, kind: str, source: str
) -> Release:
    """Partner rows -> validated panel rows; total rows -> ``totals`` (one per reporter-year)."""
    tot = df.loc[is_total]
    dup = tot.duplicated(["reporter", "year"]).to_numpy()
    raise_first(tot, dup, path, "year", "second total row for year {value}; expected one")
    totals = pd.DataFrame(
        {
            "reporter": tot["reporter"].astype(str).to_numpy(),
            "year": tot["year"].astype("int64").to_numpy(),
            "total_usd": tot["export_usd"].astype("float64").to_numpy(),
        }
    )
    rows = df.loc[~is_total, [ROW, "reporter", "partner", "year", "export_usd"]]
    if rows.empty and totals.empty:
        raise SourceError(path, "no partner rows; expected exports by partner")
    if rows.empty:  # a release of totals only
        panel = pd.DataFrame(columns=["reporter", "partner", "year", "export_usd", "source"])
    else:
        panel = validate_trade_panel(rows.assign(source=source), name=str(path))
    return Release(rows=panel, totals=totals, path=str(path), kind=kind)


def parse_long(path: str | Path) -> Release:
    """Read a long-format file ``reporter,partner,year,export_usd`` (USD units).

    Raises:
        SourceError: Naming file, row and column of the first problem.
    """
    path = Path(path)
    df = read_table(path, FORMATS["long"])
    df = df.assign(
        year=to_number(df, "year", path, integer=True),
        export_usd=to_number(df, "export_usd", path),
        reporter=df["reporter"].str.strip().str.upper(),
        partner=df["partner"].str.strip().str.upper(),
    )
    raise_first(df, df["year"].isna(), path, "year", "expected a year, found an empty cell")
    raise_first(
        df,
        df["export_usd"].isna(),
        path,
        "export_usd",
        "expected a USD amount, found an empty cell",
    )
    check_finite_nonnegative(df, "export_usd", path)
    is_total = df["partner"].isin(TOTAL_CODES).to_numpy(dtype=bool)
    return split_totals(df, is_total, path, "long", f"inbox:{path.name}")


def _kosis_names(names: Mapping[str, str]) -> dict[str, str]:
    out = {str(k).strip().lower(): v for k, v in names.items()}
    out.update({"u.s.a": "USA", "u.s.a.": "USA", "usa": "USA", "taiwan": "TWN",
                "vietnam": "VNM", "russia": "RUS", "iran": "IRN", "hong kong": "HKG"})  # fmt: skip
    return out


def parse_kosis_csv(path: str | Path, names: Mapping[str, str]) -> Release:
    """Read a KOSIS DT_1R11006_FRM101 download (OpenAPI column names, one row per cell).

    Args:
        path: The CSV.
        names: English country name -> ISO3 (e.g. the snapshot's ``countries`` table).

    Raises:
        SourceError: Unknown unit or country name, text in ``DT``, no export rows.
    """
    path = Path(path)
    return kosis_frame_release(read_table(path, FORMATS["kosis"]), path, names)


def kosis_frame_release(df: pd.DataFrame, path: str | Path, names: Mapping[str, str]) -> Release:
    """KOSIS cells (OpenAPI field names, ``_row`` set) -> :class:`Release` (shared with the API).

    Raises:
        SourceError: Missing fields, unknown unit or country name, text in ``DT``.
    """
    missing = [c for c in FORMATS["kosis"] if c not in df.columns]
    if missing:
        raise SourceError(
            path, f"missing field(s) {missing}; expected {FORMATS['kosis']}", column=missing[0]
        )
    item = df["ITM_NM_ENG"].fillna("").str.lower()
    df = df.loc[item.str.contains("export") & ~item.str.contains("count|number|case")]
    if df.empty:
        raise SourceError(
            path, "no export amount rows; expected ITM_NM_ENG such as 'Export amount'",
            column="ITM_NM_ENG",
        )  # fmt: skip
    unit = df["UNIT_NM_ENG"].fillna("").str.strip().str.lower()
    raise_first(
        df, ~unit.isin(KOSIS_UNITS).to_numpy(), path, "UNIT_NM_ENG",
        "unit {value!r}; expected one of 'Thousand US$' or 'US$'",
    )  # fmt: skip
    value = to_number(df.assign(DT=df["DT"].str.replace(",", "")), "DT", path)
    year = to_number(df.assign(PRD_DE=df["PRD_DE"].str[:4]), "PRD_DE", path, integer=True)
    name = df["C1_NM_ENG"].fillna("").str.strip()
    lookup = _kosis_names(names)
    is_total = name.str.lower().isin(KOSIS_TOTAL_NAMES).to_numpy(dtype=bool)
    iso = name.str.lower().map(lookup)
    raise_first(
        df, (iso.isna() & ~is_total).to_numpy(), path, "C1_NM_ENG",
        "unknown country name {value!r}; expected an English country name (as in the "
        "snapshot's countries table) or 'Total'",
    )  # fmt: skip
    out = df.assign(
        reporter="KOR",
        partner=iso.fillna("WLD"),
        year=year,
        export_usd=value * unit.map(KOSIS_UNITS).to_numpy(dtype="float64"),
    )
    out = out.loc[out["export_usd"].notna()]
    check_finite_nonnegative(out, "export_usd", path)
    total = out["partner"].eq("WLD").to_numpy(dtype=bool)
    return split_totals(out, total, path, "kosis", "kosis")


def parse_comtrade_csv(path: str | Path) -> Release:
    """Read a UN Comtrade CSV (API field names; exports rows only; USD).

    Raises:
        SourceError: Unknown codes, text in ``primaryValue``, no export rows.
    """
    path = Path(path)
    df = read_table(path, FORMATS["comtrade"])
    return comtrade_frame_release(df, path, "comtrade", "comtrade_csv")


def comtrade_frame_release(df: pd.DataFrame, path: str | Path, kind: str, source: str) -> Release:
    """Comtrade rows (API field names, ``_row`` set) -> :class:`Release` (shared with the API).

    Raises:
        SourceError: Unknown codes, text in ``primaryValue``, no export rows.
    """
    df = df.loc[df["flowCode"].astype(str) == "X"]
    if df.empty:
        raise SourceError(path, "no export rows; expected flowCode 'X'", column="flowCode")
    value = to_number(df.assign(primaryValue=df["primaryValue"].astype("string")),
                      "primaryValue", path)  # fmt: skip
    year = to_number(df.assign(refYear=df["refYear"].astype("string")), "refYear", path,
                     integer=True)  # fmt: skip
    reporter = df["reporterISO"].astype(str).str.strip().replace(COMTRADE_ALIASES)
    partner = df["partnerISO"].astype(str).str.strip().replace(COMTRADE_ALIASES)
    known = known_iso3()
    total = partner.isin(TOTAL_CODES).to_numpy(dtype=bool)
    area = ~total & ~partner.isin(known).to_numpy(dtype=bool)
    nes = area & partner.str.match(r"^(_|X|S|E)[0-9A-Z]{1,2}$").to_numpy(dtype=bool)
    raise_first(
        df, area & ~nes, path, "partnerISO",
        "unknown partner code {value!r}; expected ISO3, W00 (World) or a Comtrade n.e.s. area",
    )  # fmt: skip
    raise_first(
        df, ~reporter.isin(known).to_numpy(), path, "reporterISO",
        "unknown reporter code {value!r}; expected an ISO3 country code",
    )  # fmt: skip
    dropped = count_by(f"Comtrade area {p}" for p in partner[nes])
    out = df.assign(reporter=reporter, partner=partner, year=year, export_usd=value).loc[~nes]
    raise_first(out, out["export_usd"].isna(), path, "primaryValue",
                "expected a USD amount, found an empty cell")  # fmt: skip
    check_finite_nonnegative(out, "export_usd", path)
    total = out["partner"].isin(TOTAL_CODES).to_numpy(dtype=bool)
    rel = split_totals(out, total, path, kind, source)
    return Release(rel.rows, rel.totals, rel.path, kind, dropped)


def parse_inbox_file(path: str | Path, names: Mapping[str, str]) -> Release:
    """Detect the format of one inbox file and parse it.

    Args:
        path: The file.
        names: English country name -> ISO3 (for KOSIS files).

    Raises:
        SourceError: Unknown format or bad content (file, row, column, expectation).
    """
    kind = detect_format(path)
    if kind == "long":
        return parse_long(path)
    if kind == "kosis":
        return parse_kosis_csv(path, names)
    return parse_comtrade_csv(path)
