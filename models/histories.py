"""Histories as known at each backtest origin (the per-origin information set).

A plain series frame ``unique_id, ds, y`` is one history per series: at a backtest cutoff
``T`` the series' values to ``T`` are what was known. When the set of series itself depends on
the origin (the partners modelled on their own and the ``REST`` sum are decided with data to
``T`` only, :func:`features.series.origin_histories`), the same ``unique_id`` can have another
history at each origin. Such a frame carries a ``cutoff`` column: the rows of cutoff ``T`` with
``ds <= T`` are the history known at ``T`` (rows with ``ds > T`` are the actuals it is scored
on). The scoring functions (:mod:`models.metrics`, :mod:`models.intervals`,
:mod:`models.backtest`, :mod:`models.index_backtest`) take either form through these helpers.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["is_per_origin", "known_at_cutoffs", "values_at_cutoff"]


def is_per_origin(train: pd.DataFrame) -> bool:
    """True when ``train`` holds one history per origin (has a ``cutoff`` column)."""
    return "cutoff" in train.columns


def values_at_cutoff(train: pd.DataFrame) -> pd.DataFrame:
    """Each series' value in the cutoff year, as known then.

    Args:
        train: ``unique_id, ds, y`` (one history per series) or ``unique_id, cutoff, ds, y``.

    Returns:
        ``unique_id, cutoff, y``: for a plain frame every year is a possible cutoff; for a
        per-origin frame the rows with ``ds == cutoff``.
    """
    if is_per_origin(train):
        at = train.loc[train["ds"] == train["cutoff"], ["unique_id", "cutoff", "y"]]
        return at.reset_index(drop=True)
    return train.rename(columns={"ds": "cutoff"})[["unique_id", "cutoff", "y"]]


def known_at_cutoffs(train: pd.DataFrame) -> dict[tuple[object, int], tuple[int, np.ndarray]]:
    """For a per-origin frame: ``(unique_id, cutoff) -> (first year, values to the cutoff)``.

    The values are a float array (a view into one sorted copy: thousands of histories, so
    no per-group pandas objects).
    """
    known = train.loc[train["ds"] <= train["cutoff"]].sort_values(["unique_id", "cutoff", "ds"])
    uid, cutoff = known["unique_id"].to_numpy(), known["cutoff"].to_numpy()
    ds, y = known["ds"].to_numpy(), known["y"].to_numpy(dtype=float)
    if not len(known):
        return {}
    starts = np.flatnonzero(np.r_[True, (uid[1:] != uid[:-1]) | (cutoff[1:] != cutoff[:-1])])
    stops = [*starts[1:], len(known)]
    return {
        (uid[a], int(cutoff[a])): (int(ds[a]), y[a:b]) for a, b in zip(starts, stops, strict=True)
    }
