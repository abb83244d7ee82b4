"""IMF Direction of Trade Statistics (DOTS): exports FOB by partner, annual (``imf_dots/``).

Reads either the Korea file ``kor_exports_by_partner_imf_dots_1960_2020.csv`` or the all-reporter
file ``dots_exports_by_partner_all_reporters_1960_2020.csv.gz`` (same columns, 1.24M rows).

Units: the raw column ``value_usd_millions`` is current **USD millions**; the adapter returns
``export_usd`` in USD (x 1e6). Aggregates ("World", "Euro Area", ...), regional "not specified"
residuals and historical entities (USSR, Belgium-Luxembourg, ...) are mixed in with countries;
only ``country`` x ``country`` rows are kept and the rest is counted in ``Loaded.dropped``.
"""

from __future__ import annotations

from collections.abc import Iterable
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
from exportcast.features.sources.codes import known_iso3, map_iso3

__all__ = ["SOURCE", "TYPES", "UNIT_FACTOR", "load_dots_exports"]

SOURCE = "imf_dots"
UNIT_FACTOR = 1e6  # value_usd_millions -> USD
TYPES = frozenset({"country", "aggregate", "not_specified", "historical_country"})
_REQUIRED = [
    "year",
    "reporter_iso3",
    "reporter_type",
    "partner_iso3",
    "partner_type",
    "value_usd_millions",
    "estimated",
]
_VALUE = "value_usd_millions"
# Median ratio (sum of partner exports in USD / reference total in USD) over reporter-years.
# Partner sums are 91-100 % of the World row (SOURCES.md) and other publishers' merchandise
# exports are within a few per cent, so a median outside this band is a unit error (a factor
# of 1e3 or 1e6 somewhere), never a coverage gap.
_RATIO_OK = (1e-2, 1e2)
_UNIT_HINTS = {
    -6: "the DOTS values look 1e6x too small, or the reference totals 1e6x too large",
    -3: f"{_VALUE} looks like it is in billions (not millions) of USD, or the reference "
    "totals are 1000x too large",
    3: f"{_VALUE} looks like it is in thousands of USD (not millions), or the reference "
    "totals are in thousands of USD instead of USD (off by 1e3)",
    6: f"{_VALUE} looks like it is in USD (not millions), or the reference totals are in "
    "millions of USD instead of USD (off by 1e6)",
}


def load_dots_exports(
    path: str | Path,
    *,
    start: int = 1990,
    end: int = 2020,
    reporters: Iterable[str] | None = None,
    reference_totals: pd.DataFrame | None = None,
) -> Loaded:
    """Load DOTS exports by partner as a country x country panel in USD.

    Rows are kept when both ``reporter_type`` and ``partner_type`` are ``country`` and both
    codes map to ISO3 (:func:`~features.sources.codes.map_iso3`; legacy codes with a successor
    such as ``KOS`` are mapped, dissolved ones are dropped). Every other row of the requested
    years and reporters is counted in ``dropped`` under the first reason that applies, in this
    order: ``"reporter aggregate"``, ``"reporter historical_country"``, ``"legacy code X"`` (the
    reporter's), ``"partner aggregate"``, ``"partner not_specified"``,
    ``"partner historical_country"``, ``"legacy code X"`` (the partner's), ``"self-trade"``
    (reporter == partner after mapping) and ``"no value"`` (empty value cell).

    Args:
        path: One of the two DOTS long files (``.csv`` or ``.csv.gz``).
        start: First year kept (rows of other years are neither checked beyond ``year`` nor
            counted as dropped).
        end: Last year kept.
        reporters: ISO3 codes of the reporters to keep (all country reporters when ``None``).
        reference_totals: Optional independent totals, columns ``reporter, year, total_usd``
            in USD (e.g. WDI merchandise exports). When given, the median over reporter-years
            of (sum of partner exports / reference total) must lie in [0.01, 100]; a median
            near 1e-3, 1e3 or 1e6 means the DOTS values or the reference are in the wrong
            unit. Reporter-years missing from the reference are ignored; no overlap means no
            check.

    Returns:
        ``Loaded`` whose frame has ``reporter, partner, year`` (int64), ``export_usd``
        (float64, USD), ``estimated`` (int8, 1 = IMF estimate flagged "e"), ``source``
        (``"imf_dots"``), sorted by ``reporter, partner, year``.

    Raises:
        SourceError: Missing columns, text in number columns, a type outside :data:`TYPES`, a
            ``country`` row with an empty or unknown code, ``estimated`` not 0/1, a negative or
            infinite value in a kept row, duplicate ``(reporter, partner, year)`` keys, or a
            unit mismatch with ``reference_totals``.
        ValueError: ``reporters`` holds a code that is not ISO3.
    """
    df = read_table(path, _REQUIRED)
    year = to_number(df, "year", path, integer=True)
    in_range = year.between(start, end).fillna(False).to_numpy(dtype=bool)
    df = df.loc[in_range].assign(year=year[in_range])
    for side in ("reporter", "partner"):
        _check_types(df, f"{side}_type", path)

    rep_iso3, rep_reason = _map_side(df, "reporter", path)
    if reporters is not None:
        wanted = _wanted_reporters(reporters)
        keep = rep_iso3.isin(wanted).to_numpy(dtype=bool)
        df, rep_iso3, rep_reason = df.loc[keep], rep_iso3[keep], rep_reason[keep]
    par_iso3, par_reason = _map_side(df, "partner", path)

    df = df.assign(
        reporter=rep_iso3,
        partner=par_iso3,
        **{_VALUE: to_number(df, _VALUE, path)},
        estimated=to_number(df, "estimated", path, integer=True),
    )
    keep, dropped = _drop_reasons(df, rep_reason, par_reason)
    kept = df.loc[keep]

    _check_flag(kept, path)
    check_finite_nonnegative(kept, _VALUE, path)
    check_unique(kept, ["reporter", "partner", "year"], path)

    frame = _panel_frame(kept)
    if reference_totals is not None:
        _check_units(frame, reference_totals, path)
    return Loaded(frame=frame, path=str(path), dropped=dropped)


def _panel_frame(kept: pd.DataFrame) -> pd.DataFrame:
    """The kept rows in the panel's columns and units (USD), sorted by reporter, partner, year."""
    return pd.DataFrame(
        {
            "reporter": kept["reporter"].astype(str).to_numpy(),
            "partner": kept["partner"].astype(str).to_numpy(),
            "year": kept["year"].to_numpy(dtype="int64"),
            "export_usd": kept[_VALUE].to_numpy(dtype="float64") * UNIT_FACTOR,
            "estimated": kept["estimated"].to_numpy(dtype="int8"),
            "source": SOURCE,
        }
    ).sort_values(["reporter", "partner", "year"], ignore_index=True)


def _check_types(df: pd.DataFrame, column: str, path: str | Path) -> None:
    bad = ~df[column].isin(TYPES).to_numpy(dtype=bool)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise SourceError(
            path,
            f"unexpected type {df[column].iloc[i]!r}; expected one of {sorted(TYPES)}",
            row=int(df[ROW].iloc[i]),
            column=column,
        )


def _map_side(df: pd.DataFrame, side: str, path: str | Path) -> tuple[pd.Series, pd.Series]:
    """Map the ISO3 column of ``country`` rows; other rows get ``<NA>`` code and reason.

    ``map_iso3`` runs once per distinct code (about 250), not once per row.

    Raises:
        SourceError: A ``country`` row has an empty or unknown code.
    """
    column = f"{side}_iso3"
    is_country = (df[f"{side}_type"] == "country").to_numpy(dtype=bool)
    codes, uniques = pd.factorize(df[column].where(is_country))
    iso_u, reason_u = map_iso3(pd.Series(uniques, dtype="string"))
    iso = np.append(iso_u.to_numpy(dtype=object), pd.NA)[codes]  # code -1 (NaN) -> NA
    reason = np.append(reason_u.to_numpy(dtype=object), pd.NA)[codes]
    missing = is_country & (codes == -1)
    if missing.any():
        i = int(np.flatnonzero(missing)[0])
        raise SourceError(
            path,
            f"{side}_type is 'country' but the code is empty; expected an ISO3 code",
            row=int(df[ROW].iloc[i]),
            column=column,
        )
    # Uniques come in order of first appearance, so the first unknown one is the first row.
    values, first_pos = np.unique(codes, return_index=True)
    first_rows = df.iloc[first_pos[values >= 0]]
    raise_on_unknown(first_rows, reason_u, column, path)
    iso_s = pd.Series(iso, index=df.index, dtype="string")
    reason_s = pd.Series(reason, index=df.index, dtype="string")
    return iso_s, reason_s


def _wanted_reporters(reporters: Iterable[str]) -> set[str]:
    wanted = {str(r).strip().upper() for r in reporters}
    unknown = sorted(wanted - known_iso3())
    if unknown:
        raise ValueError(f"reporters must be ISO3 codes; unknown: {unknown}")
    return wanted


def _drop_reasons(
    df: pd.DataFrame, rep_reason: pd.Series, par_reason: pd.Series
) -> tuple[np.ndarray, dict[str, int]]:
    """Which rows are kept, and the dropped ones counted by the first reason that applies."""
    rtype = df["reporter_type"]
    ptype = df["partner_type"]
    rep_legacy = rep_reason.notna().to_numpy(dtype=bool)
    par_legacy = par_reason.notna().to_numpy(dtype=bool)
    same = (df["reporter"] == df["partner"]).fillna(False).to_numpy(dtype=bool)
    conditions = [
        (rtype != "country").to_numpy(dtype=bool),
        rep_legacy,
        (ptype != "country").to_numpy(dtype=bool),
        par_legacy,
        same,
        df[_VALUE].isna().to_numpy(dtype=bool),
    ]
    first = np.select(conditions, list(range(1, len(conditions) + 1)), default=0)
    labels = [
        "reporter " + rtype[first == 1],
        rep_reason[first == 2],
        "partner " + ptype[first == 3],
        par_reason[first == 4],
        ["self-trade"] * int((first == 5).sum()),
        ["no value"] * int((first == 6).sum()),
    ]
    dropped = count_by(str(x) for part in labels for x in part)
    return first == 0, dropped


def _check_flag(df: pd.DataFrame, path: str | Path) -> None:
    bad = ~df["estimated"].isin([0, 1]).to_numpy(dtype=bool)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise SourceError(
            path,
            f"expected 0 or 1, found {df['estimated'].iloc[i]!r}",
            row=int(df[ROW].iloc[i]),
            column="estimated",
        )


def _check_units(frame: pd.DataFrame, reference: pd.DataFrame, path: str | Path) -> None:
    """Compare partner sums with independent totals; raise on a 1e3 or 1e6 unit mismatch."""
    missing = [c for c in ("reporter", "year", "total_usd") if c not in reference.columns]
    if missing:
        raise ValueError(
            f"reference_totals lacks column(s) {missing}; expected reporter, year, total_usd"
        )
    if reference.duplicated(["reporter", "year"]).any():
        raise ValueError("reference_totals must have one row per (reporter, year)")
    sums = frame.groupby(["reporter", "year"])["export_usd"].sum()
    ref = reference.assign(year=reference["year"].astype("int64")).set_index(["reporter", "year"])
    ratio = (sums / ref["total_usd"].astype("float64")).replace([np.inf, -np.inf], np.nan)
    ratio = ratio.dropna()
    if ratio.empty:
        return
    r = float(ratio.median())
    if _RATIO_OK[0] <= r <= _RATIO_OK[1]:
        return
    power = int(3 * round(np.log10(r) / 3)) if r > 0 else -99
    hint = _UNIT_HINTS.get(power, f"{_VALUE} or the reference totals is in the wrong unit")
    raise SourceError(
        path,
        f"median over {len(ratio):,} reporter-years of partner-export sum / reference total is "
        f"{r:.3g}; expected about 1 (between {_RATIO_OK[0]:g} and {_RATIO_OK[1]:g}): {hint}",
        column=_VALUE,
    )
