"""The fallback record of a forecast or backtest: which fits the fallback model replaced.

Read from the ``fallback`` column written by :mod:`models.forecasting` (the aliases replaced
for a series and cutoff, comma-separated, or ``""``), and the limit on how often the fallback
may stand in for a model before the run fails (:class:`FallbackShareError`).
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from exportcast.features.errors import ExportcastError

__all__ = [
    "MAX_FALLBACK_SHARE",
    "FallbackShareError",
    "check_fallbacks",
    "fallback_counts",
    "fallback_pairs",
    "fallback_table",
]


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


class FallbackShareError(ExportcastError, ValueError):
    """A model failed on more fits than ``max_fallback_share`` allows (names model and share)."""


# Default of forecast.max_fallback_share: Korea's default backtest replaces 1.1 % of Theta's
# fits (short early series), so 5 % leaves room for other reporters and catches a broken model.
MAX_FALLBACK_SHARE = 0.05


def check_fallbacks(counts: pd.DataFrame, max_share: float) -> None:
    """Fail when any model was replaced by the fallback on more than ``max_share`` of its fits.

    Args:
        counts: ``stage, model, replaced, fits, share`` (:func:`fallback_table`).
        max_share: Largest tolerated share (0-1).

    Raises:
        FallbackShareError: Naming each model over the limit, its stage, count and share.
    """
    over = counts[counts["share"] > max_share]
    if over.empty:
        return
    worst = "; ".join(
        f"{r.model} in the {r.stage} ({r.replaced} of {r.fits} fits, {r.share:.1%})"
        for r in over.itertuples()
    )
    raise FallbackShareError(
        f"the fallback model (Naive) replaced {worst}: more than "
        f"forecast.max_fallback_share = {max_share:.0%}; expected a model that fits these "
        "series (drop it from forecast.models) or a larger forecast.max_fallback_share"
    )


def fallback_table(
    backtest: pd.DataFrame, live: pd.DataFrame, models: Sequence[str]
) -> pd.DataFrame:
    """Fallback counts of the backtest and the live forecast: ``stage, model, replaced, fits, share``."""
    parts = []
    for stage, frame, names in (
        ("backtest", backtest, list(models)),
        ("live forecast", live, None),
    ):
        if "fallback" not in frame.columns:
            continue
        if names is None:
            names = [m for m in models if m in frame.columns]
        parts.append(fallback_counts(frame, names).assign(stage=stage))
    if not parts:
        return pd.DataFrame(columns=["stage", "model", "replaced", "fits", "share"])
    out = pd.concat(parts, ignore_index=True)
    return out[["stage", "model", "replaced", "fits", "share"]]
