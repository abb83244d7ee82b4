"""The engine's backtest on Korea's partner split: decided at the last year vs at each origin.

Run: ``.venv/bin/python benchmarks/split_rescore.py [--n-jobs N] [--splits last,origin]``.

The series are what the pipeline forecasts (:func:`features.series.split_series` of Korea's
1990-2023 panel: partners positive in each of the last ``min_years`` = 20 years, the rest as
``REST``), not only the 163 full-history partners of ``benchmarks/backtest.py``. Default
config: candidates Naive, Drift, Theta and their Ensemble, history origins 1998-2007, scored
origins 2008-2018, h = 5, 80/95 % conformal intervals, weights = shares in the last year.

* ``last``: the split of the last year (2004-2023) for every backtest origin, as on main
  before issue 13: partners that were not yet regular at an origin are modelled on their own
  there, with knowledge of the future.
* ``origin``: the split decided at each origin with data to that origin only
  (:func:`features.series.origin_histories`): what the engine does now.

Prints one table per split (model x relMASE, wrelMASE, MASE, wMASE, cov80, cov95, n_units),
the China + US share's backtest errors (``models.index_backtest``) and the time of each run.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import pandas as pd
from threadpoolctl import threadpool_limits

from exportcast.configs.schema_forecast import ForecastConfig
from exportcast.features.panel import build_trade_panel
from exportcast.features.series import origin_histories, split_series
from exportcast.flows.snapshot import load_snapshot
from exportcast.models.engine import run_engine
from exportcast.models.index_backtest import index_backtest, summarize_index_backtest

ROOT = Path(__file__).resolve().parents[1]
H = 5


def run(split: str, n_jobs: int) -> tuple[pd.DataFrame, float, list, pd.DataFrame]:
    """One engine run (backtest, selection, live forecast) with the given split."""
    cfg = ForecastConfig()
    snap = load_snapshot(ROOT / "data" / "snapshot", ["kor_exports"])
    panel = build_trade_panel(snap["kor_exports"], reporter="KOR", start=1990, end=2023)
    fs = split_series(panel, min_years=cfg.min_years)
    last = fs.series.loc[fs.series["ds"] == fs.last_year]
    weights = (last.set_index("unique_id")["y"] / last["y"].sum()).reindex(
        fs.series["unique_id"].unique(), fill_value=0.0
    )
    scored = range(cfg.backtest.start, cfg.backtest.end + 1)
    history_origins = range(cfg.history_start, cfg.backtest.start)
    t0 = time.perf_counter()
    history = None
    if split == "origin":
        origins = [*history_origins, *scored]
        history = origin_histories(panel, origins, min_years=cfg.min_years, h=H)
    engine = run_engine(
        fs.series,
        h=H,
        models=cfg.models,
        scored_origins=scored,
        history_origins=history_origins,
        levels=cfg.levels,
        weights=weights,
        n_paths=cfg.n_paths,
        seed=cfg.seed,
        n_jobs=n_jobs,
        history=history,
    )
    seconds = time.perf_counter() - t0
    table = engine.accuracy.set_index("model")
    table.loc["Selected", "cov80"] = engine.coverage["coverage-80"]
    table.loc["Selected", "cov95"] = engine.coverage["coverage-95"]
    index = index_backtest(engine.backtest, engine.history, "Selected", ["CHN", "USA"])
    return table, seconds, engine.choices["model"].tolist(), summarize_index_backtest(index)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--splits", default="last,origin", help="comma list of last, origin")
    args = parser.parse_args()
    cols = ["relMASE", "wrelMASE", "MASE", "wMASE", "cov80", "cov95", "n_units"]
    for split in args.splits.split(","):
        with threadpool_limits(limits=1, user_api="blas"):
            table, seconds, choices, index = run(split, args.n_jobs)
        print(f"\nsplit={split}: engine run {seconds:.1f}s; rolling choices {choices}")
        with pd.option_context("display.width", 160, "display.float_format", "{:.3f}".format):
            print(table.reindex(columns=cols).to_string())
            print("China + US share from the Selected backtest (points):")
            print(index.to_string(index=False))


if __name__ == "__main__":
    main()
