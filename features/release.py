"""Merge a data release into the snapshot's export tables (pure functions, no I/O).

Rules (docs/data-updates.md):

- A release row replaces the table's row with the same ``reporter, partner, year`` when its
  value differs (an equal value keeps the old row and its ``source``); every other row stays. A partner-year the release does not list is **unknown**: it keeps an earlier
  value when the table had one and gets no row otherwise (never a zero).
- A release with a total for a reporter-year: ``rest = total - sum of the partners known that
  year``. When the rest exceeds :data:`REST_TOLERANCE` of the total (a partial release, e.g.
  the top 40 partners plus the total) it is carried in the ``release_rest`` table with
  ``provisional = True``, and the partners the year before had but this year lacks are listed
  as unknown. Partners summing to more than the total (beyond the tolerance) is an error.
- Units: the median ratio of the release's values to the same partners' values in the table
  (the same year when revised, else the year before) must lie in [0.1, 10]; 1e-3 or 1e3 means
  thousands vs units.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from exportcast.features.sources._common import SourceError

__all__ = [
    "REST_COLUMNS",
    "REST_TOLERANCE",
    "MergeResult",
    "check_release_units",
    "merge_indicator",
    "merge_release",
]

REST_TOLERANCE = 0.005  # KOSIS partner sums match the total within 0.01 % after 2010
REST_COLUMNS = ["reporter", "year", "total_usd", "listed_usd", "rest_usd", "n_partners",
                "provisional", "source"]  # fmt: skip
_UNIT_BAND = (0.1, 10.0)
KEY = ["reporter", "partner", "year"]


@dataclass(frozen=True)
class MergeResult:
    """The merged tables and what the release changed.

    Attributes:
        exports: The export table with the release merged in (same columns as before).
        totals: ``reporter, year, total_export_usd`` with the release's totals merged in.
        rest: ``release_rest`` rows (:data:`REST_COLUMNS`) of every release so far.
        unknown: ``reporter, partner, year`` the release left unknown (the year before had them).
        new_keys: Release rows that were not in the table.
        revised: Release rows that replaced a different value.
    """

    exports: pd.DataFrame
    totals: pd.DataFrame
    rest: pd.DataFrame
    unknown: pd.DataFrame
    new_keys: int
    revised: int


def check_release_units(rows: pd.DataFrame, table: pd.DataFrame, name: str) -> None:
    """Raise when the release's values are a factor ~1e3 off the table's values.

    Raises:
        SourceError: Median ratio outside [0.1, 10], with a thousands-vs-units hint.
    """
    base = table[[*KEY, "export_usd"]]
    same = rows.merge(base, on=KEY, suffixes=("", "_old"))
    if same.empty:
        prev = base.assign(year=base["year"] + 1)
        same = rows.merge(prev, on=KEY, suffixes=("", "_old"))
    same = same.loc[(same["export_usd_old"] > 0) & (same["export_usd"] > 0)]
    if len(same) < 3:
        return
    ratio = float(np.median(same["export_usd"] / same["export_usd_old"]))
    if _UNIT_BAND[0] <= ratio <= _UNIT_BAND[1]:
        return
    hint = ""
    if 3e-4 < ratio < 3e-3:
        hint = ": the values look like thousands of USD; expected USD units"
    elif 300 < ratio < 3000:
        hint = ": the values look 1000x too large (USD declared as thousands?)"
    raise SourceError(
        name,
        f"median ratio of {len(same)} values to the same partners' values in the active "
        f"vintage is {ratio:.3g}; expected {_UNIT_BAND[0]}-{_UNIT_BAND[1]}{hint}",
        column="export_usd",
    )


def _merge_rows(table: pd.DataFrame, rows: pd.DataFrame) -> tuple[pd.DataFrame, int, int]:
    old = table.set_index(KEY)["export_usd"]
    idx = pd.MultiIndex.from_frame(rows[KEY])
    prior = old.reindex(idx).to_numpy()
    new_keys = int(np.isnan(prior).sum())
    same = ~np.isnan(prior) & np.isclose(prior, rows["export_usd"].to_numpy(), rtol=1e-9)
    changed = ~np.isnan(prior) & ~same
    rows = rows.loc[~same]  # an unchanged value keeps its row (and its source)
    idx = pd.MultiIndex.from_frame(rows[KEY])
    add = rows.reindex(columns=table.columns)
    for col in table.columns:
        if col not in rows.columns:
            fill = 0 if col == "estimated" else ""
            add[col] = fill
        add[col] = add[col].astype(table[col].dtype)
    keep = table.loc[~pd.MultiIndex.from_frame(table[KEY]).isin(idx)]
    merged = pd.concat([keep, add], ignore_index=True)
    merged = merged.sort_values(KEY, ignore_index=True, kind="mergesort")
    return merged, new_keys, int(changed.sum())


def _rest_rows(
    exports: pd.DataFrame, totals: pd.DataFrame, source: str, name: str
) -> tuple[pd.DataFrame, pd.DataFrame]:
    out, unknown = [], []
    for r in totals.itertuples(index=False):
        year_rows = exports.loc[(exports["reporter"] == r.reporter) & (exports["year"] == r.year)]
        listed = float(year_rows["export_usd"].sum())
        rest = float(r.total_usd) - listed
        if rest < -REST_TOLERANCE * r.total_usd:
            raise SourceError(
                name,
                f"partners of {r.reporter} in {r.year} sum to {listed:,.0f} USD, more than the "
                f"total {r.total_usd:,.0f} USD; expected at most the total",
                column="export_usd",
            )
        provisional = rest > REST_TOLERANCE * r.total_usd
        out.append((r.reporter, int(r.year), float(r.total_usd), listed, max(rest, 0.0),
                    len(year_rows), bool(provisional), source))  # fmt: skip
        if provisional:
            before = exports.loc[
                (exports["reporter"] == r.reporter) & (exports["year"] == r.year - 1), "partner"
            ]
            for p in sorted(set(before) - set(year_rows["partner"])):
                unknown.append((r.reporter, p, int(r.year)))
    return (
        pd.DataFrame(out, columns=REST_COLUMNS),
        pd.DataFrame(unknown, columns=KEY),
    )


def merge_release(
    exports: pd.DataFrame,
    totals: pd.DataFrame | None,
    rest: pd.DataFrame | None,
    rows: pd.DataFrame,
    release_totals: pd.DataFrame,
    *,
    source: str,
    name: str,
) -> MergeResult:
    """Merge one release into an export table (see the module docstring for the rules).

    Args:
        exports: The vintage's export table (``kor_exports`` or ``dots_exports``).
        totals: ``reporter, year, total_export_usd`` (``kor_totals``), or None.
        rest: The vintage's ``release_rest`` table, or None.
        rows: The release's partner rows (``reporter, partner, year, export_usd, source``).
        release_totals: The release's ``reporter, year, total_usd`` (may be empty).
        source: Short source label for the ``release_rest`` rows.
        name: File or request name for errors.

    Returns:
        The merged tables and counts.

    Raises:
        SourceError: A unit mismatch or partners above the total.
    """
    check_release_units(rows, exports, name)
    merged, new_keys, revised = _merge_rows(exports, rows)
    if totals is None:
        totals = pd.DataFrame({"reporter": [], "year": [], "total_export_usd": []})
    new_totals = release_totals.rename(columns={"total_usd": "total_export_usd"})
    tkey = ["reporter", "year"]
    if len(new_totals):
        keep = ~pd.MultiIndex.from_frame(totals[tkey]).isin(
            pd.MultiIndex.from_frame(new_totals[tkey])
        )
        totals = pd.concat([totals.loc[keep], new_totals.astype(totals.dtypes.to_dict())])
        totals = totals.sort_values(tkey, ignore_index=True)
    rest_new, unknown = _rest_rows(merged, release_totals, source, name)
    base_rest = rest if rest is not None and len(rest) else rest_new
    if len(rest_new) and base_rest is not rest_new:
        keep = ~pd.MultiIndex.from_frame(base_rest[tkey]).isin(
            pd.MultiIndex.from_frame(rest_new[tkey])
        )
        base_rest = pd.concat([base_rest.loc[keep], rest_new], ignore_index=True)
    base_rest = base_rest.astype({"year": "int64", "provisional": bool}).sort_values(
        tkey, ignore_index=True
    )
    return MergeResult(merged, totals, base_rest, unknown, new_keys, revised)


def merge_indicator(
    table: pd.DataFrame, values: pd.DataFrame, column: str
) -> tuple[pd.DataFrame, int, int]:
    """Put fetched values of one indicator column into the ``indicators`` table.

    Args:
        table: The vintage's ``indicators`` (``country, year`` plus indicator columns).
        values: ``country, year, value``.
        column: The project column (e.g. ``merch_exports_usd``).

    Returns:
        ``(table, added, revised)``: country-years new to the table get a row (other columns
        empty); values that differ from the table's are replaced (a null never replaces a value).

    Raises:
        KeyError: ``column`` is not a column of the table.
    """
    if column not in table.columns:
        raise KeyError(f"indicators has no column {column!r}")
    key = ["country", "year"]
    t = table.set_index(key)
    v = values.dropna(subset=["value"]).set_index(key)["value"].astype("float64")
    added = v.index.difference(t.index)
    if len(added):
        t = pd.concat([t, pd.DataFrame(index=added, columns=t.columns)])
        t = t.astype(table.drop(columns=key).dtypes.to_dict())
    old = t.loc[v.index, column].astype("float64")
    revised = int((old.notna() & ~np.isclose(old.fillna(0), v, rtol=1e-9)).sum())
    t.loc[v.index, column] = v
    out = t.reset_index().sort_values(key, ignore_index=True)[list(table.columns)]
    return out, len(added), revised
