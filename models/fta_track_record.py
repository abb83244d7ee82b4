"""The ex ante track record of the FTA effect on Korea's past agreements.

For each of Korea's agreement entries (agreement x partner, entry year ``E``; see
:func:`models.fta_effects.entries`) the origin is ``E - 1``:

1. the world structural gravity (:func:`models.fta_effects.fit_world_gravity`) is fitted on
   DOTS years ``<= min(origin, last DOTS year)`` only;
2. the no-agreement baseline is a forecast of Korea's exports to the partner made at the origin
   from the partner's own series up to the origin (KOSIS): the Theta method on log exports
   (:class:`models.timeseries.Theta`, one of the product's default candidates; Drift on logs if
   Theta cannot be fitted). Its point forecast is the median on the original scale;
3. the ex ante effect in year ``t`` is the phased effect ``E`` to ``t`` (first FTA or
   deepening) with its 80 % interval from the coefficient covariance;
4. the outcome effect is ``100 * (actual / baseline - 1)``: realised exports against the
   no-agreement baseline made at the same origin. It contains the baseline's own forecast
   error, so the band to judge it by is the *predictive* band ``pred_lo/hi_80``: the log
   effect's variance plus the baseline's log forecast variance (from its 80 % interval).

Nothing after the origin is read for steps 1-3 (tested by corrupting those years).
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import numpy as np
import pandas as pd

from exportcast.models.fta_effects import effect_path, entries, fit_world_gravity
from exportcast.models.structural_gravity import GravityFit
from exportcast.models.timeseries import Drift, Theta

__all__ = [
    "COLUMNS",
    "agreement_outcomes",
    "baseline_forecast",
    "by_agreement",
    "summarize",
    "track_metrics",
    "track_record",
    "z80",
]

COLUMNS = [
    "agreement", "partner", "kind", "entry_year", "origin", "fit_last_year", "year", "h",
    "effect_pct", "effect_lo_80", "effect_hi_80", "pred_lo_80", "pred_hi_80", "baseline",
    "actual", "outcome_effect_pct", "inside_80", "inside_pred_80",
]  # fmt: skip


@functools.cache
def z80() -> float:
    """The 80 % two-sided normal quantile, ``scipy.stats.norm.ppf(0.9)``.

    Computed as ``scipy.special.ndtri(0.9)``, the same number to the last bit (tested), without
    importing ``scipy.stats`` (0.8 s).
    """
    from scipy.special import ndtri

    return float(ndtri(0.9))


def baseline_forecast(series: pd.Series, *, origin: int, horizon: int) -> pd.DataFrame:
    """No-agreement forecast of one partner's exports from ``origin`` (years ``<= origin`` only).

    Args:
        series: Exports indexed by year (later years are ignored).
        origin: Last year used.
        horizon: Years ahead.

    Returns:
        ``year, baseline`` (median) and ``sd_log`` (the log forecast's standard deviation,
        from the 80 % interval); empty when the series is too short or not positive.
    """
    y = series.loc[series.index <= origin].sort_index().dropna()
    y = y.loc[y > 0]
    if len(y) < 5 or y.index[-1] != origin:
        return pd.DataFrame(columns=["year", "baseline", "sd_log"])
    out = None
    for model in (Theta(log=True), Drift(log=True)):
        try:
            out = model.fit(y.to_numpy(dtype="float64")).predict(horizon, level=[80])
            break
        except ValueError:
            continue
    if out is None:
        return pd.DataFrame(columns=["year", "baseline", "sd_log"])
    sd = (np.log(out["hi-80"]) - np.log(out["lo-80"])) / (2 * z80())
    return pd.DataFrame(
        {"year": np.arange(origin + 1, origin + horizon + 1), "baseline": out["mean"], "sd_log": sd}
    )


def _rows_for(
    entry: pd.Series, fit: GravityFit, fit_last: int, exports: pd.DataFrame, horizon: int
) -> pd.DataFrame:
    origin = int(entry["entry_year"]) - 1
    series = exports.loc[exports["partner"] == entry["partner"]].set_index("year")["export_usd"]
    base = baseline_forecast(series, origin=origin, horizon=horizon)
    if base.empty:
        return pd.DataFrame(columns=COLUMNS)
    eff = effect_path(fit, int(entry["entry_year"]), base["year"], entry["kind"], levels=(80,))
    rows = base.merge(eff, on="year").assign(actual=series.reindex(base["year"]).to_numpy())
    spread = z80() * np.sqrt(rows["se"] ** 2 + rows["sd_log"] ** 2)
    outcome = 100 * (rows["actual"] / rows["baseline"] - 1)
    rows = rows.assign(
        agreement=entry["agreement"], partner=entry["partner"], kind=entry["kind"],
        entry_year=int(entry["entry_year"]), origin=origin, fit_last_year=fit_last,
        h=rows["year"] - origin,
        pred_lo_80=100 * np.expm1(rows["coef"] - spread),
        pred_hi_80=100 * np.expm1(rows["coef"] + spread),
        outcome_effect_pct=outcome,
    )  # fmt: skip
    rows["inside_80"] = rows["outcome_effect_pct"].between(
        rows["effect_lo_80"], rows["effect_hi_80"]
    )
    rows["inside_pred_80"] = rows["outcome_effect_pct"].between(
        rows["pred_lo_80"], rows["pred_hi_80"]
    )
    return rows.loc[rows["actual"].notna(), COLUMNS]


def track_record(
    kor_exports: pd.DataFrame,
    dots: pd.DataFrame,
    rtas: pd.DataFrame,
    fta: pd.DataFrame,
    *,
    since: int = 2004,
    horizon: int = 5,
    top_n: int | None = 100,
    step: int = 4,
    log: Callable[[str], None] = lambda _: None,
) -> tuple[pd.DataFrame, dict[int, GravityFit]]:
    """Ex ante effects of Korea's agreements since ``since`` against their outcomes.

    Args:
        kor_exports: Korea's exports by partner (``partner, year, export_usd``), for the
            baselines (years <= origin) and the outcomes (years after).
        dots: ``dots_exports`` (world panel; years <= origin used per fit).
        rtas: The WTO RTA pair table.
        fta: Korea's agreement table.
        since: First entry year.
        horizon: Years after the origin compared (1..horizon: entry year ... entry + h - 1).
        top_n: Countries in the world panel.
        step: Interval of the panel years.
        log: Progress printer.

    Returns:
        The rows (:data:`COLUMNS`, one per agreement, partner and outcome year) and the fit per
        origin.
    """
    last_outcome = int(kor_exports["year"].max())
    todo = entries(fta, since=since, until=last_outcome)
    data_last = int(dots["year"].max())
    fits: dict[int, GravityFit] = {}
    parts = []
    for origin in sorted(set(todo["entry_year"] - 1)):
        fit_last = min(int(origin), data_last)
        if fit_last not in fits:
            fits[fit_last] = fit_world_gravity(dots, rtas, fta, last_year=fit_last, top_n=top_n,
                                               step=step)[0]  # fmt: skip
            f = fits[fit_last]
            log(
                f"  origin {origin}: world PPML on {f.years[0]}-{f.years[-1]} "
                f"({f.n_obs:,} flows, {f.fit_seconds:.1f} s): "
                + ", ".join(f"{k} {v:+.3f}" for k, v in f.coef.items())
            )
        for _, entry in todo.loc[todo["entry_year"] == origin + 1].iterrows():
            parts.append(_rows_for(entry, fits[fit_last], fit_last, kor_exports, horizon))
    rows = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=COLUMNS)
    return rows.sort_values(["entry_year", "agreement", "partner", "year"], ignore_index=True), fits


def _scores(frame: pd.DataFrame) -> dict[str, float]:
    err = frame["outcome_effect_pct"] - frame["effect_pct"]
    none = frame["outcome_effect_pct"]
    return {
        "n": len(frame),
        "mean_abs_err_effect": float(err.abs().mean()),
        "mean_abs_err_no_effect": float(none.abs().mean()),
        "median_abs_err_effect": float(err.abs().median()),
        "median_abs_err_no_effect": float(none.abs().median()),
        "mean_err_effect": float(err.mean()),
        "share_inside_80": float(frame["inside_80"].mean()),
        "share_inside_pred_80": float(frame["inside_pred_80"].mean()),
    }


def by_agreement(rows: pd.DataFrame) -> pd.DataFrame:
    """Agreement-level rows: exports summed over partners, effects weighted by baseline.

    Args:
        rows: Track record rows (:data:`COLUMNS`).

    Returns:
        One row per ``agreement, entry_year, year`` with the pooled ``effect_pct``, its bands,
        ``outcome_effect_pct`` (summed actual against summed baseline) and the inside flags.
    """
    w = rows["baseline"]
    tmp = rows.assign(
        w_eff=rows["effect_pct"] * w, w_lo=rows["effect_lo_80"] * w, w_hi=rows["effect_hi_80"] * w,
        w_plo=rows["pred_lo_80"] * w, w_phi=rows["pred_hi_80"] * w,
    )  # fmt: skip
    g = tmp.groupby(["agreement", "entry_year", "year"], as_index=False).sum(numeric_only=True)
    out = g[["agreement", "entry_year", "year"]].assign(
        effect_pct=g["w_eff"] / g["baseline"],
        effect_lo_80=g["w_lo"] / g["baseline"],
        effect_hi_80=g["w_hi"] / g["baseline"],
        pred_lo_80=g["w_plo"] / g["baseline"],
        pred_hi_80=g["w_phi"] / g["baseline"],
        outcome_effect_pct=100 * (g["actual"] / g["baseline"] - 1),
    )
    out["inside_80"] = out["outcome_effect_pct"].between(out["effect_lo_80"], out["effect_hi_80"])
    out["inside_pred_80"] = out["outcome_effect_pct"].between(out["pred_lo_80"], out["pred_hi_80"])
    return out


def summarize(rows: pd.DataFrame) -> pd.DataFrame:
    """Scores of the ex ante effect against assuming no effect.

    Rows ``partner-year`` (every row) and ``agreement-year`` (partners of one agreement and
    entry year pooled: exports summed, effects weighted by the baseline). Errors are in
    percentage points of the outcome effect; ``share_inside_80`` uses the coefficient band,
    ``share_inside_pred_80`` the predictive band (coefficient plus baseline uncertainty).
    """
    if rows.empty:
        return pd.DataFrame()
    return pd.DataFrame(
        [
            {"level": "partner-year", **_scores(rows)},
            {"level": "agreement-year", **_scores(by_agreement(rows))},
        ]
    )


_METRICS = {
    "n": "n",
    "mean_abs_err_effect": "mean_abs_error_pp",
    "mean_abs_err_no_effect": "mean_abs_error_no_effect_pp",
    "median_abs_err_effect": "median_abs_error_pp",
    "median_abs_err_no_effect": "median_abs_error_no_effect_pp",
    "share_inside_80": "inside_80_effect",
    "share_inside_pred_80": "inside_80_predictive",
}


def track_metrics(rows: pd.DataFrame) -> dict[str, float]:
    """:func:`summarize` as flat metrics (for MLflow).

    Partner-year scores are ``fta_track_<name>``, agreement-year scores
    ``fta_track_agreement_<name>``; names: ``n``, ``mean_abs_error_pp``,
    ``mean_abs_error_no_effect_pp``, ``median_abs_error_pp``, ``median_abs_error_no_effect_pp``
    (percentage points of the outcome effect), ``inside_80_effect`` and ``inside_80_predictive``
    (shares, 0-1).

    Args:
        rows: Track record rows (:data:`COLUMNS`).

    Returns:
        Metric name -> value; empty when ``rows`` is empty.
    """
    out: dict[str, float] = {}
    for _, r in summarize(rows).iterrows():
        prefix = "fta_track_" if r["level"] == "partner-year" else "fta_track_agreement_"
        out.update({prefix + name: float(r[key]) for key, name in _METRICS.items()})
    return out


def agreement_outcomes(rows: pd.DataFrame) -> pd.DataFrame:
    """One row per agreement and entry year: the last outcome year scored, pooled over partners.

    The effect, its 80 % bands and the outcome are those of :func:`by_agreement` in the last
    year with an outcome (at most ``horizon`` years after the origin); ``years_inside_pred_80``
    of ``years`` counts the scored years whose pooled outcome fell inside the predictive band.

    Args:
        rows: Track record rows (:data:`COLUMNS`).

    Returns:
        ``agreement, entry_year, kind, partners`` (sorted codes, ``;``-joined), ``year``, ``h``,
        ``effect_pct, effect_lo_80, effect_hi_80, pred_lo_80, pred_hi_80,
        outcome_effect_pct, inside_80, inside_pred_80, years, years_inside_pred_80``, sorted
        by entry year and agreement.
    """
    cols = [
        "agreement", "entry_year", "kind", "partners", "year", "h", "effect_pct",
        "effect_lo_80", "effect_hi_80", "pred_lo_80", "pred_hi_80", "outcome_effect_pct",
        "inside_80", "inside_pred_80", "years", "years_inside_pred_80",
    ]  # fmt: skip
    if rows.empty:
        return pd.DataFrame(columns=cols)
    pooled = by_agreement(rows)
    keys = ["agreement", "entry_year"]
    last = pooled.loc[pooled.groupby(keys)["year"].idxmax()]
    counts = pooled.groupby(keys).agg(
        years=("year", "size"), years_inside_pred_80=("inside_pred_80", "sum")
    )
    who = rows.groupby(keys).agg(
        kind=("kind", lambda k: "/".join(sorted(set(map(str, k))))),
        partners=("partner", lambda p: ";".join(sorted(set(map(str, p))))),
        origin=("origin", "first"),
    )
    out = last.merge(counts.reset_index(), on=keys).merge(who.reset_index(), on=keys)
    out["h"] = out["year"] - out["origin"]
    out["years_inside_pred_80"] = out["years_inside_pred_80"].astype("int64")
    return out[cols].sort_values(["entry_year", "agreement"], ignore_index=True)
