"""Variants of the demand-driven model (``models/demand.py``) on the ``make bench`` backtest.

Run: ``.venv/bin/python research/demand_probe.py [--variants a,b] [--cache /tmp/demand]``.

A research probe (variants of one model compared; the product kept one, opt-in): its measured
tables and conclusions are in ``docs/demand-models.md``; ``make bench`` prints the committed
model's rows through the product's engine call (``benchmarks/backtest.py``).

Same series, origins and horizon as ``benchmarks/backtest.py`` (Korea's full-history partners,
scored origins 2008-2018, history origins 1998-2007, h = 5). For each variant: its relMASE /
wrelMASE vs naive on the scored origins, on the history origins, and the rolling selection
among the default candidates (Naive, Drift, Theta, Ensemble) plus the variant, judged as the
engine judges (share-weighted MASE of earlier origins; weights = shares in the last year, as
the product's since issue 15: the wrelMASE of docs/demand-models.md used mean shares over the
scored origins). The default candidates' backtest is
cached under ``--cache`` (a research convenience; delete it after a code change).

WEO vintages: the snapshot table ``weo_vintages``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import pandas as pd

# benchmarks/backtest.py: the same series, origins, horizon and levels as ``make bench``
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from backtest import HISTORY, LEVELS, SCORED, H, load_series

from exportcast.configs.schema import ForecastConfig
from exportcast.features.demand_inputs import demand_covariates
from exportcast.flows.snapshot import load_snapshot
from exportcast.models.backtest import interval_coverage, rolling_select
from exportcast.models.demand import DemandModel
from exportcast.models.engine import MODEL_CLASSES, floor_at_zero
from exportcast.models.engine_call import last_year_weights
from exportcast.models.ensemble import add_ensemble
from exportcast.models.forecasting import cross_validate
from exportcast.models.metrics import evaluate_cv
from exportcast.models.timeseries import Naive

ROOT = Path(__file__).resolve().parents[1]


def load_weo() -> pd.DataFrame:
    """The snapshot table ``weo_vintages`` (IMF WEO Historical Forecasts + the latest WEO)."""
    return load_snapshot(ROOT / "data" / "snapshot", ["weo_vintages"])["weo_vintages"]


def load_exog(series: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    snap = load_snapshot(ROOT / "data" / "snapshot", ["indicators", "pairs", "fta"])
    return demand_covariates(series, snap["indicators"], snap["pairs"], snap["fta"])


def baseline_cv(series: pd.DataFrame, cache: Path) -> pd.DataFrame:
    """The default candidates' backtest at the history and scored origins, with Ensemble.

    Assembled here, not through ``models.engine_call``: the probe needs the raw rows of every
    origin (the engine returns the scored rows only) to re-run the rolling selection with each
    variant as one more candidate. The product's own rows are ``make bench``'s.
    """
    path = cache / "baseline_cv.parquet"
    if path.exists():
        return pd.read_parquet(path)
    models = [MODEL_CLASSES[m]() for m in ForecastConfig().models]
    cv = cross_validate(series, models, H, origins=HISTORY + SCORED, fallback=Naive(), n_jobs=2)
    cv = floor_at_zero(cv, [m.alias for m in models])
    cv = add_ensemble(cv, [m.alias for m in models], alias="Ensemble")
    cache.mkdir(parents=True, exist_ok=True)
    cv.to_parquet(path)
    return cv


OWN = ["g1", "g2", "mg5", "mg10", "vol5", "dev5", "share", "share_d5", "tg1", "tg5", "scale_rel"]
WEO = ["gdp_h", "cpi_h", "gdp_now", "gdp_bias", "gdp_h_adj", "wgdp_h", "rel_gdp_h", "uscpi_h"]
EXO = ["mshare", "mshare_d5", "mg3", "pop_growth_pct", "fta", "log_dist"]
GROWTH = {"target": "growth", "total": "flat"}
FLAT = {"target": "share", "total": "flat"}
VARIANTS: dict[str, dict] = {
    # growth target (log growth of the series)
    "own": {**GROWTH, "features": [*OWN, "k"]},
    "own+weo": {**GROWTH, "features": [*OWN, *WEO, "k"]},
    "all": GROWTH,
    "all-noweight": {**GROWTH, "weight": "none"},
    "all-shrink0.5": {**GROWTH, "shrink": 0.5},
    "weo-only": {**GROWTH, "features": [*WEO, "k", "scale_rel"]},
    # share target: the change of the series' share, times a forecast of the total
    "naive-share x weo-total": {"target": "share", "total": "weo", "learner": "none"},
    "naive-share x weo-real-total": {"target": "share", "total": "weo-real", "learner": "none"},
    "naive-share x weo-bias-total": {"target": "share", "total": "weo-bias", "learner": "none"},
    "naive-share x weo-learned-total": {
        "target": "share",
        "total": "weo-learned",
        "learner": "none",
    },
    "share-all x flat": FLAT,
    "share-all x flat wmase": {**FLAT, "weight": "wmase"},
    "share-all x flat window10": {**FLAT, "window": 10},
    "share-all x flat shrink0.5": {**FLAT, "shrink": 0.5},
    "share-weo x flat": {
        **FLAT,
        "features": [*WEO, "k", "scale_rel", "share", "share_d5", "mg5", "dev5"],
    },
    "share-noweo x flat": {**FLAT, "features": [*OWN, *EXO, "k"]},
    "share-all x weo-bias-total": {"target": "share", "total": "weo-bias"},
    "share-all x weo-learned-total": {"target": "share", "total": "weo-learned"},
    "share-all x theta-total (default)": {},
}


DEPENDENCE = ("KOR|CHN", "KOR|USA")


def dependence_error(cv: pd.DataFrame, column: str) -> float:
    """Mean absolute error (points) of the China + US share of the series' total."""
    top = cv["unique_id"].isin(DEPENDENCE)
    keys = [cv["cutoff"], cv["ds"]]
    num = cv[column].where(top, 0.0).groupby(keys).sum()
    act = cv["y"].where(top, 0.0).groupby(keys).sum()
    share = num / cv[column].groupby(keys).sum()
    real = act / cv["y"].groupby(keys).sum()
    return float((share - real).abs().mean() * 100)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--cache", type=Path, default=Path("/tmp/demand-probe"))
    args = parser.parse_args()
    series = load_series()
    weights = last_year_weights(series)  # the product's (shares in the last year)
    base = baseline_cv(series, args.cache)
    weo = load_weo()
    exog, static = load_exog(series)
    cands = [*ForecastConfig().models, "Ensemble"]
    rows = []
    for name in args.variants.split(","):
        t0 = time.perf_counter()
        path = args.cache / f"{name}.parquet"
        if path.exists():
            dm = pd.read_parquet(path)
        else:
            model = DemandModel(weo, exog, static, alias=name, **VARIANTS[name])
            dm = model.backtest(series, HISTORY + SCORED, H)
            dm.to_parquet(path)
        sec = time.perf_counter() - t0
        cv = base.merge(dm.drop(columns="y"), on=["unique_id", "ds", "cutoff"], how="left")
        cv[name] = cv[name].fillna(cv["Naive"])
        rolled = rolling_select(cv, series, [*cands, name], SCORED, levels=LEVELS)
        ev = evaluate_cv(rolled.cv, series, [name, "Selected"], weights).set_index("model")
        hist = cv.loc[cv["cutoff"].isin(HISTORY)]
        evh = evaluate_cv(hist, series, [name], weights).set_index("model")
        cov = interval_coverage(rolled.cv, "Selected", LEVELS)
        picks = rolled.choices["model"].value_counts().to_dict()
        naive_dep = dependence_error(rolled.cv, "Naive")
        rows.append(
            {
                "variant": name,
                "rel 08-18": ev.loc[name, "relMASE"],
                "wrel 08-18": ev.loc[name, "wrelMASE"],
                "rel 98-07": evh.loc[name, "relMASE"],
                "wrel 98-07": evh.loc[name, "wrelMASE"],
                "Selected rel": ev.loc["Selected", "relMASE"],
                "Selected wrel": ev.loc["Selected", "wrelMASE"],
                "cov80": cov["coverage-80"],
                "cov95": cov["coverage-95"],
                "CN+US err / naive": dependence_error(rolled.cv, name) / naive_dep,
                "Sel CN+US / naive": dependence_error(rolled.cv, "Selected") / naive_dep,
                "picks": str(picks),
                "seconds": sec,
            }
        )
        print(pd.DataFrame(rows[-1:]).to_string(index=False, float_format="{:.3f}".format))
    with pd.option_context("display.width", 200):
        print(pd.DataFrame(rows).to_string(index=False, float_format="{:.3f}".format))


if __name__ == "__main__":
    main()
