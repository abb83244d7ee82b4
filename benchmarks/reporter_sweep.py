"""Sweep: every reporter of the snapshot through the pipeline's computations.

Run: ``.venv/bin/python benchmarks/reporter_sweep.py [--reporters JPN,NZL] [--n-jobs 2]
[--set forecast.demand_model=true] [--csv sweep.csv]`` (17-45 minutes for all 209 reporters on
2 cores). ``--set`` passes config overrides (as ``exportcast run --set``) to every reporter, so
a variant of the default (the demand model as a candidate) is swept through the same code.

Each reporter goes through the same functions as ``exportcast run --set reporter=R --set
scenarios=[]`` (for China and the US: ``--set dependence_set=[USA]`` / ``[CHN]``): the exports table of :func:`flows.years.reporter_exports`, the panel, the
concentration history, the partner series, the dependence-set check, the engine (default
models and origins, 200 paths instead of 1,000), the index forecast, the index backtest and the
opportunities, without Prefect, MLflow or the report (the flow tests cover those). It prints
one line per outcome class (ran / data too short: which check / crashed: the exception) with
the reporters in it, then the accuracy of the reporters that ran. A crash is a bug to fix; a
"too short" outcome is a clear error the user sees.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse
import random
import sys
import time
import traceback
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from exportcast.configs import load_config  # noqa: E402
from exportcast.features.series import CoverageError, check_dependence_modelled  # noqa: E402
from exportcast.flows import forecast_tasks, pipeline, years  # noqa: E402
from exportcast.flows.outputs import forecast_table  # noqa: E402
from exportcast.flows.snapshot import load_snapshot  # noqa: E402
from exportcast.flows.years import resolve_run_years  # noqa: E402
from exportcast.models.backtest_stage import BacktestCoverageError  # noqa: E402
from exportcast.models.demand import DEMAND_TABLES  # noqa: E402
from exportcast.models.fallbacks import FallbackShareError  # noqa: E402

_TABLES: dict[str, pd.DataFrame] = {}
# the clear errors a user gets, by the check that raised them
_TOO_SHORT = {
    "no partner in every year": "has exports in every year",
    "a dependence partner has no series of its own": "have no series of their own",
    "no scorable backtest origin": "no scored backtest origin",
}


_OVERRIDES: list[str] = []


def _init(overrides: tuple[str, ...] = ()) -> None:
    _TABLES.update(load_snapshot(ROOT / "data" / "snapshot", pipeline.SNAPSHOT_TABLES).tables)
    _OVERRIDES[:] = overrides


def one(reporter: str) -> dict:
    # China's and the US's own dependence set is the other one of the two
    sets = {"CHN": ["dependence_set=[USA]"], "USA": ["dependence_set=[CHN]"]}.get(reporter, [])
    cfg = load_config(overrides=[f"reporter={reporter}", "scenarios=[]", *sets, *_OVERRIDES])
    dep = cfg.dependence_set
    t0 = time.perf_counter()
    row: dict = {"reporter": reporter}
    try:
        # the flow's own task functions (.fn: without Prefect), in the flow's order
        exports, name = years.reporter_exports(_TABLES, reporter)
        cfg, _ = resolve_run_years(cfg, exports, vintage="embedded", name=name)
        panel = pipeline.build_panel.fn(
            exports, reporter, cfg.years.start, cfg.years.end, cache_key=None, name=name
        )
        history = pipeline.compute_concentration.fn(panel, dep, cache_key=None)
        fs = pipeline.build_series.fn(panel, cfg.forecast.min_years, cache_key=None)
        check_dependence_modelled(fs, dep, reporter=reporter, min_years=cfg.forecast.min_years)
        f = cfg.forecast
        settings = {**f.model_dump(mode="json"), "n_paths": 200, "n_jobs": 1}
        # as the flow calls it: the per-origin split from the panel, the demand tables if asked
        demand = {k: _TABLES[k] for k in DEMAND_TABLES} if f.demand_model else None
        engine = pipeline.forecast_partners.fn(
            fs, cfg.horizon, settings, cache_key=None, panel=panel, demand_tables=demand
        )
        conc = forecast_tasks.forecast_concentration.fn(
            history, engine, fs, dep, tuple(f.levels), f.dependence_threshold
        )
        track = forecast_tasks.backtest_index.fn(engine, fs, dep)
        forecast_tasks.find_opportunities.fn(
            forecast_table(engine), panel, _TABLES, dep, cfg.horizon
        )
        acc = engine.accuracy.set_index("model").loc["Selected"]
        end = conc[conc["kind"] == "forecast"].iloc[-1]
        row.update(
            outcome="ran",
            years=f"{int(panel['year'].min())}-{int(panel['year'].max())}",
            partners=len(fs.partners),
            model=engine.model,
            relMASE=float(acc["relMASE"]),
            wrelMASE=float(acc.get("wrelMASE", float("nan"))),
            coverage80=engine.coverage.get("coverage-80"),
            dep_last=float(history["dependence_share"].iloc[-1]),
            dep_forecast=float(end["dependence_share"]),
            index_origins=int(track["cutoff"].nunique()) if len(track) else 0,
            # every candidate's own score (the demand model's among them when asked)
            **{
                f"relMASE_{m}": float(v)
                for m, v in engine.accuracy.set_index("model")["relMASE"].items()
            },
        )
    except FallbackShareError as exc:  # a clear error too: the message says what to change
        row.update(outcome="stopped: too many fallback fits", error=str(exc)[:200])
    except (CoverageError, BacktestCoverageError) as exc:
        text = str(exc)
        kind = next(
            (k for k, v in _TOO_SHORT.items() if v in text), "other: " + text.split(":")[0][:50]
        )
        row.update(outcome=f"too short: {kind}")
    except Exception as exc:  # the sweep reports every crash
        row.update(outcome=f"CRASH {type(exc).__name__}", error=str(exc)[:200])
        row["trace"] = traceback.format_exc(limit=3)
    row["seconds"] = time.perf_counter() - t0
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reporters", help="comma-separated ISO3 codes (default: all)")
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="config override for every reporter",
    )
    parser.add_argument("--sample", type=int, help="sweep a random subset of N (seed 0)")
    parser.add_argument("--csv", type=Path, help="also write one row per reporter here")
    args = parser.parse_args()
    _init(tuple(args.overrides))
    every = sorted(set().union(*(set(_TABLES[t]["reporter"]) for t in years.EXPORT_TABLES)))
    reporters = args.reporters.split(",") if args.reporters else every
    if args.sample:  # a reproducible random subset (for variants too slow to sweep in full)
        reporters = sorted(random.Random(0).sample(reporters, min(args.sample, len(reporters))))
        print(f"sample of {len(reporters)} reporters (seed 0): {','.join(reporters)}")
    t0 = time.perf_counter()
    rows = []
    if args.overrides:
        print("overrides:", " ".join(args.overrides))
    with ProcessPoolExecutor(
        args.n_jobs, initializer=_init, initargs=(tuple(args.overrides),)
    ) as pool:
        for i, row in enumerate(pool.map(one, reporters), 1):
            rows.append(row)
            print(f"[{i}/{len(reporters)}] {row['reporter']}: {row['outcome']}", flush=True)
    table = pd.DataFrame(rows)
    if args.csv:
        table.drop(columns=["trace"], errors="ignore").to_csv(args.csv, index=False)
    print(f"\n{len(table)} reporters in {time.perf_counter() - t0:.0f} s")
    for outcome, part in table.groupby("outcome"):
        print(f"{outcome}: {len(part)}: {', '.join(part['reporter'])}")
    crashes = table[table["outcome"].str.startswith("CRASH")]
    for _, r in crashes.iterrows():
        print(f"\n--- {r['reporter']}: {r['error']}\n{r['trace']}")
    ran = table[table["outcome"] == "ran"]
    if len(ran):
        cols = ["relMASE", "wrelMASE", "coverage80", "seconds"]
        print("\nreporters that ran: quantiles of the Selected backtest scores")
        print(ran[cols].describe(percentiles=[0.1, 0.5, 0.9]).round(3).to_string())
        print("\nmodel chosen:", ran["model"].value_counts().to_dict())
        per_model = ran.filter(like="relMASE_")
        print("\nmedian relMASE of each candidate (reporters that ran):")
        print(per_model.median().round(3).to_string())
        show = ["reporter", "years", "partners", "model", "relMASE", "wrelMASE", "coverage80"]
        print("\nlowest 80 % coverage:")
        print(ran.nsmallest(5, "coverage80")[show].round(3).to_string(index=False))
        print("\nlowest and highest relMASE:")
        print(ran.nsmallest(3, "relMASE")[show].round(3).to_string(index=False))
        print(ran.nlargest(3, "relMASE")[show].round(3).to_string(index=False))


if __name__ == "__main__":
    main()
