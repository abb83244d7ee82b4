"""The fallback record of a forecast or backtest: which fits the fallback model replaced.

Read from the ``fallback`` column written by :mod:`models.forecasting` (the aliases replaced
for a series and cutoff, comma-separated, or ``""``).
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

__all__ = ["fallback_counts", "fallback_pairs"]


def fallback_pairs(frame: pd.DataFrame) -> pd.DataFrame:
    """Long table of which models were replaced by the fallback, from a ``fallback`` column.

    Args:
        frame: Output of :func:`forecast_panel` or :func:`cross_validate`.

    Returns:
        ``unique_id, alias`` (plus ``cutoff`` for backtests), one row per replaced fit.
    """
    keys = ["unique_id", "cutoff"] if "cutoff" in frame.columns else ["unique_id"]
    used = frame.loc[frame["fallback"] != "", [*keys, "fallback"]].drop_duplicates()
    pairs = used.assign(alias=used["fallback"].str.split(",")).explode("alias")
    return pairs[[*keys, "alias"]].reset_index(drop=True)


def fallback_counts(frame: pd.DataFrame, aliases: Sequence[str]) -> pd.DataFrame:
    """How often the fallback replaced each model, from a ``fallback`` column.

    Args:
        frame: Output of :func:`forecast_panel` or :func:`cross_validate`.
        aliases: The models to count (a model never replaced gets a row with 0).

    Returns:
        ``model, replaced, fits, share``: fits replaced, fits made (one per series, and
        cutoff in a backtest) and their ratio.
    """
    keys = ["unique_id", "cutoff"] if "cutoff" in frame.columns else ["unique_id"]
    fits = int(frame[keys].drop_duplicates().shape[0]) if len(frame) else 0
    replaced = fallback_pairs(frame).groupby("alias").size() if len(frame) else pd.Series()
    rows = [{"model": a, "replaced": int(replaced.get(a, 0)), "fits": fits} for a in aliases]
    out = pd.DataFrame(rows, columns=["model", "replaced", "fits"])
    return out.assign(share=out["replaced"] / out["fits"].where(out["fits"] > 0))
