"""The engine's backtest stage: panel models' backtests and the origins that can be scored.

Step 1 of :mod:`models.engine`: the panel candidates (``models.demand``) backtest themselves
at the same origins as the per-series models, and a scored origin needs enough past errors.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from exportcast.features.errors import ExportcastError
from exportcast.models.protocol import PanelForecaster

__all__ = ["BacktestCoverageError", "add_panel_backtests", "scorable_origins"]


class BacktestCoverageError(ExportcastError, ValueError):
    """The series are too short for the configured backtest (names the years and the keys)."""


def _min_scores(levels: Sequence[float]) -> int:
    # the fewest errors whose conformal quantile is finite at every level
    n = 1
    while any(math.ceil((n + 1) * lv / 100) > n for lv in levels):
        n += 1
    return n


def scorable_origins(
    cv: pd.DataFrame, scored: Sequence[int], h: int, levels: Sequence[float]
) -> list[int]:
    """The scored origins whose past backtest errors can calibrate every interval.

    The rolling choice at origin ``S`` calibrates its intervals on errors of target years
    ``<= S``; every step ``1..h`` needs enough of them for a finite bound at every level (19
    for 95 %). Series that start late (e.g. a reporter whose data begin in 2006) leave the
    early origins without them; those origins are not scored.

    Raises:
        BacktestCoverageError: No scored origin qualifies.
    """
    need = _min_scores(levels)
    step = (cv["ds"] - cv["cutoff"]).to_numpy()
    ok = []
    for origin in scored:
        past = ((cv["cutoff"] < origin) & (cv["ds"] <= origin)).to_numpy()
        counts = np.bincount(step[past], minlength=h + 1)[1 : h + 1] if past.any() else []
        if len(counts) == h and min(counts) >= need:
            ok.append(int(origin))
    if not ok:
        first = int(cv["cutoff"].min()) if len(cv) else None
        raise BacktestCoverageError(
            f"no scored backtest origin ({min(scored)}-{max(scored)}) has {need} past errors at "
            f"every step 1-{h} to calibrate its {'/'.join(str(lv) for lv in levels)} % "
            f"intervals (the backtest's first origin with a forecast is {first}): the series "
            "are too short for this backtest; expected later scored origins "
            "(forecast.backtest.start) or a shorter horizon"
        )
    return ok


def add_panel_backtests(
    cv: pd.DataFrame,
    series: pd.DataFrame,
    panel_models: Sequence[PanelForecaster],
    origins: Sequence[int],
    h: int,
    *,
    history: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Join each panel model's backtest (its ``alias`` column) to ``cv``.

    With per-origin ``history`` (``unique_id, cutoff, ds, y``) each origin's backtest runs on
    the histories known at that origin, as the other candidates' do.

    Raises:
        ValueError: A panel model left a backtest row of ``cv`` without a forecast.
    """
    keys = ["unique_id", "ds", "cutoff"]
    for model in panel_models:
        if history is None:
            bt = model.backtest(series, list(origins), h)
        else:
            bt = pd.concat(
                [
                    model.backtest(part.drop(columns="cutoff"), [int(cutoff)], h)
                    for cutoff, part in history.groupby("cutoff")
                    if int(cutoff) in set(origins)
                ],
                ignore_index=True,
            )
        bt = bt[[*keys, model.alias]]
        cv = cv.merge(bt, on=keys, how="left")
        missing = cv[model.alias].isna().to_numpy()
        if missing.any():
            row = cv.loc[missing].iloc[0]
            raise ValueError(
                f"panel model {model.alias!r} has no backtest forecast for "
                f"unique_id={row['unique_id']!r}, cutoff={row['cutoff']}, ds={row['ds']} "
                f"({int(missing.sum())} rows): it must forecast every series at every origin"
            )
    return cv
