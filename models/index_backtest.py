"""Track record of the dependence share computed from the partner forecasts.

The engine's rolling-origin backtest scores each partner series on its own. The report's
headline, though, is an index across partners: the share of the reporter's exports that goes
to the dependence set (e.g. China + United States). :func:`index_backtest` rebuilds that share
at every backtest origin and target year from the backtest's partner forecasts, next to the
actual share and the "no change" benchmark (the share at the origin), always over the same
series; :func:`summarize_index_backtest` turns it into errors in percentage points by horizon.

Series ids are ``"<reporter>|<partner>"`` (the partner code is the text after the last
``|``); one of them may be an aggregate of small partners (``"<reporter>|REST"``), which
counts in the denominator like any other partner.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from exportcast.models.histories import values_at_cutoff

__all__ = [
    "ALL",
    "INDEX_BACKTEST_COLUMNS",
    "SUMMARY_COLUMNS",
    "has_every_partner",
    "index_backtest",
    "summarize_index_backtest",
]

INDEX_BACKTEST_COLUMNS = ["cutoff", "year", "h", "forecast", "actual", "no_change", "n_series"]
SUMMARY_COLUMNS = ["h", "mae", "mae_no_change", "bias", "n"]
ALL = "all"  # the ``h`` of the summary row over every horizon


def _require(frame: pd.DataFrame, columns: Sequence[str], name: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(
            f"index_backtest: {name} has no column {missing[0]!r}"
            + (f" (also missing: {', '.join(map(repr, missing[1:]))})" if missing[1:] else "")
        )


def _partner(ids: pd.Series) -> pd.Series:
    return ids.astype(str).str.rpartition("|")[2]


def _check_inputs(
    backtest: pd.DataFrame, series: pd.DataFrame, model: str, dependence_set: Sequence[str]
) -> tuple[list[str], pd.Series]:
    """The dependence partners as strings and each backtest row's partner, once checked.

    Raises:
        ValueError: As documented in :func:`index_backtest`.
    """
    _require(backtest, ["unique_id", "ds", "cutoff", "y"], "backtest")
    if model not in backtest.columns:
        known = [c for c in backtest.columns if c not in ("unique_id", "ds", "cutoff", "y")]
        raise ValueError(
            f"index_backtest: backtest has no forecasts of model {model!r}; columns: {known}"
        )
    _require(series, ["unique_id", "ds", "y"], "series")
    dep = [str(c) for c in dependence_set]
    if not dep:
        raise ValueError("index_backtest: the dependence set is empty")
    partners = _partner(backtest["unique_id"])
    known = set(_partner(series["unique_id"])) | set(partners)
    absent = [c for c in dep if c not in known]
    if absent:
        raise ValueError(
            f"index_backtest: dependence partner(s) {', '.join(absent)} have no series in the "
            "backtest or its history"
        )
    return dep, partners


def has_every_partner(backtest: pd.DataFrame, dependence_set: Sequence[str]) -> bool:
    """Whether every dependence partner has a series somewhere in ``backtest``.

    False when a partner modelled live was inside REST at every backtest origin (the split
    decided at each origin): then :func:`index_backtest` has no origin to score.
    """
    return set(map(str, dependence_set)) <= set(_partner(backtest["unique_id"]))


def _cutoffs_with_every_partner(
    cutoff: pd.Series, partners: pd.Series, dep: list[str]
) -> pd.Series:
    """Whether each row's cutoff has a series of every dependence partner.

    With the partner split decided at each origin, a partner with a gap in the years before an
    early origin is inside REST there: the dependence share cannot be computed at that origin.
    """
    is_dep = partners.isin(dep).to_numpy()
    n_dep = pd.Series(partners.to_numpy()[is_dep]).groupby(cutoff.to_numpy()[is_dep]).nunique()
    complete = set(n_dep.index[n_dep == len(set(dep))])
    return cutoff.isin(complete)


def index_backtest(
    backtest: pd.DataFrame,
    series: pd.DataFrame,
    model: str,
    dependence_set: Sequence[str],
) -> pd.DataFrame:
    """The dependence share forecast at each backtest origin, with the actual and no change.

    For each (cutoff, target year) the share is computed over the series that have a
    forecast of ``model``, an actual value and a value at the cutoff year in ``series``:

    * ``forecast`` = sum of the dependence partners' forecasts / sum of all forecasts
      (forecasts below zero count as zero, as in the engine's live forecast);
    * ``actual`` = the same with the actual values;
    * ``no_change`` = the same with the values at the cutoff year (the share stays at its
      last observed value).

    Args:
        backtest: Backtest rows ``unique_id, ds, cutoff, y`` and a column per model (e.g.
            ``EngineResult.backtest``); ``ds`` and ``cutoff`` are integer years.
        series: The history the backtest ran on, ``unique_id, ds, y``.
        model: The forecast column to score (``"Selected"``: the rolling, honest choice).
        dependence_set: Partner codes whose combined share is the index (e.g. ``CHN, USA``).

    Returns:
        One row per (cutoff, target year), sorted: ``cutoff, year, h, forecast, actual,
        no_change, n_series`` (shares as fractions, ``h = year - cutoff``, ``n_series`` the
        series the three shares are computed over). A share whose denominator is not
        positive is NaN. Only cutoffs at which every dependence partner has a series of its
        own are scored (at the others it is inside REST); none such: an empty frame.

    Raises:
        ValueError: A missing column or model, an empty dependence set, or a dependence
            partner that is neither in the backtest nor in its history (the message names it).
    """
    dep, partners = _check_inputs(backtest, series, model, dependence_set)
    keep = _cutoffs_with_every_partner(backtest["cutoff"], partners, dep).to_numpy()
    if not keep.any():
        return pd.DataFrame(columns=INDEX_BACKTEST_COLUMNS)
    backtest, partners = backtest.loc[keep], partners.loc[keep]

    rows = pd.DataFrame(
        {
            "unique_id": backtest["unique_id"].astype(str),
            "cutoff": backtest["cutoff"].astype("int64"),
            "year": backtest["ds"].astype("int64"),
            "fc": pd.to_numeric(backtest[model], errors="coerce").clip(lower=0.0),
            "actual": pd.to_numeric(backtest["y"], errors="coerce"),
            "dep": partners.isin(dep).to_numpy(),
        }
    )
    known = values_at_cutoff(series)  # one history per series, or one per origin
    at_cutoff = pd.DataFrame(
        {
            "unique_id": known["unique_id"].astype(str),
            "cutoff": known["cutoff"].astype("int64"),
            "last": pd.to_numeric(known["y"], errors="coerce"),
        }
    ).drop_duplicates(["unique_id", "cutoff"], keep="last")
    rows = rows.merge(at_cutoff, on=["unique_id", "cutoff"], how="left")
    rows = rows[rows[["fc", "actual", "last"]].notna().all(axis=1)]

    values = ["fc", "actual", "last"]
    parts = rows[values].mul(rows["dep"], axis=0)
    keys = [rows["cutoff"], rows["year"]]
    total = rows[values].groupby(keys).sum()
    dep_total = parts.groupby(keys).sum()
    n_series = rows.groupby(["cutoff", "year"])["unique_id"].nunique()
    share = (dep_total / total.where(total > 0)).rename(
        columns={"fc": "forecast", "last": "no_change"}
    )
    out = share.assign(n_series=n_series).reset_index()
    out = out.assign(h=out["year"] - out["cutoff"], n_series=out["n_series"].astype("int64"))
    return out[INDEX_BACKTEST_COLUMNS].sort_values(["cutoff", "year"], ignore_index=True)


def summarize_index_backtest(frame: pd.DataFrame) -> pd.DataFrame:
    """Errors of the index forecast and of no change, in percentage points, by horizon.

    Rows where the forecast, the actual or the no-change share is missing are left out (of
    both errors alike).

    Args:
        frame: :func:`index_backtest` output (or the bundle's ``index_backtest.csv``).

    Returns:
        ``h, mae, mae_no_change, bias, n``: one row per horizon (``h`` an int, ascending)
        and a last row ``h = "all"`` over every (cutoff, year). ``mae``: mean absolute error
        of the forecast share; ``mae_no_change``: of the share at the cutoff; ``bias``: mean
        of forecast minus actual (negative: too low); all in percentage points (0-100
        scale). ``n``: the (cutoff, year) pairs scored. Empty (with these columns) when no
        row can be scored.

    Raises:
        ValueError: A missing column (the message names it).
    """
    _require(frame, ["h", "forecast", "actual", "no_change"], "the index backtest")
    values = frame[["forecast", "actual", "no_change"]].apply(pd.to_numeric, errors="coerce")
    ok = np.isfinite(values.to_numpy(dtype=float)).all(axis=1)
    scored = pd.DataFrame(
        {
            "h": pd.to_numeric(frame["h"], errors="coerce").to_numpy()[ok],
            "err": 100.0 * (values["forecast"] - values["actual"]).to_numpy()[ok],
            "err_nc": 100.0 * (values["no_change"] - values["actual"]).to_numpy()[ok],
        }
    )
    if scored.empty:
        return pd.DataFrame({c: pd.Series(dtype="object") for c in SUMMARY_COLUMNS})

    def stats(part: pd.DataFrame, h: int | str) -> dict[str, object]:
        return {
            "h": h,
            "mae": float(part["err"].abs().mean()),
            "mae_no_change": float(part["err_nc"].abs().mean()),
            "bias": float(part["err"].mean()),
            "n": len(part),
        }

    rows = [stats(part, int(h)) for h, part in scored.groupby("h", sort=True)]
    rows.append(stats(scored, ALL))
    return pd.DataFrame(rows, columns=SUMMARY_COLUMNS)
