"""Checks of what enters the series loop: the long series frame, the models, levels and counts.

Bad input fails here with an error naming the series and year (or the argument) and what was
expected, before any model is fitted (:mod:`models.forecasting`).
"""

from __future__ import annotations

from collections.abc import Sequence
from numbers import Real
from typing import Any

import numpy as np
import pandas as pd

from exportcast.models.protocol import Forecaster

__all__ = [
    "RESERVED_COLUMNS",
    "SERIES_KEYS",
    "check_levels",
    "check_models",
    "check_positive_int",
    "check_series",
    "needs_positive",
]


RESERVED_COLUMNS = ("unique_id", "ds", "y", "cutoff", "fallback")


SERIES_KEYS = ("unique_id", "ds", "y")


def _row_label(frame: pd.DataFrame, mask: np.ndarray) -> str:
    row = frame.loc[np.flatnonzero(mask)[0]]
    uid, ds = (v.item() if isinstance(v, np.generic) else v for v in (row["unique_id"], row["ds"]))
    return f"unique_id={uid!r}, ds={ds!r}"


def check_series(series: pd.DataFrame, *, positive: bool = False) -> pd.DataFrame:
    """Validate a long frame of annual series and return a sorted copy.

    Args:
        series: Long frame ``unique_id, ds, y`` plus optional numeric exogenous columns.
        positive: Also require ``y > 0`` (log-scale models need it).

    Returns:
        A new frame sorted by ``unique_id, ds`` with a fresh index and ``ds`` as int64.

    Raises:
        ValueError: On missing columns, non-integer ``ds``, non-numeric or non-finite ``y``,
            non-numeric exogenous columns, duplicate ``(unique_id, ds)``, gaps in ``ds``, or
            (with ``positive``) ``y <= 0``; the message names the first offending row.
    """
    if not isinstance(series, pd.DataFrame):
        raise TypeError(f"series must be a pandas DataFrame, got {type(series).__name__}")
    missing = [col for col in SERIES_KEYS if col not in series.columns]
    if missing:
        raise ValueError(f"series is missing required column(s) {missing}")
    if series.empty:
        raise ValueError("series is empty")
    if series["unique_id"].isna().any():
        raise ValueError("unique_id contains missing values")
    if not pd.api.types.is_integer_dtype(series["ds"]):
        raise ValueError(f"ds must hold integer years, got dtype {series['ds'].dtype}")
    for col in series.columns.drop(["unique_id", "ds"]):
        if not pd.api.types.is_numeric_dtype(series[col]) or (
            col == "y" and pd.api.types.is_bool_dtype(series[col])
        ):
            raise ValueError(f"column {col!r} must be numeric, got dtype {series[col].dtype}")

    frame = series.sort_values(["unique_id", "ds"], kind="stable").reset_index(drop=True)
    frame["ds"] = frame["ds"].astype("int64")
    y = frame["y"].to_numpy(dtype=float)
    bad = ~np.isfinite(y)
    if bad.any():
        raise ValueError(f"y is missing or not finite at {_row_label(frame, bad)}")
    dup = frame.duplicated(["unique_id", "ds"]).to_numpy()
    if dup.any():
        raise ValueError(f"duplicate (unique_id, ds) at {_row_label(frame, dup)}")
    same = (frame["unique_id"] == frame["unique_id"].shift()).to_numpy()
    gap = same & (frame["ds"].diff().to_numpy() != 1)
    if gap.any():
        raise ValueError(
            f"gap in ds before {_row_label(frame, gap)} (each series needs every year)"
        )
    if positive:
        nonpos = y <= 0
        if nonpos.any():
            raise ValueError(
                f"y must be > 0 for log-scale models, got y <= 0 at {_row_label(frame, nonpos)}"
            )
    return frame


def check_models(models: Sequence[Forecaster], fallback: Forecaster | None) -> list[str]:
    """The models' aliases, once they are checked: forecasters, unique, not a reserved name."""
    if isinstance(models, str | bytes) or not isinstance(models, Sequence) or not models:
        raise ValueError("models must be a non-empty sequence of forecasters")
    for model in [*models, *([fallback] if fallback is not None else [])]:
        if not isinstance(model, Forecaster):
            raise TypeError(f"{model!r} is not a forecaster (needs alias, fit and predict)")
    aliases = [model.alias for model in models]
    for alias in aliases:
        if not isinstance(alias, str) or not alias or "," in alias:
            raise ValueError(f"alias must be a non-empty string without commas, got {alias!r}")
        if alias in RESERVED_COLUMNS:
            raise ValueError(f"alias {alias!r} clashes with a reserved column {RESERVED_COLUMNS}")
    duplicates = sorted({alias for alias in aliases if aliases.count(alias) > 1})
    if duplicates:
        raise ValueError(
            f"model aliases must be unique (they become column names); duplicated: {duplicates}"
        )
    return aliases


def check_levels(level: Sequence[float] | None) -> list[float]:
    """The interval levels, sorted and without duplicates, each checked to lie in (0, 100)."""
    if level is None:
        return []
    levels = sorted(set(level))
    for lv in levels:
        if isinstance(lv, bool) or not isinstance(lv, Real) or not 0 < lv < 100:
            raise ValueError(f"interval levels must be numbers in (0, 100), got {lv!r}")
    return levels


def check_positive_int(name: str, value: Any) -> int:
    """``value`` as an int, or an error naming ``name`` when it is not a positive integer."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def needs_positive(models: Sequence[Forecaster], fallback: Forecaster | None) -> bool:
    """Whether any model (or the fallback) fits on logs, so the series must be positive."""
    return any(getattr(m, "log", False) is True for m in [*models, fallback] if m is not None)
