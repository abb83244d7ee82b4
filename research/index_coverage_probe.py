"""Empirical coverage of the index forecast bands (dependence share, HHI, effective partners).

Run: ``.venv/bin/python research/index_coverage_probe.py [--n-jobs 2]`` (a few minutes, 2
workers). A research probe (four ways of replaying the errors compared; the engine kept one):
its measured tables and conclusions are in ``docs/index-bands.md``; every pipeline run scores
the index point forecast itself with ``models.index_backtest``.

The pipeline's headline numbers are 80 %/95 % bands of the China+US ("dependence") share, the
HHI and the effective number of partners, from joint sample paths
(``models.paths.window_error_paths``: each path replays the log errors of all partners over one
past backtest window, clipped at the 99 % size-class conformal bound). This probe replays
that machinery at past origins and checks whether the bands covered what happened.

For each scored origin T in 2008..2018 (h = 5), everything is what an analyst running the
engine at T would have had:

- Series: ``split_series`` on the panel truncated at T (partners positive in each of the 20
  years up to T, the rest summed into ``KOR|REST``); ``rest_shares`` and ``n_partners`` at T.
  (The live split on 2004-2023 would leak the future: it keeps only partners that survived.)
- Backtest: the config's default candidates (Naive, Drift, Theta) and their equal-weight
  Ensemble at cutoffs 1998..T (``cross_validate``, fallback Naive). To avoid 11 separate
  backtests, each distinct
  series (a partner's positive run, or the REST of one origin's split) is backtested once at
  origins 1998..2018 with its actual values after T appended; a forecast from cutoff c uses
  data <= c only, so the rows of cutoffs <= T are exactly those of a backtest run at T, and
  the appended years only supply the realised errors of cutoff T (never used for choices).
- Point forecast: the model ``rolling_select`` picks at T (weighted MASE over rows with
  cutoff < T and target year <= T), from cutoff T, clipped at zero as in ``finish_engine``.
- Clip bounds: the engine's ``path_clip_bounds`` (99 % size-class conformal bound of |log
  error|) on the backtest rows with cutoff < T and target year <= T.
- Paths: ``window_error_paths`` (1,000 paths, seed 0) over the windows known in full at T
  (cutoff + 5 <= T: 6 windows at T = 2008, 16 at T = 2018), then
  ``concentration_from_paths`` (CHN+USA, REST with its HHI at T) and ``path_quantiles``.
- Truth: ``concentration_index`` of the real panel (all partners) in year T+k, k = 1..5.

Caveat: the (origin, k) pairs overlap heavily (consecutive origins share four of five target
years and most of their error windows), so the 55 pairs are worth about 11 independent
windows at best; a coverage of 0.7 vs 0.8 is within noise. The same data also chose the
engine's design (h, clip level, candidate models), so this is not a pristine hold-out.

Prints, for four ways of replaying the errors: as they were ("clipped", the engine before
2026-11-28), unclipped, clipped + log-centred, and clipped + level-centred (what the engine
does now: each partner's multipliers average 1 in USD): coverage / pair count / mean band
width per index and level, coverage per horizon k for the dependence share, and the mean
absolute error of the paths' median vs a "no change" forecast (the index at T carried forward).

Results and conclusions (2026-11-28, rerun after the ``path_clip_bounds`` refactor):
``docs/index-bands.md``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from exportcast.configs.schema_forecast import ForecastConfig
from exportcast.features.concentration import concentration_from_paths, concentration_index
from exportcast.features.panel import build_trade_panel, series_to_panel
from exportcast.features.series import REST, split_series
from exportcast.flows.snapshot import load_snapshot
from exportcast.models.backtest import rolling_select
from exportcast.models.engine import MODEL_CLASSES
from exportcast.models.ensemble import add_ensemble
from exportcast.models.forecasting import cross_validate
from exportcast.models.intervals import size_classes_at
from exportcast.models.live_forecast import floor_at_zero, path_clip_bounds
from exportcast.models.paths import path_quantiles, window_error_paths
from exportcast.models.timeseries import Naive

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_MODELS = list(ForecastConfig().models)
REPORTER = "KOR"
FIRST, LAST = 1990, 2023
SCORED = list(range(2008, 2019))
HISTORY_START = 1998
H = 5
LEVELS = (80, 95)
MIN_YEARS = 20
N_PATHS = 1000
SEED = 0
DEPENDENCE = ("CHN", "USA")
INDICES = {"dependence_share": "dependence", "hhi": "HHI", "n_effective": "eff. partners"}
SEP = "@"  # backtest key: "<unique_id>@<tag>" (a partner's run start, or REST's origin)


def positive_run(values: pd.Series, start: int) -> pd.Series:
    """The run of positive values from ``start`` on (stops before the first year <= 0)."""
    tail = values.loc[start:]
    bad = np.flatnonzero(~(tail.to_numpy() > 0))
    return tail.iloc[: bad[0]] if len(bad) else tail


def build_backtest_series(panel: pd.DataFrame, splits: dict) -> tuple[pd.DataFrame, dict]:
    """One long frame of every distinct series of every origin's split, extended past T."""
    wide = panel.pivot(index="year", columns="partner", values="export_usd")
    wide = wide.reindex(range(FIRST, LAST + 1)).fillna(0.0)
    frames, keys = {}, {}
    for origin, fs in splits.items():
        mapping = {}
        for uid, g in fs.series.groupby("unique_id", sort=False):
            start = int(g["ds"].min())
            partner = uid.split("|", 1)[1]
            if partner == REST:
                key = f"{uid}{SEP}{origin}"
                values = wide.drop(columns=list(fs.partners)).sum(axis=1)
            else:
                key = f"{uid}{SEP}{start}"
                values = wide[partner]
            run = positive_run(values, start)
            known = run.loc[:origin].to_numpy()
            if not np.allclose(known, g.sort_values("ds")["y"].to_numpy()):
                raise AssertionError(f"extended series {key} disagrees with the split at {origin}")
            frames[key] = pd.DataFrame({"unique_id": key, "ds": run.index, "y": run.to_numpy()})
            mapping[key] = uid
        keys[origin] = mapping
    return pd.concat(frames.values(), ignore_index=True), keys


def bands(paths: pd.DataFrame, fs) -> pd.DataFrame:
    panel = series_to_panel(paths).rename(columns={"ds": "year"})
    idx = concentration_from_paths(
        panel,
        dependence_set=DEPENDENCE,
        rest=REST,
        rest_shares=fs.rest_shares,
        n_partners=fs.n_partners,
    )
    return path_quantiles(idx, list(INDICES), by=("year",), levels=LEVELS)


def score_origin(origin: int, fs, cv_all: pd.DataFrame, mapping: dict, real: pd.DataFrame):
    cv = cv_all.loc[cv_all["unique_id"].isin(mapping) & (cv_all["cutoff"] <= origin)]
    cv = cv.assign(unique_id=cv["unique_id"].map(mapping)).reset_index(drop=True)
    series = fs.series  # data <= origin only
    candidates = [*DEFAULT_MODELS, "Ensemble"]
    rolled = rolling_select(cv, series, candidates, [origin], levels=LEVELS)
    model = str(rolled.choices["model"].iat[0])

    now = cv.loc[cv["cutoff"] == origin]
    point = now[["unique_id", "ds", model]].rename(columns={model: "mean"})
    ids = series["unique_id"].unique()
    steps = point.groupby("unique_id")["ds"].nunique().reindex(ids)
    if (steps != H).any():
        short = list(steps.index[steps != H])
        raise RuntimeError(f"origin {origin}: no full {H}-step forecast for {short[:5]}")

    known = cv.loc[(cv["cutoff"] < origin) & (cv["ds"] <= origin)]
    windows = cv.loc[cv["cutoff"] + H <= origin]
    # as finish_engine: the 99 % conformal bound of the point's size class at T
    labels = pd.Series(size_classes_at(point, series), index=point["unique_id"].to_numpy())
    clip = path_clip_bounds(known, model, size_classes_at(known, series), labels)
    # the index of the point forecasts themselves (no paths), to locate any bias
    at_point = bands(point.rename(columns={"mean": "y"}).assign(path=0), fs).set_index("year")
    rows = []
    for variant, bound, center in (
        ("clipped", clip, None),
        ("unclipped", None, None),
        ("clipped+log-centered", clip, "log"),
        ("clipped+level-centered", clip, "level"),
    ):
        paths = window_error_paths(
            point, windows, model, h=H, n_paths=N_PATHS, seed=SEED, clip=bound, center=center
        )
        q = bands(paths, fs)
        for _, r in q.iterrows():
            year = int(r["year"])
            if year > LAST:
                continue
            for col in INDICES:
                truth = real.at[year, col]
                row = {
                    "variant": variant,
                    "origin": origin,
                    "k": year - origin,
                    "index": col,
                    "truth": truth,
                    "median": r[f"{col}_p50"],
                    "nochange": real.at[origin, col],
                    "point": at_point.at[year, f"{col}_p50"],
                }
                for lv in LEVELS:
                    lo, hi = r[f"{col}_lo_{lv}"], r[f"{col}_hi_{lv}"]
                    row[f"in_{lv}"] = bool(lo <= truth <= hi)
                    row[f"width_{lv}"] = hi - lo
                    row[f"below_{lv}"] = bool(truth < lo)
                rows.append(row)
    n_windows = int(windows["cutoff"].nunique())
    return rows, model, n_windows


def summary(res: pd.DataFrame) -> pd.DataFrame:
    out = []
    for (variant, col), g in res.groupby(["variant", "index"], sort=False):
        for lv in LEVELS:
            out.append(
                {
                    "paths": variant,
                    "index": INDICES[col],
                    "level": lv,
                    "coverage": g[f"in_{lv}"].mean(),
                    "below": g[f"below_{lv}"].mean(),
                    "above": 1 - g[f"in_{lv}"].mean() - g[f"below_{lv}"].mean(),
                    "pairs": len(g),
                    "mean width": g[f"width_{lv}"].mean(),
                }
            )
    return pd.DataFrame(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-jobs", type=int, default=2)
    args = parser.parse_args()
    t0 = time.perf_counter()
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(f"{dt.date.today().isoformat()}, {cores} cores, n_jobs={args.n_jobs}")

    snap = load_snapshot(ROOT / "data" / "snapshot", ["kor_exports"])
    panel = build_trade_panel(snap["kor_exports"], reporter=REPORTER, start=FIRST, end=LAST)
    real = concentration_index(panel, dependence_set=DEPENDENCE).set_index("year")
    splits = {t: split_series(panel.loc[panel["year"] <= t], min_years=MIN_YEARS) for t in SCORED}
    big, keys = build_backtest_series(panel, splits)
    print(
        f"origins {SCORED[0]}-{SCORED[-1]}, h={H}; series per origin "
        f"{min(len(m) for m in keys.values())}-{max(len(m) for m in keys.values())}; "
        f"{big['unique_id'].nunique()} distinct series backtested"
    )
    with threadpool_limits(1, "blas"):
        t1 = time.perf_counter()
        models = [MODEL_CLASSES[name]() for name in DEFAULT_MODELS]
        cv = cross_validate(
            big,
            models,
            H,
            origins=range(HISTORY_START, SCORED[-1] + 1),
            fallback=Naive(),
            n_jobs=args.n_jobs,
        )
        cv = floor_at_zero(cv, [m.alias for m in models])  # as the engine does
        cv = add_ensemble(cv, [m.alias for m in models], alias="Ensemble")
        print(f"backtest: {time.perf_counter() - t1:.1f} s")
        rows, picks = [], []
        for origin in SCORED:
            r, model, n_windows = score_origin(origin, splits[origin], cv, keys[origin], real)
            rows.extend(r)
            fs = splits[origin]
            picks.append(
                f"{origin}:{model}/{n_windows}w/{len(fs.partners)}p/rest_hhi={fs.rest_hhi:.2f}"
            )
    res = pd.DataFrame(rows)
    print("selected model / full windows / partners / rest HHI per origin:")
    print("  " + ", ".join(picks))

    pd.set_option("display.width", 140)
    fmt = {"coverage": 3, "below": 3, "above": 3, "mean width": 4}
    print("\nCoverage of the index bands over (origin, k) pairs, origins 2008-2018, k = 1..5:")
    print(summary(res).round(fmt).to_string(index=False))

    dep = res.loc[res["index"] == "dependence_share"]
    by_k = dep.groupby(["variant", "k"], sort=False).agg(
        pairs=("in_80", "size"),
        cov_80=("in_80", "mean"),
        cov_95=("in_95", "mean"),
        width_80=("width_80", "mean"),
        width_95=("width_95", "mean"),
    )
    print("\nDependence share (CHN+USA) by horizon k:")
    print(by_k.round(3).to_string())

    forecasts = ["median", "nochange", "point"]
    err = res.assign(**{f: (res[f] - res["truth"]).abs() for f in forecasts})
    mae = err.groupby(["index", "variant"], sort=False)[forecasts].mean()
    mae = mae.assign(
        ratio=mae["median"] / mae["nochange"],
        bias_median=(res["median"] - res["truth"]).groupby([res["index"], res["variant"]]).mean(),
        bias_point=(res["point"] - res["truth"]).groupby([res["index"], res["variant"]]).mean(),
    )
    mae = mae.rename(index=INDICES, level=0)
    print(
        "\nMean absolute error vs realised index over the same pairs: paths' median, no change"
        "\n(index at T carried forward), index of the point forecasts without paths (identical"
        "\nfor both variants); ratio = median / no change; bias = mean(forecast - realised):"
    )
    print(mae.round(4).to_string())
    print(f"\nrun time {time.perf_counter() - t0:.1f} s")


if __name__ == "__main__":
    main()
