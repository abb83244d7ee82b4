"""Scale benchmark: every reporter-partner series in IMF DOTS, default runner vs Dask.

Run: ``.venv/bin/python benchmarks/scale.py [--max-reporters N] [--origins K] [--runs ...]``.

Data: ``dots_exports`` of the embedded snapshot (reporter, partner, year, export_usd,
1990-2020). A series is a reporter-partner pair positive in each of the last ``--min-years``
years (default 10); it runs from the start of its trailing run of positive years to 2020.

Work per series: the live forecast (the default config's horizon, 5) of the default config's
candidates (Naive, Drift, Theta), plus, with ``--origins K``, a rolling backtest from the last K
origins (2020-h-K+1 .. 2020-h). The same chunk task as the pipeline's ``runner.kind: dask``
(``flows.parallel.backtest_chunk``, its ``.fn`` for the default run), which
``flows.engine_call.run_configured_engine`` sends the product's engine call to.

Runs (``--runs``, default ``default,dask1,dask2``):

- ``default``: the default runner's path, the calls in this process (one thread);
- ``daskN``: prefect-dask's ``DaskTaskRunner`` on a LocalCluster of N single-threaded worker
  processes on 127.0.0.1 (started inside the timing), chunks of ``--chunk-size`` series as
  Prefect task runs (outside a flow run; Prefect's temporary local server unless
  ``PREFECT_API_URL`` is set).

Printed: series, wall seconds, series per second (wall and compute only), and peak resident memory (ru_maxrss) of
the main process and the largest worker. Every run's forecasts are checked equal to the
first run's.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")  # before numpy loads its pools
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")  # no network

import argparse
import resource
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from exportcast.flows.snapshot import load_snapshot
from exportcast.models.auto import default_horizon, forecast_settings

MODELS = tuple(forecast_settings()["models"])  # the product's candidates (Naive, Drift, Theta)
H = default_horizon()  # the product's horizon (5)


def dots_series(min_years: int, max_reporters: int | None) -> pd.DataFrame:
    """``unique_id, ds, y``: trailing runs of positive exports, at least ``min_years`` long."""
    dots = load_snapshot(Path(__file__).resolve().parents[1] / "data/snapshot")["dots_exports"]
    reporters = sorted(dots["reporter"].unique())
    if max_reporters is not None:
        reporters = reporters[:max_reporters]
    dots = dots[dots["reporter"].isin(reporters)]
    wide = dots.pivot_table(index=["reporter", "partner"], columns="year", values="export_usd")
    wide = wide.reindex(columns=range(int(wide.columns.min()), int(wide.columns.max()) + 1))
    positive = (wide > 0).to_numpy()
    # length of the trailing run of positive years
    run = np.argmin(positive[:, ::-1], axis=1)
    run[positive.all(axis=1)] = positive.shape[1]
    keep = run >= min_years
    years = wide.columns.to_numpy()
    long = wide[keep].stack().rename("y").reset_index()
    first = pd.Series(years[-1] - run[keep] + 1, index=wide.index[keep], name="first")
    long = long.join(first, on=["reporter", "partner"])
    long = long[long["year"] >= long["first"]]
    return pd.DataFrame(
        {
            "unique_id": long["reporter"] + "|" + long["partner"],
            "ds": long["year"].astype("int64"),
            "y": long["y"].astype(float),
        }
    ).reset_index(drop=True)


def _maxrss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_default(series: pd.DataFrame, origins: list[int]) -> tuple[pd.DataFrame, float, float]:
    from exportcast.flows.parallel import backtest_chunk

    t0 = time.perf_counter()
    _, fc = backtest_chunk.fn(series, 0, h=H, models=MODELS, origins=origins)
    return fc, 0.0, time.perf_counter() - t0


def run_dask(
    series: pd.DataFrame, origins: list[int], n_workers: int, chunk_size: int
) -> tuple[pd.DataFrame, float, float]:
    from exportcast.flows.parallel import backtest_chunk, chunk_series, dask_task_runner

    # task runs outside a flow run: a flow run's context (its function and parameters) would
    # travel with every chunk
    chunks = chunk_series(series, n_workers, size=chunk_size)
    with dask_task_runner({"kind": "dask", "n_workers": n_workers}) as dask:
        dask.client.wait_for_workers(n_workers)
        t_ready = time.perf_counter()
        futures = [
            dask.submit(
                backtest_chunk,
                {"series": c, "index": i, "h": H, "models": MODELS, "origins": origins},
            )
            for i, c in enumerate(chunks)
        ]
        parts = [f.result()[1] for f in futures]
        compute = time.perf_counter() - t_ready
        rss = dask.client.run(lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    return pd.concat(parts, ignore_index=True), max(rss.values()), compute


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--max-reporters", type=int, default=None, help="first N reporters")
    parser.add_argument("--min-years", type=int, default=10)
    parser.add_argument("--origins", type=int, default=0, help="backtest origins (0 = none)")
    parser.add_argument("--chunk-size", type=int, default=500, help="series per Dask task")
    parser.add_argument("--runs", default="default,dask1,dask2")
    args = parser.parse_args()

    started = time.perf_counter()
    series = dots_series(args.min_years, args.max_reporters)
    last = int(series["ds"].max())
    origins = list(range(last - H - args.origins + 1, last - H + 1)) if args.origins else []
    n_series = series["unique_id"].nunique()
    n_reporters = series["unique_id"].str.split("|").str[0].nunique()
    print(
        f"{n_series:,} series from {n_reporters} reporters ({len(series):,} rows, "
        f"prepared in {time.perf_counter() - started:.1f} s); models {', '.join(MODELS)}, "
        f"h={H}, backtest origins {origins or 'none'}; {os.cpu_count()} CPUs"
    )
    if "PREFECT_API_URL" not in os.environ:  # one temporary server for the main and workers
        from prefect.server.api.server import SubprocessASGIServer

        server = SubprocessASGIServer()
        server.start()
        os.environ["PREFECT_API_URL"] = server.api_url
    rows, reference = [], None
    for name in args.runs.split(","):
        t0 = time.perf_counter()
        if name == "default":
            fc, worker_rss, compute = run_default(series, origins)
            workers = 0
        elif name.startswith("dask"):
            workers = int(name[4:])
            fc, worker_rss, compute = run_dask(series, origins, workers, args.chunk_size)
        else:
            raise SystemExit(f"unknown run {name!r}")
        wall = time.perf_counter() - t0
        if reference is None:
            reference = fc
        else:
            pd.testing.assert_frame_equal(fc, reference)
        rows.append(
            {
                "runner": name,
                "workers": workers,
                "series": n_series,
                "wall_s": round(wall, 1),
                "series_per_s": round(n_series / wall, 1),
                "compute_s": round(compute, 1),
                "series_per_compute_s": round(n_series / compute, 1),
                "main_maxrss_MB": round(_maxrss_mb()),
                "worker_maxrss_MB": round(worker_rss) if workers else None,
            }
        )
        print(f"  {name}: {wall:.1f} s", flush=True)
    print(pd.DataFrame(rows).to_string(index=False))
    print(
        "wall_s includes starting Prefect's temporary server, the cluster and its workers; "
        "compute_s is from workers ready to all chunk results back.\n"
        "main_maxrss is the process peak so far (includes the runs before it); "
        "worker_maxrss is the largest worker's peak."
    )


if __name__ == "__main__":
    main()
