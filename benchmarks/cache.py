"""Cold vs warm: what the task cache saves on a rerun of the main job.

Run: ``.venv/bin/python benchmarks/cache.py [--repeat 3] [--set key=value ...]``.

Everything runs in this process against a throwaway MLflow store and output folder, on
Prefect's temporary local server (or ``PREFECT_API_URL`` when set). One warm-up run with the
cache off absorbs the one-time costs (server start, imports, creating the MLflow store). Then,
``--repeat`` times: a cold run on an empty cache folder and a warm run on the same folder.

"heavy stages" is the time from the end of ``load data`` to the end of ``forecast partners``
(panel, indices, partner series and the forecasting engine's backtest and forecast, with
Prefect's per-task overhead), taken from the progress lines; "run" is the whole
``run_pipeline`` call.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

# Before Prefect and MLflow are imported: their logging, no telemetry.
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
os.environ.setdefault("PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL", "CRITICAL")
os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("MPLBACKEND", "Agg")


HEAVY = ("build_panel", "compute_concentration", "build_series", "forecast_partners")


def _timed_run(config, run_pipeline) -> tuple[float, float | None, tuple[str, ...]]:
    stamps: dict[str, float] = {}

    def log(line: str) -> None:
        stage = line.strip()[:22].strip()
        stamps[stage] = time.perf_counter()

    start = time.perf_counter()
    result = run_pipeline(config, log=log)
    total = time.perf_counter() - start
    heavy = None
    if "load data" in stamps and "forecast partners" in stamps:
        heavy = stamps["forecast partners"] - stamps["load data"]
    return total, heavy, result.cached


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="cold/warm pairs (default 3)")
    parser.add_argument("--set", dest="sets", action="append", default=[], help="config override")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="exportcast-bench-") as tmp:
        tmp_path = Path(tmp)
        os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{tmp_path / 'mlruns' / 'mlflow.db'}"
        from exportcast.configs import load_config
        from exportcast.flows.pipeline import run_pipeline

        def config(*extra: str):
            return load_config(overrides=[f"output.dir={tmp_path / 'out'}", *args.sets, *extra])

        started = time.perf_counter()
        _timed_run(config("cache.enabled=false"), run_pipeline)
        warmup = time.perf_counter() - started

        rows = []
        for i in range(args.repeat):
            cfg = config(f"cache.dir={tmp_path / f'cache-{i}'}")
            cold = _timed_run(cfg, run_pipeline)
            warm = _timed_run(cfg, run_pipeline)
            if cold[2] or warm[2] != HEAVY:
                raise SystemExit(f"unexpected cache use: cold {cold[2]}, warm {warm[2]}")
            rows.append((cold, warm))

    def median(values):
        return statistics.median(v for v in values if v is not None)

    cold_run, warm_run = median(r[0][0] for r in rows), median(r[1][0] for r in rows)
    cold_heavy, warm_heavy = median(r[0][1] for r in rows), median(r[1][1] for r in rows)
    print(f"warm-up run (server start, imports, new MLflow store): {warmup:.2f} s")
    print(f"median of {args.repeat} cold/warm pairs, seconds; warm runs reused {len(HEAVY)} stages")
    print()
    print(f"{'':<14}{'cold':>8}{'warm':>8}{'cold/warm':>11}{'saved':>8}")
    for name, cold, warm in (
        ("heavy stages", cold_heavy, warm_heavy),
        ("whole run", cold_run, warm_run),
    ):
        print(f"{name:<14}{cold:>8.3f}{warm:>8.3f}{cold / warm:>10.2f}x{cold - warm:>8.3f}")
    for i, (cold, warm) in enumerate(rows, 1):
        print(
            f"  pair {i}: run {cold[0]:.3f} / {warm[0]:.3f} s, "
            f"heavy {cold[1]:.3f} / {warm[1]:.3f} s"
        )


if __name__ == "__main__":
    main()
