"""Merge a fetched IMF WEO vintage into the snapshot tables (pure functions, no I/O).

Two tables take a WEO release (docs/data-updates.md):

- ``indicators``: its ``weo_*`` columns (:data:`features.sources.weo.WEO_COLUMNS` with the
  ``weo_`` prefix) get the release's values for the country-years it has (a null never
  replaces a value; the World row is not an indicator row), and ``weo_is_projection`` the
  projection flag of real GDP growth, as :func:`features.sources.weo.weo_wide` defines it.
- ``weo_vintages``: the release becomes one more vintage (``S2026``, ...) with the forecasts of
  real GDP growth and CPI inflation for target years ``vintage_year`` to ``vintage_year + 5``,
  like every vintage of the table. A vintage already in the table is replaced. A fall release's
  actuals for ``vintage_year - 1`` are the first-release outturns ``tv_1`` of that year and fill
  blanks only (an outturn the table has is never overwritten); a spring release's actuals are
  not ``tv_1`` and are not used as outturns.

The live forecast uses the newest vintage of ``weo_vintages``
(:func:`features.outlook.vintage_at` without an origin), so a newer WEO fetched into a vintage
is what the live outlook reads; the backtest's as-of rules are unchanged.

Units: the release's amounts (GDP in USD, GDP per capita, population) must agree with the
same country-years of the table within a factor of 10 (``OBS_VALUE`` is in the series unit;
applying ``SCALE`` again, or a file in billions, is caught).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from exportcast.features.release import merge_indicator
from exportcast.features.sources._common import check_unit_ratio
from exportcast.features.sources.weo import WEO_COLUMNS
from exportcast.features.sources.weo_api import WORLD, WeoRelease
from exportcast.features.sources.weo_vintages import VINTAGE_COLUMNS, published_date

__all__ = [
    "VINTAGE_TARGETS",
    "check_weo_units",
    "merge_weo_indicators",
    "merge_weo_vintage",
    "weo_indicator_values",
]

VINTAGE_TARGETS = {"NGDP_RPCH": "ngdp_rpch", "PCPIPCH": "pcpi_pch"}
_LEVELS = ("NGDPD", "NGDPDPC", "LP")
_UNIT_BAND = (0.1, 10.0)
_MAX_HORIZON = 5


def weo_indicator_values(release: WeoRelease) -> dict[str, pd.DataFrame]:
    """``indicators`` column -> ``country, year, value`` of the release (World left out)."""
    values = release.values.loc[release.values["country"] != WORLD]
    out = {}
    for concept, column in WEO_COLUMNS.items():
        rows = values.loc[values["concept"] == concept, ["country", "year", "value"]]
        out[f"weo_{column}"] = rows.reset_index(drop=True)
    return out


def check_weo_units(release: WeoRelease, indicators: pd.DataFrame) -> None:
    """Raise when an amount of the release is a factor > 10 off the table's values.

    Raises:
        SourceError: Median ratio of a level concept outside [0.1, 10] (names the request).
    """
    for concept in _LEVELS:
        column = f"weo_{WEO_COLUMNS[concept]}"
        if column not in indicators.columns:
            continue
        new = release.values.loc[release.values["concept"] == concept]
        same = new.merge(indicators[["country", "year", column]], on=["country", "year"])
        same = same.loc[(same["value"] > 0) & (same[column] > 0)]
        if len(same) < 3:
            continue
        ratio = float(np.median(same["value"] / same[column]))
        check_unit_ratio(
            ratio,
            _UNIT_BAND,
            release.name,
            what=f"{concept}: median ratio of {len(same)} values to the same country-years in "
            "the active vintage",
            small=": the values look like thousands of the series unit (OBS_VALUE is already "
            "in the unit; expected it as given)",
            large=": the values look 1000x too large (was SCALE applied to OBS_VALUE?)",
            column="OBS_VALUE",
        )


def merge_weo_indicators(table: pd.DataFrame, release: WeoRelease) -> tuple[pd.DataFrame, int, int]:
    """Put the release into the ``indicators`` table's ``weo_*`` columns.

    Args:
        table: The vintage's ``indicators``.
        release: The fetched WEO.

    Returns:
        ``(table, added, revised)``: country-years added and values changed, over all columns.

    Raises:
        SourceError: A unit mismatch (:func:`check_weo_units`).
    """
    check_weo_units(release, table)
    added = revised = 0
    for column, values in weo_indicator_values(release).items():
        if column not in table.columns:
            continue
        before = len(table)
        table, _, n_revised = merge_indicator(table, values, column)
        added += len(table) - before
        revised += n_revised
    if "weo_is_projection" in table.columns:
        growth = release.values.loc[
            (release.values["concept"] == "NGDP_RPCH")
            & (release.values["country"] != WORLD)
            & release.values["is_projection"].notna()
        ]
        key = ["country", "year"]
        t = table.set_index(key)
        idx = pd.MultiIndex.from_frame(growth[key])
        flags = pd.Series(growth["is_projection"].astype(bool).to_numpy(), index=idx)
        t.loc[idx, "weo_is_projection"] = flags.astype(object)
        table = t.reset_index()[list(table.columns)]
    return table, added, revised


def merge_weo_vintage(table: pd.DataFrame, release: WeoRelease) -> tuple[pd.DataFrame, int, bool]:
    """Add (or replace) the release's vintage in the ``weo_vintages`` table.

    Returns:
        ``(table, rows, replaced)``: the new table (sorted like the snapshot's), the number of
        rows of the vintage, and whether the vintage was already in the table.
    """
    v = release.values
    first, last = release.vintage_year, release.vintage_year + _MAX_HORIZON
    ahead = v.loc[
        v["concept"].isin(list(VINTAGE_TARGETS)) & v["year"].between(first, last)
    ].reset_index(drop=True)
    rows = pd.DataFrame(
        {
            "country": ahead["country"].astype(str),
            "vintage": release.vintage,
            "vintage_year": np.int64(release.vintage_year),
            "season": release.season,
            "published": published_date(
                [release.vintage_year] * len(ahead), [release.season] * len(ahead)
            ).to_numpy(),
            "target": ahead["concept"].map(VINTAGE_TARGETS),
            "target_year": ahead["year"].astype("int64"),
            "prediction": ahead["value"].astype("float64"),
            "outturn": np.nan,
        }
    )
    replaced = bool((table["vintage"] == release.vintage).any())
    out = pd.concat(
        [table.loc[table["vintage"] != release.vintage, VINTAGE_COLUMNS], rows[VINTAGE_COLUMNS]],
        ignore_index=True,
    )
    if release.season == "F":
        actual = v.loc[
            v["concept"].isin(list(VINTAGE_TARGETS))
            & (v["year"] == first - 1)
            & v["is_projection"].eq(False).fillna(False)
        ]
        tv1 = pd.Series(
            actual["value"].to_numpy(dtype="float64"),
            index=pd.MultiIndex.from_arrays(
                [actual["country"], actual["concept"].map(VINTAGE_TARGETS), actual["year"]]
            ),
        )
        key = pd.MultiIndex.from_frame(out[["country", "target", "target_year"]])
        fill = tv1.reindex(key).to_numpy()
        out["outturn"] = out["outturn"].fillna(pd.Series(fill, index=out.index))
    out = out.astype({"vintage_year": "int64", "target_year": "int64"})
    out["published"] = out["published"].astype("datetime64[ns]")
    out = out.sort_values(["country", "target", "published", "target_year"], kind="mergesort")
    return out.reset_index(drop=True), len(rows), replaced
