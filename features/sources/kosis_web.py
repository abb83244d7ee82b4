"""KOSIS web downloads (Korean headers) of DT_1R11006_FRM101, Korea's exports by country.

A CSV saved from the KOSIS web site (kosis.kr, "다운로드" -> CSV) rather than the OpenAPI. What
differs from the OpenAPI field names (``features/sources/inbox.py``):

- **Encoding**: UTF-8 with a BOM, plain UTF-8, or CP949 (EUC-KR's superset, the default of
  Korean Windows). Anything else is an error naming the encodings tried.
- **Headers in Korean.** Two layouts:

  * *time in rows*: ``국가별, 시점, 수출건수, 수출액, 수입건수, 수입액, 무역수지`` (one row per
    country and year; a ``단위`` column may give the unit);
  * *time in columns* (the web table's default): two header lines, the first ``국가별, 2023,
    2023, 2024, 2024`` (periods), the second ``국가별, 수출액 (천달러), 수입액 (천달러), ...``
    (items).

  The country column starts with ``국가별``; the export amount column is ``수출액`` or
  ``수출금액`` (``수출건수``, the count, is ignored).
- **Units**: in the export column's header (``수출액 (천달러)``, ``[천달러]``) or a ``단위``
  column: ``천달러`` (thousand USD) x 1000, ``달러`` x 1, ``백만달러`` x 1e6; any other unit is
  an error. A file that states no unit gets the table's published unit, thousand USD (the
  update's unit check against the active vintage catches a wrong guess: ``features/release.py``).
- **Countries in Korean** (``중국``, ``미국``, ``베트남``, ``대만``...): the Korean ISO 3166 names
  (iso-codes, shipped with pycountry) plus the spellings of Korea Customs in
  :data:`KOREAN_ALIASES`; ``총계``/``합계``/``세계`` is the total. Blanks between words do not
  matter (``아랍에미리트 연합``).
- **Periods** are years (``2024``, ``2024 p)`` for provisional). Monthly or quarterly periods
  are an error: download the table with 수록주기 "년".
- Empty cells and ``-``, ``..``, ``…`` (no figure) leave the partner-year unknown (no row).

Errors name the file, the line (header = line 1), the column and what was expected.
"""

from __future__ import annotations

import csv
import gettext
import io
import re
from collections.abc import Mapping
from functools import cache
from pathlib import Path

import pandas as pd
import pycountry

from exportcast.features.sources._common import ROW, SourceError, check_finite_nonnegative
from exportcast.features.sources.inbox import Release, split_totals

__all__ = [
    "ENCODINGS",
    "KOREAN_ALIASES",
    "KOREAN_TOTALS",
    "UNITS",
    "decode",
    "korean_names",
    "looks_like_kosis_web",
    "parse_kosis_web_csv",
]

ENCODINGS = ("utf-8-sig", "cp949")  # utf-8-sig also reads UTF-8 without a BOM
UNITS = {"천달러": 1e3, "천불": 1e3, "달러": 1.0, "불": 1.0, "백만달러": 1e6}
DEFAULT_UNIT = "천달러"  # DT_1R11006_FRM101 is published in thousand USD
KOREAN_TOTALS = frozenset({"총계", "합계", "계", "전체", "세계", "전세계"})
# Korea Customs / KOSIS spellings that differ from the Korean ISO 3166 names.
KOREAN_ALIASES = {
    "대만": "TWN", "호주": "AUS", "러시아": "RUS", "터키": "TUR", "이란": "IRN", "라오스": "LAO",
    "아랍에미리트연합": "ARE", "아랍에미리트": "ARE", "북한": "PRK", "체코공화국": "CZE",
    "미합중국": "USA", "중화인민공화국": "CHN", "마카오": "MAC", "베네수엘라": "VEN",
    "볼리비아": "BOL", "탄자니아": "TZA", "시리아": "SYR", "몰도바": "MDA", "슬로바키아": "SVK",
    "콩고민주공화국": "COD", "콩고": "COG", "코트디부아르": "CIV", "미얀마": "MMR",
    "브루나이": "BRN", "베트남": "VNM", "네덜란드": "NLD", "영국": "GBR", "홍콩": "HKG",
}  # fmt: skip
_COUNTRY = re.compile(r"^국가별")
_EXPORT = re.compile(r"^수출(금)?액")
_UNIT_IN_HEADER = re.compile(r"[(\[]\s*([^)\]]+?)\s*[)\]]")
_YEAR = re.compile(r"^(\d{4})(?:\s*년)?\s*(?:p\)|\(p\)|p)?$", re.IGNORECASE)
_NO_FIGURE = frozenset({"", "-", "..", "...", "…", "x", "X"})


def _key(name: str) -> str:
    return re.sub(r"\s+", "", str(name))


@cache
def korean_names() -> dict[str, str]:
    """Korean country name (blanks removed) -> ISO3: iso-codes' Korean names plus aliases."""
    out: dict[str, str] = {}
    try:
        ko = gettext.translation("iso3166-1", pycountry.LOCALES_DIR, languages=["ko"])
    except OSError:  # pragma: no cover - pycountry always ships the Korean catalogue
        ko = gettext.NullTranslations()
    for c in pycountry.countries:
        for attr in ("name", "common_name", "official_name"):
            if hasattr(c, attr):
                out.setdefault(_key(ko.gettext(getattr(c, attr))), c.alpha_3)
    out.update({_key(k): v for k, v in KOREAN_ALIASES.items()})
    return out


def decode(path: Path) -> tuple[str, str]:
    """The file's text and the encoding that read it (UTF-8 with/without BOM, else CP949).

    Raises:
        SourceError: Neither encoding reads the file.
    """
    data = path.read_bytes()
    for enc in ENCODINGS:
        try:
            return data.decode(enc), enc
        except UnicodeDecodeError:
            continue
    raise SourceError(
        path, "not readable as UTF-8 (with or without BOM) or CP949/EUC-KR; expected a KOSIS "
        "CSV download in one of these encodings",
    )  # fmt: skip


def _lines(path: Path) -> list[list[str]]:
    text, _ = decode(path)
    return [[c.strip() for c in row] for row in csv.reader(io.StringIO(text))]


def looks_like_kosis_web(path: str | Path) -> bool:
    """True when the first header cell is a KOSIS classification in Korean (``국가별...``)."""
    try:
        text, _ = decode(Path(path))
    except (SourceError, OSError):
        return False
    first = next(csv.reader(io.StringIO(text[:4096])), [])
    return bool(first) and bool(_COUNTRY.match(first[0].strip().strip('"')))


def _unit(path: Path, header: str, line: int, column: str) -> tuple[float, str | None]:
    m = _UNIT_IN_HEADER.search(header)
    if m is None:
        return UNITS[DEFAULT_UNIT], None
    unit = _key(m.group(1))
    if unit not in UNITS:
        raise SourceError(
            path, f"unit {m.group(1)!r} in header {header!r}; expected one of {list(UNITS)} "
            "(천달러 = thousand USD)", row=line, column=column,
        )  # fmt: skip
    return UNITS[unit], unit


def _year(path: Path, text: str, line: int, column: str) -> int:
    m = _YEAR.match(text.strip())
    if m is None:
        raise SourceError(
            path, f"period {text!r}; expected a year (YYYY, or 'YYYY p)' for provisional): "
            "download the table with 수록주기 '년' (annual)", row=line, column=column,
        )  # fmt: skip
    return int(m.group(1))


def _cells_time_in_rows(path: Path, lines: list[list[str]]) -> tuple[list[tuple], bool]:
    header = lines[0]
    country = header[0]
    if "시점" not in header:
        raise SourceError(path, f"header {header}: no '시점' column; expected the period", row=1)
    t = header.index("시점")
    exports = [i for i, h in enumerate(header) if _EXPORT.match(h)]
    if not exports:
        raise SourceError(
            path, f"header {header}: no export amount column; expected '수출액' or '수출금액' "
            "(with its unit, e.g. '수출액 (천달러)')", row=1,
        )  # fmt: skip
    e = exports[0]
    factor, unit = _unit(path, header[e], 1, header[e])
    u = header.index("단위") if "단위" in header else None
    cells = []
    for line, row in enumerate(lines[1:], start=2):
        if not any(row):
            continue
        if len(row) < len(header):
            raise SourceError(
                path, f"{len(row)} cells; expected {len(header)} like the header", row=line
            )
        f = factor
        if u is not None and row[u]:
            key = _key(row[u])
            if key not in UNITS:
                raise SourceError(
                    path, f"unit {row[u]!r}; expected one of {list(UNITS)}", row=line, column="단위"
                )
            f, unit = UNITS[key], key
        year = _year(path, row[t], line, "시점")
        cells.append((line, row[0], year, row[e], f, country, header[e]))
    return cells, unit is not None or u is not None


def _cells_time_in_columns(path: Path, lines: list[list[str]]) -> tuple[list[tuple], bool]:
    periods, items = lines[0], lines[1]
    country = periods[0]
    cols = [i for i in range(1, len(items)) if _EXPORT.match(items[i])]
    if not cols:
        raise SourceError(
            path, f"second header line {items}: no export amount column; expected '수출액' or "
            "'수출금액' under each period", row=2,
        )  # fmt: skip
    years = {i: _year(path, periods[i], 1, periods[i] or f"column {i + 1}") for i in cols}
    units = {i: _unit(path, items[i], 2, items[i]) for i in cols}
    cells = []
    for line, row in enumerate(lines[2:], start=3):
        if not any(row):
            continue
        if len(row) < len(items):
            raise SourceError(
                path, f"{len(row)} cells; expected {len(items)} like the header", row=line
            )
        for i in cols:
            cells.append((line, row[0], years[i], row[i], units[i][0], country,
                          f"{periods[i]} {items[i]}"))  # fmt: skip
    return cells, any(u is not None for _, u in units.values())


def parse_kosis_web_csv(path: str | Path, names: Mapping[str, str] | None = None) -> Release:
    """Read a KOSIS web download of DT_1R11006_FRM101 with Korean headers (see the module doc).

    Args:
        path: The CSV.
        names: Extra Korean name -> ISO3 spellings (added to :func:`korean_names`).

    Returns:
        Korea's exports by partner in USD, and the totals (``총계``).

    Raises:
        SourceError: Unreadable encoding, unknown layout, unit, period or country name, text
            where a number belongs, a negative amount; naming file, line and column.
    """
    path = Path(path)
    lines = [r for r in _lines(path) if r]
    if len(lines) < 2:
        raise SourceError(path, "no data rows; expected a header and rows by country")
    second = lines[1]
    if _COUNTRY.match(second[0]) or (not second[0] and any(_EXPORT.match(c) for c in second)):
        cells, stated = _cells_time_in_columns(path, lines)
    else:
        cells, stated = _cells_time_in_rows(path, lines)
    lookup = {**korean_names(), **{_key(k): v for k, v in (names or {}).items()}}
    rows = []
    for line, name, year, text, factor, col, vcol in cells:
        key = _key(name)
        is_total = key in KOREAN_TOTALS
        iso = "WLD" if is_total else lookup.get(key)
        if iso is None:
            raise SourceError(
                path, f"unknown country name {name!r}; expected a Korean country name (ISO 3166 "
                "Korean names or a Korea Customs spelling in features/sources/kosis_web.py) or "
                "'총계'", row=line, column=col,
            )  # fmt: skip
        value = text.replace(",", "").strip()
        if value in _NO_FIGURE:
            continue
        try:
            amount = float(value) * factor
        except ValueError:
            raise SourceError(
                path, f"{text!r} is not a number; expected an amount (commas allowed) or '-'",
                row=line, column=vcol,
            ) from None  # fmt: skip
        rows.append((line, "KOR", iso, year, amount))
    if not rows:
        raise SourceError(path, "no export amounts; every cell is empty or '-'")
    df = pd.DataFrame(rows, columns=[ROW, "reporter", "partner", "year", "export_usd"])
    check_finite_nonnegative(df, "export_usd", path)
    rel = split_totals(df, df["partner"].eq("WLD").to_numpy(dtype=bool), path, "kosis", "kosis")
    dropped = {} if stated else {f"unit not stated: {DEFAULT_UNIT} (thousand USD) assumed": 1}
    return Release(rel.rows, rel.totals, rel.path, rel.kind, dropped)
