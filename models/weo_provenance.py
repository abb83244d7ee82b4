"""Which WEO vintage fed each live forecast row (``forecasts.csv``, column ``weo_vintage``).

Only candidates that read the WEO outlook use a vintage: the demand model (:mod:`models.demand`,
alias ``Demand``), whose live forecast reads the newest vintage in the snapshot. The
time-series candidates (Naive, Drift, Theta, DampedETS, AutoARIMA) and their ``Ensemble``
(which never includes a panel model, :func:`models.engine.run_engine`) use none.
"""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

__all__ = ["NO_WEO", "WEO_MODELS", "weo_vintage_per_row"]

NO_WEO = "none"
"""The ``weo_vintage`` of a row whose model read no WEO vintage."""

WEO_MODELS = frozenset({"Demand"})
"""Candidates whose forecasts read the WEO outlook."""


def weo_vintage_per_row(
    models: Iterable[str], live_vintage: str | None, *, weo_models: Iterable[str] = WEO_MODELS
) -> pd.Series:
    """The WEO vintage behind each live forecast row, from the row's model.

    Args:
        models: The model of each row (``forecasts.csv`` column ``model``).
        live_vintage: The newest WEO vintage in the snapshot (what the live forecast of a
            WEO-reading model uses), None when the snapshot has no ``weo_vintages`` table.
        weo_models: Models that read the WEO outlook.

    Returns:
        One label per row: the vintage (e.g. ``"F2025"``) or :data:`NO_WEO`.

    Raises:
        ValueError: A row's model reads the WEO but no live vintage is known.
    """
    names = pd.Series(list(models), dtype=object)
    reads = names.isin(set(weo_models))
    if reads.any() and not live_vintage:
        raise ValueError(
            f"model {names[reads].iloc[0]!r} reads the WEO outlook, but no live WEO vintage "
            "is known; expected the snapshot's weo_vintages table"
        )
    return names.where(~reads, live_vintage).where(reads, NO_WEO)
