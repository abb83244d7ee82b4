"""Probe: do pooled regression models beat the naive forecast for Korea's partners?

Run: ``.venv/bin/python benchmarks/regression_probe.py [--all-origins] [--gravity]``.

Setup (as in BENCHMARKS.md): the partners with exports > 0 in every year 1990-2023, origins
2008, 2010, ..., 2018 (``--all-origins``: every year 2008..2018), horizon 5, levels in USD.
MASE scale = in-sample mean absolute first difference up to T; relMASE = method's MASE sum /
naive's. For origin T every model is trained only on rows with ``target_year <= T``. It
trains on all partners, not only the scored ones. Variants that need a tuning choice
("tuned") pick it on earlier origins whose five years were fully observed by T (``T' + 5 <=
T``). Those rolling-origin predictions start in 1998.

``--gravity`` prints the PPML FTA effects instead (``models.gravity.fit_ppml``). These are
Korea 1990-2023 with partner and year effects, and structural gravity on the IMF DOTS panel.
The DOTS run uses the 30 largest exporters of 2019 (Korea included), every 4th year 1990-2018,
pair + exporter-year + importer-year effects and SEs clustered by pair. Only Korea's agreements
are coded (the snapshot has no other FTA table), so other pairs' FTAs are left out.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingRegressor
from threadpoolctl import threadpool_limits

from exportcast.features.build import FEATURE_COLUMNS, build_features, build_gravity_frame
from exportcast.features.fta import fta_by_year
from exportcast.flows.snapshot import load_snapshot
from exportcast.models.gravity import PPMLResult, fit_ppml
from exportcast.models.regression import GBM_PARAMS, rolling_origin_predictions

FEATURES = [*FEATURE_COLUMNS, "h"]

ROOT = Path(__file__).resolve().parents[1]
H = 5
FIRST_TRAIN_ORIGIN = 1993  # 1990 + 3 lags
FIRST_TUNING_ORIGIN = 1998
SHRINK_GRID = (0.0, 0.25, 0.5, 0.75, 1.0)


def _scored_partners(exports: pd.DataFrame) -> list[str]:
    wide = exports.pivot(index="partner", columns="year", values="export_usd")
    wide = wide.reindex(columns=range(1990, 2024))
    return sorted(wide.index[(wide > 0).all(axis=1)])


def _scales(exports: pd.DataFrame, partners: list[str], origins: list[int]) -> pd.DataFrame:
    wide = exports.pivot(index="partner", columns="year", values="export_usd").loc[partners]
    rows = []
    for t in origins:
        hist = wide.loc[:, 1990:t].to_numpy()
        scale = np.mean(np.abs(np.diff(hist, axis=1)), axis=1)
        rows.append(pd.DataFrame({"partner": partners, "origin": t, "scale": scale}))
    return pd.concat(rows, ignore_index=True)


def _score(pred: pd.DataFrame, truth: pd.DataFrame, scales: pd.DataFrame) -> pd.DataFrame:
    """Per (partner, origin): MASE plus pieces for wAPE."""
    df = truth.merge(pred, on=["partner", "origin", "h"], how="left").merge(
        scales, on=["partner", "origin"]
    )
    if df["pred_level"].isna().any():
        raise RuntimeError("missing predictions")
    df = df.assign(abs_err=(df["actual"] - df["pred_level"]).abs())
    unit = df.groupby(["partner", "origin"]).agg(
        mae=("abs_err", "mean"), scale=("scale", "first"), actual=("actual", "sum")
    )
    unit["abs_err_sum"] = df.groupby(["partner", "origin"])["abs_err"].sum()
    unit["mase"] = unit["mae"] / unit["scale"]
    return unit


def _summary(name: str, unit: pd.DataFrame, naive_sum: float) -> dict:
    return {
        "method": name,
        "MASE": unit["mase"].mean(),
        "relMASE": unit["mase"].sum() / naive_sum,
        "wAPE %": 100 * unit["abs_err_sum"].sum() / unit["actual"].sum(),
    }


def _with_growth(pred: pd.DataFrame, growth: np.ndarray) -> pd.DataFrame:
    return pred.assign(
        pred_log_growth=growth, pred_level=pred["export_usd_origin"] * np.exp(growth)
    )


def _tuned_shrink(
    pred: pd.DataFrame, truth_all: pd.DataFrame, scales_all: pd.DataFrame, origins: list[int]
) -> pd.DataFrame:
    """Shrink factor per origin chosen on earlier, fully observed origins (T' + H <= T)."""
    scored = truth_all.merge(pred, on=["partner", "origin", "h"]).merge(
        scales_all, on=["partner", "origin"]
    )
    parts, chosen = [], {}
    for t in origins:
        past = scored.loc[scored["origin"] + H <= t]
        losses = {
            a: (
                np.abs(
                    past["actual"] - past["export_usd_origin"] * np.exp(a * past["pred_log_growth"])
                )
                / past["scale"]
            ).sum()
            for a in SHRINK_GRID
        }
        a = min(losses, key=losses.get)
        chosen[t] = a
        cur = pred.loc[pred["origin"] == t]
        parts.append(_with_growth(cur, a * cur["pred_log_growth"].to_numpy()))
    print(f"    tuned shrink factors by origin: {chosen}")
    return pd.concat(parts, ignore_index=True)


def _gbm_loop(
    frame: pd.DataFrame, partners: list[str], origins: list[int], overrides: dict
) -> pd.DataFrame:
    """Same rolling origin as ``rolling_origin_predictions`` with other GBM settings."""
    parts = []
    for t in origins:
        train = frame.loc[(frame["target_year"] <= t) & frame["y_log_growth"].notna()]
        cols = [c for c in FEATURES if train[c].notna().any()]
        model = HistGradientBoostingRegressor(**{**GBM_PARAMS, **overrides}, random_state=0)
        model.fit(train[cols].to_numpy(dtype="float64"), train["y_log_growth"].to_numpy())
        cur = frame.loc[(frame["origin"] == t) & frame["partner"].isin(partners)]
        g = model.predict(cur[cols].to_numpy(dtype="float64"))
        parts.append(_with_growth(cur[["partner", "origin", "h", "export_usd_origin"]], g))
    return pd.concat(parts, ignore_index=True)


def _ppml_row(name: str, res: PPMLResult, seconds: float) -> dict:
    lo, hi = res.fta_effect_ci
    return {
        "model": name,
        "b": res.fta_coef,
        "se": res.fta_se,
        "effect %": res.fta_effect_pct,
        "95% CI %": f"[{lo:.1f}, {hi:.1f}]",
        "n": res.n_obs,
        "clusters": res.n_clusters,
        "absorbed": ",".join(res.absorbed) or "-",
        "s": seconds,
    }


def _dots_frame(snap, n_countries: int = 30, step: int = 4) -> pd.DataFrame:
    dots = snap["dots_exports"]
    top = dots[dots["year"] == 2019].groupby("reporter")["export_usd"].sum().nlargest(n_countries)
    countries = list(top.index) if "KOR" in top.index else [*top.index[:-1], "KOR"]
    years = list(range(1990, 2019, step))
    grid = pd.MultiIndex.from_product(
        [countries, countries, years], names=["reporter", "partner", "year"]
    ).to_frame(index=False)
    grid = grid[grid["reporter"] != grid["partner"]]
    flows = dots[["reporter", "partner", "year", "export_usd"]]
    frame = grid.merge(flows, how="left").fillna({"export_usd": 0.0})  # unreported = zero
    status = fta_by_year(snap["fta"], years, countries)
    frame = frame.assign(
        other=np.where(
            frame["reporter"] == "KOR",
            frame["partner"],
            np.where(frame["partner"] == "KOR", frame["reporter"], ""),
        )
    )
    frame = frame.merge(
        status[["partner", "year", "fta_in_force"]].rename(columns={"partner": "other"}),
        on=["other", "year"],
        how="left",
    )
    return frame.assign(fta_in_force=frame["fta_in_force"].fillna(0).astype("int8"))


def gravity(snap) -> None:
    """PPML FTA effects: Korea alone, and structural gravity on DOTS."""
    pairs = snap["pairs"].loc[snap["pairs"]["reporter"] == "KOR"]
    kor = build_gravity_frame(snap["kor_exports"], snap["indicators"], pairs, snap["fta"])
    rows = []
    for name, kw in [
        ("KOR: partner + year FE", {}),
        ("KOR: year FE only (+log distance)", {"partner_effects": False}),
        ("KOR: partner FE only", {"year_effects": False}),
    ]:
        t = time.perf_counter()
        res = fit_ppml(kor, **kw)
        rows.append(_ppml_row(name, res, time.perf_counter() - t))
    dots = _dots_frame(snap)
    t = time.perf_counter()
    res = fit_ppml(
        dots,
        regressors=["fta_in_force"],
        partner_effects=False,
        year_effects=False,
        extra_effects=[["reporter", "partner"], ["reporter", "year"], ["partner", "year"]],
        cluster=["reporter", "partner"],
    )
    rows.append(
        _ppml_row("DOTS top-30, 4-yearly: pair + exp-yr + imp-yr FE", res, time.perf_counter() - t)
    )
    table = pd.DataFrame(rows)
    print(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))


def main() -> None:
    """Build features, backtest, print the table."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--all-origins", action="store_true")
    parser.add_argument("--gravity", action="store_true")
    args = parser.parse_args()
    if args.gravity:
        gravity(load_snapshot(ROOT / "data" / "snapshot"))
        return
    origins = list(range(2008, 2019)) if args.all_origins else list(range(2008, 2019, 2))
    t0 = time.perf_counter()
    snap = load_snapshot(ROOT / "data" / "snapshot")
    exports, totals = snap["kor_exports"], snap["kor_totals"]
    pairs = snap["pairs"].loc[snap["pairs"]["reporter"] == "KOR"]
    tables = (exports, snap["indicators"], pairs, snap["fta"], totals)
    all_origins = list(range(FIRST_TRAIN_ORIGIN, 2019))
    feats = {
        d: build_features(*tables, origins=all_origins, horizon=H, demand=d)
        for d in ("known", "oracle")
    }
    partners = _scored_partners(exports)
    tune_origins = list(range(FIRST_TUNING_ORIGIN, 2019))
    wide = exports.pivot(index="partner", columns="year", values="export_usd")
    truth_all = pd.DataFrame(
        [
            (p, t, h, wide.loc[p, t + h])
            for p in partners
            for t in tune_origins
            for h in range(1, H + 1)
            if t + h <= 2023
        ],
        columns=["partner", "origin", "h", "actual"],
    )
    scales_all = _scales(exports, partners, tune_origins)
    truth = truth_all.loc[truth_all["origin"].isin(origins)]
    scales = scales_all.loc[scales_all["origin"].isin(origins)]
    print(f"{len(partners)} partners x {len(origins)} origins {origins}; H={H}")

    known = feats["known"]
    naive = known.loc[known["partner"].isin(partners) & known["origin"].isin(origins)]
    naive = naive.assign(pred_level=naive["export_usd_origin"])[
        ["partner", "origin", "h", "pred_level"]
    ]
    naive_unit = _score(naive, truth, scales)
    naive_sum = naive_unit["mase"].sum()
    rows = [_summary("naive (last value)", naive_unit, naive_sum)]

    def run(name: str, frame: pd.DataFrame, at: list[int], **kw) -> pd.DataFrame:
        t = time.perf_counter()
        pred = rolling_origin_predictions(frame, origins=at, horizons=H, **kw)
        pred = pred.merge(
            known[["partner", "origin", "h", "export_usd_origin"]].drop_duplicates(), how="left"
        )
        print(f"  {name}: {time.perf_counter() - t:.1f}s")
        return pred.loc[pred["partner"].isin(partners)]

    def add(name: str, pred: pd.DataFrame) -> None:
        rows.append(
            _summary(name, _score(pred.loc[pred["origin"].isin(origins)], truth, scales), naive_sum)
        )

    for est in ("gbm", "ridge"):
        pred = run(est, known, tune_origins, estimator=est)
        add(f"{est} (one model, h as feature)", pred)
        per_h = run(f"{est} per-h", known, origins, estimator=est, pooling="per_horizon")
        add(f"{est} (one model per h)", per_h)
        cur = pred.loc[pred["origin"].isin(origins)]
        add(f"{est} growth x 0.5", _with_growth(cur, 0.5 * cur["pred_log_growth"].to_numpy()))
        combo = cur.assign(pred_level=0.5 * (cur["pred_level"] + cur["export_usd_origin"]))
        add(f"{est} + naive, mean of levels", combo)
        add(f"{est} growth x tuned (rolling)", _tuned_shrink(pred, truth_all, scales_all, origins))
        recent = run(f"{est} window", known, origins, estimator=est, train_window=10)
        add(f"{est} trained on last 10 target years", recent)
        oracle = run(f"{est} oracle", feats["oracle"], origins, estimator=est)
        add(f"{est} ORACLE demand", oracle)
        oracle_cur = oracle.loc[oracle["origin"].isin(origins)]
        add(
            f"{est} ORACLE demand, growth x 0.5",
            _with_growth(oracle_cur, 0.5 * oracle_cur["pred_log_growth"].to_numpy()),
        )

    # Relative growth: train on growth minus the cross-section median of the same (origin, h),
    # predict the partner's deviation only (the common component stays at naive's zero).
    # Each median uses one target year, so for origin T it is known whenever the row is.
    relative = known.assign(
        y_log_growth=known["y_log_growth"]
        - known.groupby(["origin", "h"])["y_log_growth"].transform("median")
    )
    rel = run("gbm relative", relative, origins, estimator="gbm")
    rel = rel.merge(known[["partner", "origin", "h", "export_usd_origin"]], how="left")
    add("gbm relative growth (common part = 0)", rel)
    add("  ... growth x 0.5", _with_growth(rel, 0.5 * rel["pred_log_growth"].to_numpy()))
    add("gbm, absolute-error loss", _gbm_loop(known, partners, origins, {"loss": "absolute_error"}))
    add(
        "gbm relative, absolute-error loss",
        _gbm_loop(relative, partners, origins, {"loss": "absolute_error"}),
    )

    # Pooled mean growth by horizon (no features): is any regression signal left?
    mean_pred = []
    for t in origins:
        train = known.loc[(known["target_year"] <= t) & known["y_log_growth"].notna()]
        med = train.groupby("h")["y_log_growth"].median()
        cur = known.loc[(known["origin"] == t) & known["partner"].isin(partners)]
        g = cur["h"].map(med).to_numpy()
        mean_pred.append(_with_growth(cur[["partner", "origin", "h", "export_usd_origin"]], g))
    add("pooled median growth by h (no features)", pd.concat(mean_pred))

    table = pd.DataFrame(rows)
    print()
    print(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    print(f"\ntotal {time.perf_counter() - t0:.0f}s")


if __name__ == "__main__":
    # One thread: the machine is shared and OpenMP oversubscription slows boosting 10x.
    with threadpool_limits(1):
        main()
