"""Default backtest on the Korea snapshot, side by side with statsforecast.

Run: ``make bench`` (or ``.venv/bin/python benchmarks/backtest.py [--reference ...]
[--no-statsforecast]``).

Ours is the product's engine call (:func:`models.engine_call.run_engine_locally` with the
arguments of :func:`models.engine_call.engine_args`, as the pipeline and the notebook API run
it) with the default config's ``forecast`` section: candidates Naive, Drift, Theta, their
equal-weight Ensemble, the rolling selection, history origins from 1998, scored origins
2008-2018, 80/95 % intervals, weights = each partner's share in the last year, timed as a
whole. A row varies only what it measures, passed explicitly as a config key:
``--reference`` models (by default DampedETS; AutoARIMA too if named) run the same call with
``models=[name]`` (untimed reference rows); the demand rows run it with ``demand_model=True``
(``models.demand``, WEO vintages known at each origin; ``--no-demand`` skips them): "Demand"
is that candidate's own backtest, "Selected with Demand" the rolling selection with it.

Series: Korea's partners with exports > 0 in every year 1990-2023 (as in BENCHMARKS.md), no
REST (``benchmarks/split_rescore.py`` runs the pipeline's own series). Horizon 5 (the config's),
MASE/sMAPE on levels (USD).

Prints one table: model x (wMASE, MASE, relMASE vs naive, wrelMASE, sMAPE, 80 %/95 % coverage,
seconds), then the Selected intervals' coverage and width by the partner's size class at the
origin (the Mondrian classes of ``models.intervals``: conditional coverage, not only overall).
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

from exportcast.features.panel import build_export_series, build_trade_panel
from exportcast.flows.snapshot import load_snapshot
from exportcast.models.auto import default_horizon, forecast_settings
from exportcast.models.backtest import interval_coverage
from exportcast.models.demand import DEMAND_TABLES
from exportcast.models.engine import MODEL_CLASSES, EngineResult
from exportcast.models.engine_call import last_year_weights, run_engine_locally
from exportcast.models.intervals import SIZE_LABELS, size_classes_at
from exportcast.models.metrics import evaluate_cv

ROOT = Path(__file__).resolve().parents[1]
DEFAULT = forecast_settings()  # the product's forecast settings (the default config)
SCORED = list(range(DEFAULT["backtest"]["start"], DEFAULT["backtest"]["end"] + 1))
HISTORY = list(range(DEFAULT["history_start"], DEFAULT["backtest"]["start"]))
H = default_horizon()
LEVELS = tuple(DEFAULT["levels"])


def load_series() -> pd.DataFrame:
    snap = load_snapshot(ROOT / "data" / "snapshot", ["kor_exports"])
    panel = build_trade_panel(snap["kor_exports"], reporter="KOR", start=1990, end=2023)
    wide = panel.pivot(index="year", columns="partner", values="export_usd")
    full = wide.columns[(wide.reindex(range(1990, 2024)) > 0).all()]
    return build_export_series(panel.loc[panel["partner"].isin(full)])


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


DEFAULT_MODELS = list(DEFAULT["models"])
OTHER_MODELS = [m for m in MODEL_CLASSES if m not in DEFAULT_MODELS]


def product_engine(
    series: pd.DataFrame, n_jobs: int, tables: dict | None = None, **varied: object
) -> tuple[EngineResult, float]:
    """The product's engine call on ``series``, with only ``varied`` config keys changed; seconds."""
    settings = forecast_settings(n_jobs=n_jobs, **varied)
    t0 = time.perf_counter()
    engine = run_engine_locally(series, settings, H, demand_tables=tables)
    return engine, time.perf_counter() - t0


def run_ours(series: pd.DataFrame, n_jobs: int) -> tuple[pd.DataFrame, dict, float]:
    """The product's default backtest (candidates + Ensemble + rolling selection), timed."""
    engine, seconds = product_engine(series, n_jobs)
    choices = dict(zip(engine.choices["cutoff"], engine.choices["model"], strict=True))
    return engine.backtest, choices, seconds


KEYS = ["unique_id", "ds", "cutoff"]


def add_reference(
    scored: pd.DataFrame, series: pd.DataFrame, names: list[str], n_jobs: int
) -> tuple[pd.DataFrame, dict[str, float]]:
    """The product's call with ``models=[name]`` for non-default models; columns join ``scored``."""
    seconds: dict[str, float] = {}
    for name in names:
        engine, seconds[name] = product_engine(series, n_jobs, models=[name])
        scored = scored.merge(engine.backtest[[*KEYS, name]], on=KEYS, how="left")
    return scored, seconds


DEMAND = "Demand"
WITH_DEMAND = "Selected with Demand"


def add_demand(scored: pd.DataFrame, series: pd.DataFrame, n_jobs: int) -> tuple:
    """The product's call with ``demand_model=True`` (``models.demand``, not a default).

    Its backtest gives two columns: the demand model's own forecasts and the rolling
    selection with it as one more candidate (``Selected with Demand``), plus seconds.
    """
    snap = load_snapshot(ROOT / "data" / "snapshot", list(DEMAND_TABLES))
    tables = {name: snap[name] for name in DEMAND_TABLES}  # as the pipeline passes them
    engine, seconds = product_engine(series, n_jobs, tables, demand_model=True)
    rename = {c: c.replace("Selected", WITH_DEMAND, 1) for c in engine.backtest.columns}
    rolled = engine.backtest.rename(columns=rename)
    cols = [c for c in rolled.columns if c == DEMAND or c.startswith(WITH_DEMAND)]
    choices = dict(zip(engine.choices["cutoff"], engine.choices["model"], strict=True))
    return scored.merge(rolled[[*KEYS, *cols]], on=KEYS, how="left"), choices, seconds


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
    weights = last_year_weights(series)  # the product's weights
    print(
        f"{series['unique_id'].nunique()} partner series, origins {SCORED[0]}-{SCORED[-1]}, h={H}"
    )
    with threadpool_limits(limits=1, user_api="blas"):  # as the product's runners
        ours, choices, our_seconds = run_ours(series, args.n_jobs)
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
            ours, demand_choices, demand_seconds = add_demand(ours, series, args.n_jobs)
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
