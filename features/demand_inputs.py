"""Partner covariates of the demand model (``models.demand``) from the snapshot tables.

Time-varying (``unique_id, ds, ...``): ``market`` = the partner's merchandise imports (WDI,
USD; the reporter's share of it is a feature), ``pop_growth_pct`` (WDI) and ``fta`` = 1 from
the year the reporter's first agreement with the partner entered into force. Static per series:
``log_dist`` = log of the population-weighted distance (CEPII). The model reads the
time-varying ones only up to each origin.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["demand_covariates"]

_SEP = "|"


def demand_covariates(
    series: pd.DataFrame,
    indicators: pd.DataFrame,
    pairs: pd.DataFrame,
    fta: pd.DataFrame,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The demand model's ``exog`` and ``static`` frames for ``series`` (ids ``REP|PARTNER``).

    Args:
        series: Long frame with ``unique_id`` = ``"REPORTER|PARTNER"``.
        indicators: Snapshot ``indicators`` (``country, year, merch_imports_usd,
            pop_growth_pct``).
        pairs: Snapshot ``pairs`` (``reporter, partner, distance_km``).
        fta: Snapshot ``fta`` (``reporter, partner, in_force_date``).

    Returns:
        ``exog`` (``unique_id, ds, market, pop_growth_pct, fta``) and ``static`` (index
        ``unique_id``, column ``log_dist``).

    Raises:
        ValueError: A table lacks a needed column (named).
    """
    for name, frame, cols in (
        ("indicators", indicators, ["country", "year", "merch_imports_usd", "pop_growth_pct"]),
        ("pairs", pairs, ["reporter", "partner", "distance_km"]),
        ("fta", fta, ["reporter", "partner", "in_force_date"]),
    ):
        missing = [c for c in cols if c not in frame.columns]
        if missing:
            raise ValueError(f"snapshot table {name!r} lacks column(s) {missing}")
    ids = pd.Index(series["unique_id"].unique())
    parts = ids.str.split(_SEP)
    if any(len(p) != 2 for p in parts):
        raise ValueError("unique_id must look like 'REPORTER|PARTNER'")
    key = pd.DataFrame({"unique_id": ids, "reporter": parts.str[0], "partner": parts.str[1]})
    ind = indicators.rename(
        columns={"country": "partner", "year": "ds", "merch_imports_usd": "market"}
    )[["partner", "ds", "market", "pop_growth_pct"]]
    exog = key.merge(ind, on="partner", how="inner")
    agreements = fta.dropna(subset=["in_force_date"])
    first = (
        agreements.groupby(["reporter", "partner"])["in_force_date"].min().dt.year.rename("since")
    )
    exog = exog.merge(first.reset_index(), on=["reporter", "partner"], how="left")
    exog["fta"] = (exog["ds"] >= exog["since"]).astype(float)
    exog["ds"] = exog["ds"].astype("int64")
    dist = pairs.set_index(["reporter", "partner"])["distance_km"]
    index = pd.MultiIndex.from_frame(key[["reporter", "partner"]])
    static = pd.DataFrame(
        {"log_dist": np.log(dist.reindex(index).to_numpy(dtype=float))}, index=ids
    )
    cols = ["unique_id", "ds", "market", "pop_growth_pct", "fta"]
    return exog[cols].sort_values(["unique_id", "ds"], ignore_index=True), static
