"""The published backtest: every backtest forecast, so anyone can rescore the accuracy.

:func:`backtest_forecasts` turns the engine's scored backtest rows into the table written as
``outputs/<reporter>/backtest_forecasts.csv`` and logged to MLflow: one row per partner, origin
and target year with the actual, every candidate's forecast, ``Selected`` (the model chosen at
that origin from past errors only) with its interval bounds, the unit's MASE/RMSSE scales and
accuracy weight, and the WEO vintage the as-of rule gives for the origin.
:func:`models.metrics.evaluate_table` recomputes the published accuracy table from it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd

from exportcast.features.outlook import DEFAULT_AS_OF, vintages_by_origin
from exportcast.models.engine import EngineResult
from exportcast.models.metrics import cutoff_scales

__all__ = ["backtest_forecasts", "backtest_forecasts_columns", "engine_backtest_table"]

_SEP = "|"


def backtest_forecasts_columns(candidates: Sequence[str], levels: Sequence[int]) -> list[str]:
    """Column order of :func:`backtest_forecasts` for these candidates and interval levels."""
    bounds = [f"{side}_{lv}" for lv in levels for side in ("lo", "hi")]
    return [
        "partner", "origin", "year", "h", "actual", *candidates, "Selected", "selected_model",
        *bounds, "mase_scale", "rmsse_scale", "weight", "weo_vintage",
    ]  # fmt: skip


def backtest_forecasts(
    backtest: pd.DataFrame,
    history: pd.DataFrame,
    *,
    candidates: Sequence[str],
    choices: pd.DataFrame,
    levels: Sequence[int],
    weights: pd.Series | None,
    vintages: Mapping[int, str],
) -> pd.DataFrame:
    """The engine's scored backtest as a flat, self-contained table.

    Args:
        backtest: ``EngineResult.backtest`` (``unique_id, ds, cutoff, y``, candidates,
            ``Selected`` and ``Selected-lo/hi-<level>``).
        history: ``EngineResult.history`` (the histories the backtest was scored on).
        candidates: Candidate model columns (e.g. Naive, Drift, Theta, Ensemble).
        choices: ``EngineResult.choices`` (``cutoff, model``).
        levels: Interval levels.
        weights: ``EngineResult.weights`` (accuracy weight per ``unique_id``), or None.
        vintages: WEO vintage per origin (:func:`features.outlook.vintages_by_origin`).

    Returns:
        Columns :func:`backtest_forecasts_columns`, sorted by partner, origin, year.
        ``partner`` is the ISO3 code or ``REST``; ``weight`` is NaN when unweighted.
    """
    scales = cutoff_scales(backtest, history).rename(
        columns={"scale1": "mase_scale", "scale2": "rmsse_scale"}
    )
    rows = backtest.merge(scales, on=["unique_id", "cutoff"], how="left", validate="many_to_one")
    chosen = dict(zip(choices["cutoff"].astype(int), choices["model"].astype(str), strict=True))
    origin = rows["cutoff"].astype("int64")
    out = pd.DataFrame(
        {
            "partner": rows["unique_id"].astype(str).str.split(_SEP, n=1).str[-1],
            "origin": origin,
            "year": rows["ds"].astype("int64"),
            "h": (rows["ds"] - rows["cutoff"]).astype("int64"),
            "actual": rows["y"].astype("float64"),
        }
    )
    for name in [*candidates, "Selected"]:
        out[name] = rows[name].astype("float64")
    out["selected_model"] = origin.map(chosen)
    for lv in levels:
        out[f"lo_{lv}"] = rows[f"Selected-lo-{lv}"].astype("float64")
        out[f"hi_{lv}"] = rows[f"Selected-hi-{lv}"].astype("float64")
    out["mase_scale"] = rows["mase_scale"]
    out["rmsse_scale"] = rows["rmsse_scale"]
    out["weight"] = (
        rows["unique_id"].map(weights).astype("float64") if weights is not None else float("nan")
    )
    out["weo_vintage"] = origin.map(lambda t: vintages.get(int(t), ""))
    out = out[backtest_forecasts_columns(candidates, levels)]
    return out.sort_values(["partner", "origin", "year"], ignore_index=True)


def engine_backtest_table(
    engine: EngineResult,
    weo_vintages: pd.DataFrame,
    *,
    levels: Sequence[int],
    rule: str = DEFAULT_AS_OF,
) -> pd.DataFrame:
    """:func:`backtest_forecasts` of an engine result, with the WEO vintage of each origin.

    Args:
        engine: The engine's result.
        weo_vintages: The ``weo_vintages`` snapshot table.
        levels: Interval levels of the run.
        rule: WEO as-of rule (``forecast.weo_as_of``).

    Returns:
        The ``backtest_forecasts.csv`` table.
    """
    candidates = [str(m) for m in engine.accuracy["model"] if str(m) != "Selected"]
    origins = engine.backtest["cutoff"].unique()
    return backtest_forecasts(
        engine.backtest,
        engine.history if engine.history is not None else engine.backtest,
        candidates=candidates,
        choices=engine.choices,
        levels=levels,
        weights=engine.weights,
        vintages=vintages_by_origin(weo_vintages, origins, rule=rule),
    )
