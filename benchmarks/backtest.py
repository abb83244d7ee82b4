"""Default backtest on the Korea snapshot, side by side with statsforecast.

Run: ``make bench`` (or ``.venv/bin/python benchmarks/backtest.py [--reference ...]
[--no-statsforecast]``).

Ours is the engine's default backtest: the default candidate models of the config
(``ForecastConfig().models``: Naive, Drift, Theta), their equal-weight Ensemble and the rolling
selection, timed as a whole. Models that are not default candidates (``--reference``, by
default DampedETS; AutoARIMA too if named) are backtested afterwards, outside the timing and
outside the Ensemble and the selection, and printed as reference rows.

Series: Korea's partners with exports > 0 in every year 1990-2023 (as in BENCHMARKS.md).
Scored origins 2008..2018 (every year), horizon 5, MASE/sMAPE on levels (USD). Our models are
also run at origins 1998..2007 so that the rolling selection and the conformal intervals of a
scored origin T can be computed from errors on years <= T only. Weights for wMASE are each
partner's mean share of the series' total over the scored origins' last observed years.

Prints one table: model x (wMASE, MASE, relMASE vs naive, wrelMASE, sMAPE, 80 %/95 % coverage,
seconds), then the Selected intervals' coverage and width by the partner's size class at the
origin (the Mondrian classes of ``models.intervals``: conditional coverage, not only overall).
Two rows are the demand model (``models.demand.DemandModel()``, WEO vintages known at each
origin; not a default candidate, untimed, ``--no-demand`` skips it) and "Selected with Demand",
the rolling selection rerun with it as one more candidate (docs/demand-models.md).
One row is a labelled oracle (``add_oracle_total``: the shares at the origin times the realised
total), not a forecast. statsforecast (AutoETS, AutoTheta, AutoARIMA and their mean) runs on
the same series and origins in the same process; install it with ``pip install -e '.[bench]'``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from exportcast.configs.schema_forecast import ForecastConfig
from exportcast.features.demand_inputs import demand_covariates
from exportcast.features.panel import build_export_series, build_trade_panel
from exportcast.flows.snapshot import load_snapshot
from exportcast.models.backtest import interval_coverage, rolling_select
from exportcast.models.backtest_stage import add_panel_backtests
from exportcast.models.demand import DemandModel
from exportcast.models.engine import MODEL_CLASSES
from exportcast.models.ensemble import add_ensemble
from exportcast.models.forecasting import cross_validate
from exportcast.models.intervals import SIZE_LABELS, size_classes_at
from exportcast.models.live_forecast import floor_at_zero
from exportcast.models.metrics import evaluate_cv
from exportcast.models.timeseries import Naive

ROOT = Path(__file__).resolve().parents[1]
SCORED = list(range(2008, 2019))
HISTORY = list(range(1998, 2008))
H = 5
LEVELS = (80, 95)


def load_series() -> pd.DataFrame:
    snap = load_snapshot(ROOT / "data" / "snapshot", ["kor_exports"])
    panel = build_trade_panel(snap["kor_exports"], reporter="KOR", start=1990, end=2023)
    wide = panel.pivot(index="year", columns="partner", values="export_usd")
    full = wide.columns[(wide.reindex(range(1990, 2024)) > 0).all()]
    return build_export_series(panel.loc[panel["partner"].isin(full)])


def share_weights(series: pd.DataFrame) -> pd.Series:
    last = series.loc[series["ds"].isin(SCORED)]
    shares = last["y"] / last.groupby("ds")["y"].transform("sum")
    return shares.groupby(last["unique_id"]).mean()


ORACLE = "ORACLE share x realised total"


def add_oracle_total(cv: pd.DataFrame, series: pd.DataFrame) -> pd.DataFrame:
    """Add the labelled oracle column: each series' value at the origin times the growth of the
    series' **realised** sum from the origin to the target year.

    Not a forecast (the target year's total is not known at the origin): it shows what perfect
    foresight of the common movement (Korea's total over these partners) would be worth when
    every partner keeps its share, the part no total forecast can beat.
    """
    total = series.groupby("ds")["y"].sum()
    last = series.set_index(["unique_id", "ds"])["y"]
    at_origin = last.reindex(pd.MultiIndex.from_arrays([cv["unique_id"], cv["cutoff"]])).to_numpy()
    growth = total.reindex(cv["ds"]).to_numpy() / total.reindex(cv["cutoff"]).to_numpy()
    return cv.assign(**{ORACLE: at_origin * growth})


DEFAULT_MODELS = list(ForecastConfig().models)
OTHER_MODELS = [m for m in MODEL_CLASSES if m not in DEFAULT_MODELS]


def run_ours(series: pd.DataFrame, n_jobs: int) -> tuple[pd.DataFrame, dict, float, pd.DataFrame]:
    """The engine's default backtest (default candidates + Ensemble + rolling selection), timed."""
    models = [MODEL_CLASSES[name]() for name in DEFAULT_MODELS]
    t0 = time.perf_counter()
    cv = cross_validate(
        series, models, H, origins=HISTORY + SCORED, fallback=Naive(), n_jobs=n_jobs
    )
    aliases = [m.alias for m in models]
    cv = floor_at_zero(cv, aliases)  # as the engine does: the backtest scores what is published
    cv = add_ensemble(cv, [a for a in aliases if a != "AutoARIMA"], alias="Ensemble")
    rolled = rolling_select(cv, series, [*aliases, "Ensemble"], SCORED, levels=LEVELS)
    seconds = time.perf_counter() - t0
    scored = rolled.cv
    choices = dict(zip(rolled.choices["cutoff"], rolled.choices["model"], strict=True))
    return scored, choices, seconds, cv


def add_reference(
    scored: pd.DataFrame, series: pd.DataFrame, names: list[str], n_jobs: int
) -> tuple[pd.DataFrame, dict[str, float]]:
    """Backtest models that are not default candidates; their columns join ``scored``."""
    seconds: dict[str, float] = {}
    for name in names:
        t0 = time.perf_counter()
        cv = cross_validate(
            series, [MODEL_CLASSES[name]()], H, origins=SCORED, fallback=Naive(), n_jobs=n_jobs
        )
        cv = floor_at_zero(cv, [name])
        seconds[name] = time.perf_counter() - t0
        scored = scored.merge(cv[["unique_id", "ds", "cutoff", name]], how="left")
    return scored, seconds


DEMAND = "Demand"
WITH_DEMAND = "Selected with Demand"


def add_demand(scored: pd.DataFrame, series: pd.DataFrame, cv_all: pd.DataFrame) -> tuple:
    """The demand model (``models.demand``, not a default candidate) through the engine's hook.

    Backtests it at every origin (history and scored), joins it to the default candidates'
    backtest and reruns the rolling selection with it as one more candidate: its own row and
    the ``Selected with Demand`` row (what the engine would publish with it), plus seconds.
    """
    t0 = time.perf_counter()
    snap = load_snapshot(ROOT / "data" / "snapshot", ["weo_vintages", "indicators", "pairs", "fta"])
    exog, static = demand_covariates(series, snap["indicators"], snap["pairs"], snap["fta"])
    model = DemandModel(snap["weo_vintages"], exog, static)
    cv = add_panel_backtests(cv_all, series, [model], HISTORY + SCORED, H)
    cv = floor_at_zero(cv, [DEMAND])
    cands = [*DEFAULT_MODELS, "Ensemble", DEMAND]
    rolled = rolling_select(cv, series, cands, SCORED, levels=LEVELS, alias=WITH_DEMAND)
    seconds = time.perf_counter() - t0
    keys = ["unique_id", "ds", "cutoff"]
    cols = [c for c in rolled.cv.columns if c == DEMAND or c.startswith(WITH_DEMAND)]
    choices = dict(zip(rolled.choices["cutoff"], rolled.choices["model"], strict=True))
    return scored.merge(rolled.cv[[*keys, *cols]], on=keys, how="left"), choices, seconds


def run_statsforecast(series: pd.DataFrame, n_jobs: int) -> tuple[pd.DataFrame, dict[str, float]]:
    from statsforecast import StatsForecast
    from statsforecast.models import AutoARIMA as SFAutoARIMA
    from statsforecast.models import AutoETS, AutoTheta

    frames, seconds = [], {}
    for model in (
        AutoETS(season_length=1),
        AutoTheta(season_length=1),
        SFAutoARIMA(season_length=1),
    ):
        sf = StatsForecast(models=[model], freq=1, n_jobs=n_jobs)
        t0 = time.perf_counter()
        cv = sf.cross_validation(
            df=series, h=H, n_windows=len(SCORED), step_size=1, level=list(LEVELS)
        )
        seconds[str(model)] = time.perf_counter() - t0
        frames.append(cv.reset_index(drop=True))
    cv = frames[0]
    for other in frames[1:]:
        cv = cv.merge(other.drop(columns=["y"]), on=["unique_id", "ds", "cutoff"])
    names = list(seconds)
    cv = cv.rename(columns={n: f"SF{n}" for n in names}).rename(
        columns=lambda c: (
            c.replace("AutoETS-", "SFAutoETS-")
            .replace("AutoTheta-", "SFAutoTheta-")
            .replace("AutoARIMA-", "SFAutoARIMA-")
            if not c.startswith("SF")
            else c
        )
    )
    cv["SFEnsemble"] = cv[[f"SF{n}" for n in names]].mean(axis=1)
    seconds["Ensemble"] = sum(seconds.values())
    return cv, {f"SF{k}": v for k, v in seconds.items()}


def coverage_by_size(scored: pd.DataFrame, series: pd.DataFrame) -> pd.DataFrame:
    """Coverage and median width (|log| half-width) of the Selected intervals per size class."""
    classes = size_classes_at(scored, series)
    rows = []
    for label in [c for c in SIZE_LABELS if c in set(classes)]:
        part = scored.loc[classes == label]
        row = {"size class": label, "partners": part["unique_id"].nunique(), "rows": len(part)}
        for lv in LEVELS:
            row.update(interval_coverage(part, "Selected", [lv]))
            half = np.log(part[f"Selected-hi-{lv}"] / part["Selected"])
            row[f"half-width-{lv} (log, median)"] = float(half.median())
        rows.append(row)
    return pd.DataFrame(rows).set_index("size class")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--reference",
        default=",".join(m for m in OTHER_MODELS if m != "AutoARIMA"),
        help="comma list of non-default models to print as untimed reference rows "
        f"(of {OTHER_MODELS}; '' for none)",
    )
    parser.add_argument("--no-statsforecast", action="store_true")
    parser.add_argument(
        "--no-demand",
        action="store_true",
        help="skip the demand model rows (models/demand.py; needs the WEO vintages)",
    )
    parser.add_argument("--n-jobs", type=int, default=2)
    args = parser.parse_args()
    reference = [m for m in args.reference.split(",") if m]
    unknown = set(reference) - set(OTHER_MODELS)
    if unknown:
        parser.error(f"--reference: {sorted(unknown)} are not non-default models")

    series = load_series()
    weights = share_weights(series)
    print(
        f"{series['unique_id'].nunique()} partner series, origins {SCORED[0]}-{SCORED[-1]}, h={H}"
    )
    with threadpool_limits(limits=1, user_api="blas"):
        ours, choices, our_seconds, cv_all = run_ours(series, args.n_jobs)
        print(
            f"our default backtest ({', '.join(DEFAULT_MODELS)}, Ensemble, selection; "
            f"{len(HISTORY) + len(SCORED)} origins): {our_seconds:.1f}s"
        )
        print("rolling selection per origin:", choices)
        ours, ref_seconds = add_reference(ours, series, reference, args.n_jobs)
        for name, sec in ref_seconds.items():
            print(f"reference row {name} (not a default candidate, not timed above): {sec:.1f}s")
        aliases = [*DEFAULT_MODELS, *reference, "Ensemble", "Selected"]
        if not args.no_demand:
            ours, demand_choices, demand_seconds = add_demand(ours, series, cv_all)
            print(
                f"demand model (models/demand.py, not a default candidate, not timed above): "
                f"{demand_seconds:.1f}s; rolling selection with it: {demand_choices}"
            )
            aliases += [DEMAND, WITH_DEMAND]
        ours = add_oracle_total(ours, series)
        table = evaluate_cv(ours, series, [*aliases, ORACLE], weights).set_index("model")
        cov = interval_coverage(ours, "Selected", LEVELS)
        table.loc["Selected", "cov80"] = cov["coverage-80"]
        table.loc["Selected", "cov95"] = cov["coverage-95"]
        if not args.no_demand:
            cov = interval_coverage(ours, WITH_DEMAND, LEVELS)
            table.loc[WITH_DEMAND, "cov80"] = cov["coverage-80"]
            table.loc[WITH_DEMAND, "cov95"] = cov["coverage-95"]
        table["seconds"] = np.nan
        table.loc["Selected", "seconds"] = our_seconds
        if not args.no_statsforecast:
            sf, sf_seconds = run_statsforecast(series, args.n_jobs)
            sf = sf.merge(
                ours[["unique_id", "ds", "cutoff", "Naive"]], on=["unique_id", "ds", "cutoff"]
            )
            sf_aliases = [c for c in sf_seconds]
            sf_table = evaluate_cv(sf, series, sf_aliases, weights).set_index("model")
            for a in sf_aliases:
                if f"{a}-lo-80" in sf.columns:
                    c = interval_coverage(sf, a, LEVELS)
                    sf_table.loc[a, "cov80"], sf_table.loc[a, "cov95"] = (
                        c["coverage-80"],
                        c["coverage-95"],
                    )
                sf_table.loc[a, "seconds"] = sf_seconds[a]
            table = pd.concat([table, sf_table])
    cols = ["wMASE", "MASE", "relMASE", "wrelMASE", "sMAPE", "cov80", "cov95", "seconds", "n_units"]
    table = table.reindex(columns=cols)
    with pd.option_context("display.width", 160, "display.float_format", "{:.3f}".format):
        print(table.to_string())
    print("\nSelected intervals by the partner's size class at the origin:")
    with pd.option_context("display.width", 160, "display.float_format", "{:.3f}".format):
        print(coverage_by_size(ours, series).to_string())
    print(
        f"{ORACLE}: not a forecast, it knows the target year's total (perfect foresight of the "
        "common movement, every partner keeping its share at the origin)"
    )
    if "SFEnsemble" in table.index:
        ratio = our_seconds / table.loc["SFEnsemble", "seconds"]
        print(
            f"our whole backtest / statsforecast ensemble time: {ratio:.3f} (goal < 1/3; "
            f"ours has {len(HISTORY) + len(SCORED)} origins, statsforecast {len(SCORED)})"
        )


if __name__ == "__main__":
    main()
