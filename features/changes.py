"""What changed between two data vintages, and how the headline moved (pure functions).

``what_changed`` compares two export tables (``reporter, partner, year, export_usd``) and
returns one table: rows of kind ``new year`` (one per reporter-year the old vintage did not
have), ``revision`` (a partner-year whose value moved by more than ``rel`` *and* more than
``abs_usd``), ``new`` (a partner-year added to a year the old vintage had) and ``removed``.
``headline_move`` compares the dependence share in the last forecast year of two runs.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["CHANGE_COLUMNS", "REVISION_ABS_USD", "REVISION_REL", "headline_move", "what_changed"]

REVISION_REL = 0.05
REVISION_ABS_USD = 50e6
CHANGE_COLUMNS = ["reporter", "partner", "year", "kind", "old_usd", "new_usd", "change_usd",
                  "change_pct"]  # fmt: skip
_KEY = ["reporter", "partner", "year"]


def what_changed(
    old: pd.DataFrame,
    new: pd.DataFrame,
    *,
    rel: float = REVISION_REL,
    abs_usd: float = REVISION_ABS_USD,
) -> pd.DataFrame:
    """The changes from ``old`` to ``new`` that a reader should be told about.

    Args:
        old: Export table of the previous vintage.
        new: Export table of this vintage.
        rel: Relative threshold of a revision (0.05 = 5 %).
        abs_usd: Absolute threshold of a revision in USD.

    Returns:
        :data:`CHANGE_COLUMNS`, sorted by kind, reporter, year and the size of the change. A
        ``new year`` row has partner ``*`` and the year's partner sum as ``new_usd``.
    """
    a = old[[*_KEY, "export_usd"]].rename(columns={"export_usd": "old_usd"})
    b = new[[*_KEY, "export_usd"]].rename(columns={"export_usd": "new_usd"})
    both = a.merge(b, on=_KEY, how="outer")
    old_years = set(map(tuple, a[["reporter", "year"]].drop_duplicates().to_numpy()))
    in_old_year = [(r, y) in old_years for r, y in zip(both["reporter"], both["year"], strict=True)]
    both = both.assign(in_old_year=in_old_year)
    fresh = both.loc[~both["in_old_year"]]
    new_years = (
        fresh.groupby(["reporter", "year"], as_index=False)["new_usd"].sum().assign(partner="*")
    )
    new_years = new_years.assign(kind="new year", old_usd=np.nan)
    rest = both.loc[both["in_old_year"]].copy()
    change = rest["new_usd"].fillna(0) - rest["old_usd"].fillna(0)
    pct = change / rest["old_usd"].where(rest["old_usd"] > 0)
    big = (change.abs() > abs_usd) & ((pct.abs() > rel) | pct.isna())
    kind = np.select(
        [rest["old_usd"].isna(), rest["new_usd"].isna()], ["new", "removed"], "revision"
    )
    rest = rest.assign(kind=kind).loc[big | rest["old_usd"].isna() | rest["new_usd"].isna()]
    out = pd.concat([new_years, rest], ignore_index=True)
    out = out.assign(
        change_usd=out["new_usd"].fillna(0) - out["old_usd"].fillna(0),
        change_pct=100 * (out["new_usd"] / out["old_usd"].where(out["old_usd"] > 0) - 1),
    )
    order = {"new year": 0, "revision": 1, "new": 2, "removed": 3}
    out = out.assign(_o=out["kind"].map(order), _a=-out["change_usd"].abs())
    out = out.sort_values(["_o", "reporter", "year", "_a"], ignore_index=True, kind="mergesort")
    return out[CHANGE_COLUMNS]


def headline_move(previous: pd.DataFrame, current: pd.DataFrame) -> dict[str, float | int]:
    """The dependence share in the last forecast year: previous run vs this one.

    Args:
        previous: Concentration table of the previous run (``kind``, ``year``,
            ``dependence_share``).
        current: Same for this run.

    Returns:
        ``previous_year``, ``previous_share``, ``current_year``, ``current_share`` and
        ``change_pp`` (percentage points; years may differ when the data gained a year).
    """

    def last(frame: pd.DataFrame) -> tuple[int, float]:
        rows = frame.loc[frame["kind"] == "forecast"]
        if rows.empty:
            rows = frame
        row = rows.loc[rows["year"].idxmax()]
        return int(row["year"]), float(row["dependence_share"])

    py, ps = last(previous)
    cy, cs = last(current)
    return {
        "previous_year": py,
        "previous_share": ps,
        "current_year": cy,
        "current_share": cs,
        "change_pp": 100 * (cs - ps),
    }
