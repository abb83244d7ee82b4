"""Track record across data vintages: what earlier runs forecast and what happened (pure).

For an earlier run (its forecasts, its concentration table and the partner data it saw) and
the data as known now, :func:`score_run` scores every forecast year that now has data and lies
**after the run's last data year** (the run never saw it): total exports, the dependence
share (China + US) and the partners' mean absolute percentage error, each against the
no-change forecast from the run's last data year. :func:`track_metrics` sums the table up for
MLflow (``vintage_track_*``). Reading the runs from MLflow is :mod:`flows.run_history`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["MEASURES", "MIN_SHARE", "REST", "TRACK_COLUMNS", "score_run", "track_metrics"]

REST = "REST"  # the forecast series of the partners too small to model (features.series)
MIN_SHARE = 0.005  # partners in the MAPE: at least 0.5 % of exports in the run's last data year
MEASURES = ("total_usd", "dependence_share", "partner_mape")
"""``total_usd``: errors in % of the actual; ``dependence_share``: values are fractions,
errors in percentage points; ``partner_mape``: ``error``/``no_change_error`` are the mean
absolute % errors over the ``n_partners`` modelled partners with at least :data:`MIN_SHARE` of
exports in the run's last data year (``forecast``/``actual`` empty)."""
TRACK_COLUMNS = [
    "run_id", "run_date", "data_vintage", "last_year", "year", "measure", "forecast", "actual",
    "error", "no_change", "no_change_error", "n_partners", "no_change_data",
]  # fmt: skip


def _values(frame: pd.DataFrame, year: int, value: str) -> pd.Series:
    rows = frame.loc[frame["year"] == year]
    return rows.groupby(rows["partner"].astype(str))[value].sum()


def _share(conc: pd.DataFrame, year: int, kind: str) -> float:
    rows = conc.loc[(conc["year"] == year) & (conc["kind"] == kind), "dependence_share"]
    return float(rows.iloc[0]) if len(rows) else np.nan


def _pct(forecast: float, actual: float) -> float:
    return 100.0 * (forecast / actual - 1.0) if actual > 0 else np.nan


def _mape(forecast: pd.Series, actual: pd.Series) -> tuple[float, int]:
    if actual.empty:
        return np.nan, 0
    return float(100.0 * ((forecast - actual).abs() / actual).mean()), len(actual)


def score_run(
    run: Mapping[str, Any],
    forecasts: pd.DataFrame,
    concentration: pd.DataFrame,
    seen: pd.DataFrame,
    actual: pd.DataFrame,
    actual_concentration: pd.DataFrame,
    *,
    no_change_data: str = "run",
) -> pd.DataFrame:
    """Score one earlier run's forecasts against the data as known now.

    Args:
        run: ``run_id``, ``run_date``, ``data_vintage`` and ``last_year`` (the last data year
            the run used; its forecasts start the year after).
        forecasts: The run's ``forecasts.csv`` (``partner, year, mean``; the ``REST`` series
            counts in the total, not in the partner error).
        concentration: The run's ``concentration.csv`` (``year, kind, dependence_share``):
            its forecast share and the share in its last data year (no change).
        seen: ``partner, year, export_usd`` of the run's last data year as the run saw it
            (the no-change forecast of the total and of each partner).
        actual: ``partner, year, export_usd`` as known now (this run's panel).
        actual_concentration: This run's concentration table (the actual share).
        no_change_data: Where ``seen`` came from, copied into the table (``run``: the run's
            own data; ``revised``: today's data for that year, when the run's are gone).

    Returns:
        :data:`TRACK_COLUMNS`, one row per scored year and measure; empty when no forecast
        year of the run has data yet.
    """
    last = int(run["last_year"])
    have = set(actual["year"].astype(int))
    years = sorted(y for y in set(forecasts["year"].astype(int)) if y > last and y in have)
    base = {k: run[k] for k in ("run_id", "run_date", "data_vintage")}
    nc_values = _values(seen, last, "export_usd")
    nc_total = float(nc_values.sum()) if len(nc_values) else np.nan
    nc_share = _share(concentration, last, "history")
    rows: list[dict[str, Any]] = []
    for year in years:
        fc = _values(forecasts, year, "mean")
        act = _values(actual, year, "export_usd")
        total_f, total_a = float(fc.sum()), float(act.sum())
        share_f = _share(concentration, year, "forecast")
        share_a = _share(actual_concentration, year, "history")
        # the same partners for the model and no change: modelled, with data then and now
        partners = _common(fc.drop(REST, errors="ignore"), act, nc_values)
        mape, n = _mape(fc.reindex(partners), act.reindex(partners))
        nc_mape, _ = _mape(nc_values.reindex(partners), act.reindex(partners))
        common = {**base, "last_year": last, "year": year, "no_change_data": no_change_data}
        rows += [
            {**common, "measure": "total_usd", "forecast": total_f, "actual": total_a,
             "error": _pct(total_f, total_a), "no_change": nc_total,
             "no_change_error": _pct(nc_total, total_a), "n_partners": len(fc)},
            {**common, "measure": "dependence_share", "forecast": share_f, "actual": share_a,
             "error": 100.0 * (share_f - share_a), "no_change": nc_share,
             "no_change_error": 100.0 * (nc_share - share_a), "n_partners": np.nan},
            {**common, "measure": "partner_mape", "forecast": np.nan, "actual": np.nan,
             "error": mape, "no_change": np.nan, "no_change_error": nc_mape, "n_partners": n},
        ]  # fmt: skip
    return pd.DataFrame(rows, columns=TRACK_COLUMNS)


def _common(forecast: pd.Series, actual: pd.Series, seen: pd.Series) -> pd.Index:
    """The partners of the MAPE: forecast, positive actual, :data:`MIN_SHARE` of exports then.

    Tiny partners' percentage errors would swamp the mean.
    """
    idx = forecast.index.intersection(actual.index).intersection(seen.index)
    share = seen.reindex(idx) / seen.sum() if seen.sum() > 0 else seen.reindex(idx) * np.nan
    ok = (actual.reindex(idx) > 0) & forecast.reindex(idx).notna() & (share >= MIN_SHARE)
    return idx[ok.to_numpy()]


def track_metrics(table: pd.DataFrame) -> dict[str, float]:
    """MLflow metrics of the track record (absent measures give no metric).

    Returns:
        ``vintage_track_runs`` and ``vintage_track_years`` (scored run-years),
        ``vintage_track_mape`` / ``_mape_no_change`` (mean over the run-years of the partners'
        MAPE, %), ``vintage_track_total_ape`` / ``_no_change`` (mean absolute % error of total
        exports) and ``vintage_track_share_mae_pp`` / ``_no_change`` (China + US share,
        percentage points).
    """
    if table.empty:
        return {"vintage_track_runs": 0.0, "vintage_track_years": 0.0}
    out = {
        "vintage_track_runs": float(table["run_id"].nunique()),
        "vintage_track_years": float(len(table[["run_id", "year"]].drop_duplicates())),
    }
    names: Sequence[tuple[str, str]] = (
        ("partner_mape", "vintage_track_mape"),
        ("total_usd", "vintage_track_total_ape"),
        ("dependence_share", "vintage_track_share_mae_pp"),
    )
    for measure, name in names:
        rows = table.loc[table["measure"] == measure]
        for column, suffix in (("error", ""), ("no_change_error", "_no_change")):
            values = rows[column].astype(float).abs().dropna()
            if len(values):
                out[f"{name}{suffix}"] = float(values.mean())
    return out
