"""Point-forecast accuracy: MASE, sMAPE, RMSSE, and their aggregation over a backtest.

Scaled errors use the training window of each cutoff: the MASE scale is the in-sample mean
absolute first difference of ``y`` up to and including the cutoff, the RMSSE scale the mean
squared first difference (non-seasonal: the data are annual). sMAPE is on the 0-200 scale.

A scored *unit* is one (series, cutoff) pair (or one (series, cutoff, horizon step) with
``by_horizon=True``). Units whose training window has a zero scale (a constant history, or a
single year) get NaN scaled errors and drop out of the means.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from exportcast.models.histories import is_per_origin, known_at_cutoffs
from exportcast.models.series_checks import check_series

__all__ = [
    "cutoff_scales",
    "evaluate_cv",
    "evaluate_table",
    "mase",
    "point_metrics",
    "rmsse",
    "score_cv",
    "smape",
]

_METRICS = ("MASE", "sMAPE", "RMSSE")


def _arrays(y: object, yhat: object) -> tuple[np.ndarray, np.ndarray]:
    y_arr, yhat_arr = np.asarray(y, dtype=float), np.asarray(yhat, dtype=float)
    if y_arr.shape != yhat_arr.shape or y_arr.ndim != 1 or y_arr.size == 0:
        raise ValueError(
            f"y and yhat must be equal-length 1-D arrays, got {y_arr.shape}, {yhat_arr.shape}"
        )
    return y_arr, yhat_arr


def _scale(y_train: object, power: int) -> float:
    diffs = np.diff(np.asarray(y_train, dtype=float))
    if diffs.size == 0:
        return np.nan
    scale = float(np.mean(np.abs(diffs) ** power))
    return scale if scale > 0 else np.nan


def _smape_terms(y: np.ndarray, yhat: np.ndarray) -> np.ndarray:
    denom = np.abs(y) + np.abs(yhat)
    with np.errstate(invalid="ignore", divide="ignore"):
        # both zero: a perfect forecast, not an undefined one
        return np.where(denom > 0, 200 * (np.abs(y - yhat) / denom), 0.0)


def mase(y: object, yhat: object, y_train: object) -> float:
    """Mean absolute scaled error.

    Args:
        y: Actual values over the horizon.
        yhat: Forecasts over the horizon.
        y_train: The training window the forecast was made from.

    Returns:
        Mean ``|y - yhat|`` over the in-sample mean absolute first difference of ``y_train``;
        NaN when that scale is zero or undefined.
    """
    y_arr, yhat_arr = _arrays(y, yhat)
    return float(np.mean(np.abs(y_arr - yhat_arr)) / _scale(y_train, 1))


def rmsse(y: object, yhat: object, y_train: object) -> float:
    """Root mean squared scaled error (the M5 competition's RMSSE).

    Args:
        y: Actual values over the horizon.
        yhat: Forecasts over the horizon.
        y_train: The training window the forecast was made from.

    Returns:
        ``sqrt(mean((y - yhat)**2) / mean(diff(y_train)**2))``; NaN when the scale is zero.
    """
    y_arr, yhat_arr = _arrays(y, yhat)
    return float(np.sqrt(np.mean((y_arr - yhat_arr) ** 2) / _scale(y_train, 2)))


def smape(y: object, yhat: object) -> float:
    """Symmetric mean absolute percentage error on the 0-200 scale.

    Args:
        y: Actual values.
        yhat: Forecasts.

    Returns:
        Mean of ``200 * |y - yhat| / (|y| + |yhat|)``, counting a term with both zero as 0.
    """
    y_arr, yhat_arr = _arrays(y, yhat)
    return float(np.mean(_smape_terms(y_arr, yhat_arr)))


def point_metrics(y: object, yhat: object, y_train: object) -> dict[str, float]:
    """All three metrics for one forecast.

    Args:
        y: Actual values over the horizon.
        yhat: Forecasts over the horizon.
        y_train: The training window the forecast was made from.

    Returns:
        ``{"MASE": ..., "sMAPE": ..., "RMSSE": ...}``.
    """
    return {
        "MASE": mase(y, yhat, y_train),
        "sMAPE": smape(y, yhat),
        "RMSSE": rmsse(y, yhat, y_train),
    }


def _cutoff_scales(cv: pd.DataFrame, train: pd.DataFrame) -> pd.DataFrame:
    """MASE and RMSSE scales of the training window of every (unique_id, cutoff) in ``cv``.

    ``train`` is one history per series, or one per origin (:mod:`models.histories`).
    """
    per_origin = is_per_origin(train)
    if per_origin:
        histories = known_at_cutoffs(train)
    else:
        frame = check_series(train[["unique_id", "ds", "y"]])
        histories = {
            uid: (int(g["ds"].iat[0]), g["y"].to_numpy())
            for uid, g in frame.groupby("unique_id", sort=False, observed=True)
        }
    rows = []
    for uid, cutoff in cv[["unique_id", "cutoff"]].drop_duplicates().itertuples(index=False):
        key = (uid, int(cutoff)) if per_origin else uid
        if key not in histories:
            raise ValueError(f"train has no series unique_id={uid!r} (needed for cutoff {cutoff})")
        first, y = histories[key]
        n_train = int(cutoff) - first + 1
        if not 1 <= n_train <= y.size:
            raise ValueError(f"train for unique_id={uid!r} does not cover cutoff {cutoff}")
        window = y[:n_train]
        rows.append((uid, cutoff, _scale(window, 1), _scale(window, 2)))
    return pd.DataFrame(rows, columns=["unique_id", "cutoff", "scale1", "scale2"])


def cutoff_scales(cv: pd.DataFrame, train: pd.DataFrame) -> pd.DataFrame:
    """The MASE (``scale1``) and RMSSE (``scale2``) scale of every (unique_id, cutoff) unit.

    Args:
        cv: Backtest rows (``unique_id, cutoff``).
        train: The histories the backtest ran on (one per series, or one per origin).

    Returns:
        ``unique_id, cutoff, scale1, scale2``.
    """
    return _cutoff_scales(cv, train)


def score_cv(
    cv: pd.DataFrame,
    train: pd.DataFrame,
    models: Sequence[str],
    *,
    by_horizon: bool = False,
    scales: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Score every (series, cutoff) unit of a backtest, for every model.

    Args:
        cv: Output of ``cross_validate``: ``unique_id, ds, cutoff, y`` plus model columns.
        train: The long frame the backtest ran on (for the scale of each training window).
        models: Model aliases (columns of ``cv``) to score.
        by_horizon: Score each horizon step ``h = ds - cutoff`` as its own unit.
        scales: :func:`cutoff_scales` of ``cv`` (or of a backtest holding its rows), when the
            caller scores many subsets of one backtest; computed from ``train`` otherwise.

    Returns:
        Long frame ``unique_id, cutoff, [h,] model, MASE, sMAPE, RMSSE``.
    """
    missing = [col for col in ["unique_id", "ds", "cutoff", "y", *models] if col not in cv.columns]
    if missing:
        raise ValueError(f"cv is missing column(s) {missing}")
    if scales is None:
        scales = _cutoff_scales(cv, train)
    base = cv[["unique_id", "ds", "cutoff", "y"]].merge(
        scales, on=["unique_id", "cutoff"], how="left", validate="many_to_one"
    )
    base = base.assign(h=base["ds"] - base["cutoff"])
    keys = ["unique_id", "cutoff", "h"] if by_horizon else ["unique_id", "cutoff"]
    y = base["y"].to_numpy(dtype=float)
    parts = []
    for alias in models:
        err = y - cv[alias].to_numpy(dtype=float)
        rows = base[keys].assign(
            abs_scaled=np.abs(err) / base["scale1"].to_numpy(),
            sq_scaled=err**2 / base["scale2"].to_numpy(),
            smape=_smape_terms(y, cv[alias].to_numpy(dtype=float)),
        )
        unit = rows.groupby(keys, sort=False, observed=True).mean()
        parts.append(
            pd.DataFrame(
                {
                    "model": alias,
                    "MASE": unit["abs_scaled"],
                    "sMAPE": unit["smape"],
                    "RMSSE": np.sqrt(unit["sq_scaled"]),
                }
            ).reset_index()
        )
    return pd.concat(parts, ignore_index=True)


def _ratio(numerator: float, denominator: float) -> float:
    return float(numerator / denominator) if denominator > 0 else np.nan


def _aggregate(group: pd.DataFrame, base: pd.Series, weight: pd.Series | None) -> dict[str, float]:
    out: dict[str, float] = {"n_units": float(group["MASE"].notna().sum())}
    for metric in _METRICS:
        out[metric] = float(group[metric].mean())
    both = (group["MASE"].notna() & base.notna()).to_numpy()
    out["relMASE"] = _ratio(group["MASE"][both].sum(), base[both].sum())
    if weight is not None:
        for metric in _METRICS:
            ok = group[metric].notna().to_numpy()
            out[f"w{metric}"] = _ratio((weight[ok] * group[metric][ok]).sum(), weight[ok].sum())
        out["wrelMASE"] = _ratio(
            (weight[both] * group["MASE"][both]).sum(), (weight[both] * base[both]).sum()
        )
    return out


def evaluate_cv(
    cv: pd.DataFrame,
    train: pd.DataFrame,
    models: Sequence[str],
    weights: pd.Series | None = None,
    *,
    baseline: str | None = "Naive",
    by_horizon: bool = False,
) -> pd.DataFrame:
    """Aggregate backtest accuracy per model (and per horizon step).

    Args:
        cv: Output of ``cross_validate``.
        train: The long frame the backtest ran on.
        models: Model aliases to evaluate.
        weights: Optional weight per series, indexed by ``unique_id`` (e.g. export shares);
            adds weighted means ``wMASE, wsMAPE, wRMSSE`` and ``wrelMASE``.
        baseline: Alias that ``relMASE`` is relative to (it need not be in ``models``); None
            for no relative score.
        by_horizon: One row per model and horizon step, with an ``h`` column.

    Returns:
        One row per model (per ``h``): ``model, [h,] MASE, sMAPE, RMSSE, relMASE,
        [wMASE, wsMAPE, wRMSSE, wrelMASE,] n_units``. Means are over scored units; ``relMASE``
        is the model's summed MASE over the baseline's on the units both have.
    """
    if baseline is not None and baseline not in cv.columns:
        raise ValueError(f"baseline {baseline!r} is not a column of cv (pass baseline=None)")
    aliases = list(dict.fromkeys([*models, *([baseline] if baseline else [])]))
    scores = score_cv(cv, train, aliases, by_horizon=by_horizon)
    if weights is not None:
        uids = scores["unique_id"].drop_duplicates()
        absent = uids[~uids.isin(weights.index)]
        if not absent.empty:
            raise ValueError(f"weights has no entry for unique_id={absent.iloc[0]!r}")
        scores = scores.assign(weight=scores["unique_id"].map(weights).to_numpy(dtype=float))
    unit_keys = ["unique_id", "cutoff", "h"] if by_horizon else ["unique_id", "cutoff"]
    base_mase = (
        scores.loc[scores["model"] == baseline].set_index(unit_keys)["MASE"] if baseline else None
    )
    group_keys = ["model", "h"] if by_horizon else ["model"]
    rows = []
    for key, group in scores.groupby(group_keys, sort=False):
        model = key[0] if isinstance(key, tuple) else key
        if model not in models:
            continue
        indexed = group.set_index(unit_keys)
        base = (
            base_mase.reindex(indexed.index)
            if base_mase is not None
            else pd.Series(np.nan, index=indexed.index)
        )
        weight = indexed["weight"] if weights is not None else None
        row = dict(zip(group_keys, key if isinstance(key, tuple) else (key,), strict=True))
        rows.append({**row, **_aggregate(indexed, base, weight)})
    result = pd.DataFrame(rows)
    order = [*group_keys, *_METRICS, "relMASE"]
    if weights is not None:
        order += [f"w{m}" for m in _METRICS] + ["wrelMASE"]
    result = result[[*order, "n_units"]].astype({"n_units": int})
    result["model"] = pd.Categorical(result["model"], categories=list(models), ordered=True)
    sort = ["model", "h"] if by_horizon else ["model"]
    result = result.sort_values(sort).reset_index(drop=True)
    return result.assign(model=result["model"].astype(str))


def evaluate_table(
    table: pd.DataFrame,
    models: Sequence[str],
    *,
    baseline: str | None = "Naive",
    unit: Sequence[str] = ("partner", "origin"),
) -> pd.DataFrame:
    """Accuracy per model from a published backtest table (``backtest_forecasts.csv``).

    The same scores and aggregation as :func:`evaluate_cv`, from a table that carries each
    unit's scales instead of the histories: ``actual``, a column per model, ``mase_scale``,
    ``rmsse_scale`` and optionally ``weight`` (adds the weighted scores).

    Args:
        table: One row per (unit, target year).
        models: Model columns to evaluate.
        baseline: Column that ``relMASE`` is relative to; None for none.
        unit: Columns naming a scored unit (a series at an origin).

    Returns:
        One row per model, the columns of :func:`evaluate_cv`.
    """
    keys = list(unit)
    aliases = list(dict.fromkeys([*models, *([baseline] if baseline else [])]))
    y = table["actual"].to_numpy(dtype=float)
    parts = []
    for alias in aliases:
        yhat = table[alias].to_numpy(dtype=float)
        err = y - yhat
        rows = table[keys].assign(
            abs_scaled=np.abs(err) / table["mase_scale"].to_numpy(dtype=float),
            sq_scaled=err**2 / table["rmsse_scale"].to_numpy(dtype=float),
            smape=_smape_terms(y, yhat),
        )
        u = rows.groupby(keys, sort=False, observed=True).mean()
        parts.append(
            pd.DataFrame(
                {"MASE": u["abs_scaled"], "sMAPE": u["smape"], "RMSSE": np.sqrt(u["sq_scaled"])}
            ).assign(model=alias)
        )
    scores = pd.concat(parts)
    weighted = "weight" in table.columns
    weight = table.groupby(keys, sort=False, observed=True)["weight"].first() if weighted else None
    base = scores.loc[scores["model"] == baseline, "MASE"] if baseline else None
    rows = []
    for model in models:
        group = scores.loc[scores["model"] == model]
        b = base.reindex(group.index) if base is not None else pd.Series(np.nan, group.index)
        w = weight.reindex(group.index) if weight is not None else None
        rows.append({"model": model, **_aggregate(group, b, w)})
    order = ["model", *_METRICS, "relMASE"]
    if weighted:
        order += [f"w{m}" for m in _METRICS] + ["wrelMASE"]
    return pd.DataFrame(rows)[[*order, "n_units"]].astype({"n_units": int})
