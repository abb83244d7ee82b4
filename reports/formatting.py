"""How the report writes numbers and names: formatted cells, partner names, the years shown.

Shared by the report's sections (``reports.content`` and ``reports.sections_*``); pure functions
on values and the report bundle.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pycountry

from exportcast.reports.bundle import ReportBundle

__all__ = [
    "DASH",
    "MINUS",
    "REST",
    "REST_NAME",
    "Table",
    "concentration_row",
    "dependence_label",
    "digits_for",
    "fmt_pct",
    "fmt_pct_range",
    "fmt_range",
    "is_missing",
    "name_of",
    "num",
    "partner_names",
    "report_years",
    "signed",
    "signed_range",
    "usd_bn",
    "usd_bn_range",
    "without_column",
]


REST = "REST"


REST_NAME = "Other partners"


DASH = "\u2013"


MINUS = "\u2212"


@dataclass(frozen=True)
class Table:
    """A table of formatted cells.

    Attributes:
        columns: Header cells.
        rows: Rows of cells (strings, escaped by the template).
        numeric: Indices of right-aligned (numeric) columns.
        note: A sentence printed under the table.
    """

    columns: list[str]
    rows: list[list[str]]
    numeric: list[int] = field(default_factory=list)
    note: str = ""


def without_column(table: Table, name: str) -> Table:
    """``table`` without the column headed ``name`` (numeric indices shifted to match)."""
    i = table.columns.index(name)
    return Table(
        columns=table.columns[:i] + table.columns[i + 1 :],
        rows=[row[:i] + row[i + 1 :] for row in table.rows],
        numeric=[k - (k > i) for k in table.numeric if k != i],
        note=table.note,
    )


def is_missing(x: Any) -> bool:
    """Whether ``x`` is None or NaN."""
    return x is None or (isinstance(x, float | np.floating) and math.isnan(x))


def num(x: float, digits: int = 1) -> str:
    """Plain number with a real minus sign."""
    if is_missing(x):
        return "n/a"
    text = f"{x:,.{digits}f}"
    return text.replace("-", MINUS) if text.startswith("-") else text


def digits_for(*values: float) -> int:
    """Decimals that keep small differences visible: 1, or 2/3 when every value is tiny."""
    finite = [abs(v) for v in values if not is_missing(v)]
    largest = max(finite, default=1.0)
    return 1 if largest >= 0.5 else 2 if largest >= 0.05 else 3


def signed(x: float, digits: int = 1) -> str:
    """Number with an explicit sign (a real minus sign)."""
    if is_missing(x):
        return "n/a"
    text = f"{x:+,.{digits}f}"
    return text.replace("-", MINUS)


def fmt_pct(share: float, digits: int = 1) -> str:
    """A fraction as a percentage: ``0.345 -> '34.5 %'``.

    Args:
        share: Fraction.
        digits: Decimals.

    Returns:
        The formatted percentage (``n/a`` for a missing value).
    """
    if is_missing(share):
        return "n/a"
    return f"{num(100.0 * share, digits)} %"


def fmt_pct_range(lo: float, hi: float, digits: int = 1) -> str:
    """An interval of fractions as percentages: ``(0.246, 0.379) -> '24.6–37.9 %'``.

    Args:
        lo: Lower bound (fraction).
        hi: Upper bound (fraction).
        digits: Decimals.

    Returns:
        The formatted interval.
    """
    if is_missing(lo) or is_missing(hi):
        return "n/a"
    return f"{num(100.0 * lo, digits)}{DASH}{num(100.0 * hi, digits)} %"


def fmt_range(lo: float, hi: float, digits: int) -> str:
    """An interval of plain numbers: ``lo–hi`` (``n/a`` when a bound is missing)."""
    if is_missing(lo) or is_missing(hi):
        return "n/a"
    return f"{num(lo, digits)}{DASH}{num(hi, digits)}"


def signed_range(lo: float, hi: float, digits: int = 1) -> str:
    """An interval of signed numbers: ``+lo to +hi``."""
    if is_missing(lo) or is_missing(hi):
        return "n/a"
    return f"{signed(lo, digits)} to {signed(hi, digits)}"


def usd_bn(x: float) -> str:
    """US dollars in billions (two decimals below 10 bn)."""
    if is_missing(x):
        return "n/a"
    bn = x / 1e9
    return num(bn, 1 if abs(bn) >= 10 else 2)


def usd_bn_range(lo: float, hi: float) -> str:
    """An interval in billions of US dollars."""
    if is_missing(lo) or is_missing(hi):
        return "n/a"
    return f"{usd_bn(lo)}{DASH}{usd_bn(hi)}"


def _iso3_name(code: str) -> str:
    # last resort when the bundle carries no name for a code
    country = pycountry.countries.get(alpha_3=code) if len(code) == 3 else None
    if country is None:
        return code
    return str(getattr(country, "common_name", None) or country.name)


def partner_names(bundle: ReportBundle) -> dict[str, str]:
    """Display names by partner code.

    ``report.json`` ``partner_names`` wins, then the names in ``opportunities.csv``, then
    pycountry's ISO 3166 name.

    Args:
        bundle: The report bundle.

    Returns:
        Names by code; ``REST`` is ``Other partners``. Codes without a name map to themselves
        through ``name_of``.
    """
    names: dict[str, str] = {}
    codes = {*bundle.forecasts["partner"].astype(str), *bundle.history["partner"].astype(str)}
    names.update({c: _iso3_name(c) for c in codes | set(bundle.dependence_set)})
    opp = bundle.opportunities
    names.update(zip(opp["partner"].astype(str), opp["name"].astype(str), strict=True))
    names.update({str(k): str(v) for k, v in (bundle.meta.get("partner_names") or {}).items()})
    names[REST] = REST_NAME
    return names


def name_of(names: dict[str, str], code: str) -> str:
    """The display name of ``code`` (the code itself without one)."""
    return names.get(code, code)


def dependence_label(bundle: ReportBundle, names: dict[str, str]) -> str:
    """The dependence set in words: ``China + United States``."""
    return " + ".join(name_of(names, c) for c in bundle.dependence_set)


def report_years(bundle: ReportBundle) -> tuple[int, int]:
    """The last history year and the last forecast year of the concentration frame."""
    conc = bundle.concentration
    t0 = int(conc.loc[conc["kind"] == "history", "year"].max())
    t1 = int(conc.loc[conc["kind"] == "forecast", "year"].max())
    return t0, t1


def concentration_row(bundle: ReportBundle, year: int) -> pd.Series:
    """The concentration row of ``year`` (the last one when there are several)."""
    conc = bundle.concentration
    return conc[conc["year"] == year].iloc[-1]
