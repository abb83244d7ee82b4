"""The Theta fit: statsmodels' ``ThetaModel.fit`` against the product's trimmed fit, paired.

Run: ``.venv/bin/python benchmarks/theta_fit.py [--rounds 3] [--step 2]``.

The series are Korea's partner histories from the snapshot (every partner with positive
exports, cut at every ``step``-th year from 5 observations), the inputs the backtest fits
Theta on. Each series is fitted by both functions in turn (one BLAS thread, as in the engine),
so a change of this machine's speed during the run hits both alike; the table gives the CPU
seconds of each over all fits, per round, their ratio, and how many fits gave a different
alpha, slope or one-step forecast (must be 0: :func:`models.timeseries._theta_fit` is the same
fit without the results object's smoothing pass, numerical Hessian and prediction object).
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from exportcast.flows.snapshot import load_snapshot
from exportcast.models.timeseries import _theta_fit

ROOT = Path(__file__).resolve().parents[1]


def korea_histories(step: int) -> list[np.ndarray]:
    """Korea's positive partner histories, each cut at every ``step``-th length from 5."""
    exports = load_snapshot(ROOT / "data" / "snapshot", ["kor_exports"])["kor_exports"]
    out = []
    for _, rows in exports[exports["export_usd"] > 0].groupby("partner"):
        y = rows.sort_values("year")["export_usd"].to_numpy(dtype=float)
        out += [y[:cut] for cut in range(5, y.size + 1, step) if np.ptp(y[:cut]) > 0]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--step", type=int, default=2, help="cut every STEP-th year")
    args = parser.parse_args()
    from statsmodels.tsa.forecasting.theta import ThetaModel

    series = korea_histories(args.step)
    print(f"{len(series)} series (Korea's partners, cut every {args.step} years), one BLAS thread")
    print("| round | ThetaModel.fit s | _theta_fit s | ratio | different fits |")
    print("|---|---|---|---|---|")
    with threadpool_limits(limits=1, user_api="blas"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for r in range(1, args.rounds + 1):
            ref_s = ours_s = 0.0
            differ = 0
            for y in series:
                t = time.process_time()
                ref = ThetaModel(y, period=1, deseasonalize=False).fit()
                ref_s += time.process_time() - t
                t = time.process_time()
                ours = _theta_fit(y)
                ours_s += time.process_time() - t
                same = (ours._alpha, ours._b0) == (ref._alpha, ref._b0) and np.array_equal(
                    ours._one_step, np.asarray(ref._one_step)
                )
                differ += not same
            print(f"| {r} | {ref_s:.2f} | {ours_s:.2f} | {ours_s / ref_s:.3f} | {differ} |")


if __name__ == "__main__":
    main()
