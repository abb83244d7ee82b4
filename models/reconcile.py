"""Make partner forecasts and the reporter's total forecast coherent (partners sum to total).

Two methods:

- ``bottom_up``: the total is the sum of the partner forecasts.
- ``proportional`` (default): the total keeps its own forecast and every partner forecast (and
  its interval bounds) of a year is scaled by ``total / sum(partners)``. Scaling all partners of
  a year by one factor leaves their shares unchanged, so concentration and dependence indices
  come from the partner models while the level comes from the total's model, which forecasts
  the aggregate better than the sum of noisy partner forecasts (see BENCHMARKS.md: Theta on the
  world total has relMASE 0.86 vs naive).
"""

from __future__ import annotations

from typing import Literal

import pandas as pd

__all__ = ["reconcile"]


def reconcile(
    partners: pd.DataFrame,
    total: pd.DataFrame,
    *,
    value: str = "mean",
    method: Literal["proportional", "bottom_up"] = "proportional",
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Reconcile partner forecasts with a total forecast, year by year.

    Args:
        partners: ``unique_id, ds, <value>`` plus optional interval columns (any column whose
            name starts with ``lo``/``hi`` or ``<value>-``), one row per partner-year. Must
            cover every partner that makes up the total (put small partners in a rest series).
        total: ``ds, <value>`` (+ interval columns), one row per year.
        value: The point-forecast column.
        method: ``proportional`` or ``bottom_up`` (see module docstring).

    Returns:
        ``(partners, total)`` reconciled: partner values (and bounds) scaled per year, and the
        total with an added ``scale`` column (the factor applied that year, 1 for bottom-up).

    Raises:
        ValueError: Years missing on either side, or non-positive sums.
    """
    sums = partners.groupby("ds")[value].sum()
    tot = total.set_index("ds")[value]
    if set(sums.index) != set(tot.index):
        raise ValueError(
            f"reconcile: partner years {sorted(sums.index)} differ from total years {sorted(tot.index)}"
        )
    if (sums <= 0).any():
        raise ValueError("reconcile: partner forecasts must sum to a positive total every year")
    bounds = [c for c in partners.columns if c.startswith(("lo", "hi", f"{value}-"))]
    if method == "bottom_up":
        new_total = total.assign(**{value: total["ds"].map(sums).to_numpy(), "scale": 1.0})
        return partners.copy(), new_total
    if method != "proportional":
        raise ValueError(f"reconcile: unknown method {method!r}")
    factor = (tot / sums).rename("scale")
    f = partners["ds"].map(factor).to_numpy()
    scaled = partners.assign(**{c: partners[c].to_numpy() * f for c in [value, *bounds]})
    return scaled, total.assign(scale=total["ds"].map(factor).to_numpy())
