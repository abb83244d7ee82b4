"""The pipeline's forecasting-stage tasks after the partner forecasts.

Index forecasts from the partner forecasts and sample paths, scenarios, the FTA track record,
the opportunity ranking and the index backtest: each a Prefect task that prints its progress
line (:mod:`flows.progress`).
"""

import contextlib
import functools
from collections.abc import Callable, Iterator
from typing import Any

import pandas as pd
from prefect import task
from prefect.cache_policies import NO_CACHE
from threadpoolctl import threadpool_limits

from exportcast.configs import RunConfig
from exportcast.features.concentration import concentration_from_paths
from exportcast.features.panel import series_to_panel
from exportcast.features.series import REST, ForecastSeries
from exportcast.flows.cache_keys import RUN_CACHE, data_logic_key
from exportcast.flows.progress import (
    describe_forecast_conc,
    describe_index_backtest,
    describe_opportunities,
    describe_scenarios,
    describe_track_record,
    report_stage,
    stage_log,
)
from exportcast.flows.workers import return_free_memory, trimmed, trimming
from exportcast.models.backtest_table import engine_backtest_table
from exportcast.models.engine import EngineResult
from exportcast.models.index_backtest import (
    INDEX_BACKTEST_COLUMNS,
    has_every_partner,
    index_backtest,
)
from exportcast.models.paths import path_quantiles
from exportcast.models.scenarios import ScenarioResult


@task(cache_policy=RUN_CACHE, on_completion=report_stage(describe_forecast_conc))
def forecast_concentration(
    history: pd.DataFrame,
    engine: EngineResult,
    fs: ForecastSeries,
    dependence_set: tuple[str, ...],
    levels: tuple[int, ...],
    threshold: float,
    *,
    cache_key: str | None = None,
) -> pd.DataFrame:
    """Index forecasts: the index of the partner forecasts, with bands from the sample paths.

    Forecast rows carry ``kind = forecast`` and, in the index columns, the index computed from
    the partners' point forecasts (``forecasts.csv``), so the shares a reader computes from the
    partner table are the headline shares, and the index backtest (:func:`backtest_index`)
    scores exactly this number. The joint sample paths give ``<index>_p50`` (their median),
    ``<index>_lo_<level>``/``_hi_<level>`` bands and ``p_dependence_below``. The members of
    ``REST`` keep their last relative sizes (``ForecastSeries.rest_shares``) in the HHI, Theil
    and CR-k.
    """
    cols = [
        "hhi",
        "hhi_norm",
        "n_effective",
        "cr1",
        "cr3",
        "cr5",
        "theil",
        *[f"share_{c}" for c in dependence_set],
        "dependence_share",
    ]

    def indices(frame: pd.DataFrame) -> pd.DataFrame:
        return concentration_from_paths(
            series_to_panel(frame).rename(columns={"ds": "year"}),
            dependence_set=dependence_set,
            rest=REST,
            rest_shares=fs.rest_shares,
            n_partners=fs.n_partners,
        )

    idx = indices(engine.paths)
    point = indices(
        engine.forecast[["unique_id", "ds", "mean"]].rename(columns={"mean": "y"}).assign(path=0)
    )
    q = path_quantiles(idx, cols, by=("year",), levels=levels)
    below = idx.assign(b=idx["dependence_share"] < threshold).groupby("year")["b"].mean()
    rows = point[["year", *cols]].merge(q, on="year", how="left", validate="one_to_one")
    rows = rows.assign(
        reporter=fs.series["unique_id"].iloc[0].split("|")[0],
        kind="forecast",
        p_dependence_below=rows["year"].map(below).to_numpy(),
        n_partners=fs.n_partners,
    )
    return pd.concat([history, rows], ignore_index=True)[
        [*history.columns, *[c for c in rows.columns if c not in history.columns]]
    ]


@task(cache_policy=RUN_CACHE, on_completion=report_stage(describe_scenarios))
def run_scenarios(
    config: RunConfig,
    tables: dict[str, pd.DataFrame],
    fs: ForecastSeries,
    engine: EngineResult,
    *,
    cache_key: str | None,
) -> list[ScenarioResult]:
    """Run every scenario of ``config.scenarios`` against the baseline forecast.

    A scenario whose origin is the run's last year reuses the run's engine result; an ex-ante
    scenario (earlier origin) runs the engine again on the data up to its origin.
    """
    from exportcast.configs import load_scenario
    from exportcast.flows.scenarios import run_scenario, scenario_setup

    log = stage_log()
    scenarios = [
        load_scenario(
            path,
            snapshot_dir=config.data.snapshot_dir,
            min_years=config.forecast.min_years,
            default_origin=config.years.end,
        )
        for path in config.scenarios
    ]
    setups = [scenario_setup(config, s, tables) for s in scenarios]
    results = []
    with _parts_in_workers(config, setups, tables) as parts:
        for i, (scenario, setup) in enumerate(zip(scenarios, setups, strict=True)):
            return_free_memory()  # the previous stage's or scenario's freed buffers (peak memory)
            with threadpool_limits(limits=1, user_api="blas"):
                result = run_scenario(
                    config, scenario, tables, baseline=(fs, engine), log=log, setup=setup,
                    parts=None if parts is None else functools.partial(parts, i),
                    baseline_jobs=None if parts is None else 1,
                )  # fmt: skip
            results.append(result)
    return_free_memory()
    return results


@contextlib.contextmanager
def _parts_in_workers(
    config: RunConfig, setups: list[Any], tables: dict[str, pd.DataFrame]
) -> Iterator[Callable[[int], Any] | None]:
    """The scenarios' :class:`models.scenario_parts.SnapshotParts`, fitted in joblib's workers.

    The reporter's gravity PPML and the regression cross-check read the data up to each
    scenario's origin only, not the baseline forecast: while the run's process makes the
    baselines (in this process then: the workers are busy) and the world gravity, one worker
    fits the gravity of every scenario in turn and the other the regressions (the run's
    process alone left one of two cores idle for about 13 s; one gravity fit at a time keeps
    the memory peak below the goal, docs/operations.md). ``setups``: the scenarios'
    :class:`flows.scenarios.ScenarioSetup`. Yields ``parts(i)``, which waits for scenario
    ``i``'s parts, or None (fit them in this process) with ``forecast.n_jobs`` 1, a single core
    or ``EXPORTCAST_AHEAD=0`` (every stage in order in this process: the reference path of
    ``tests/flows/test_default_run.py``). The workers fit with one BLAS/OpenMP thread, as this
    process would, so the parts are the same (``tests/flows/test_scenario_workers.py``).
    """
    from joblib import Parallel, delayed, effective_n_jobs

    from exportcast.flows.ahead import allowed
    from exportcast.models.scenario_parts import (
        SNAPSHOT_PART_TABLES,
        combine,
        gravity_fits,
        regression_checks,
    )

    n_jobs, horizon = config.forecast.n_jobs, config.horizon
    if not setups or not allowed() or effective_n_jobs(n_jobs) < 2:
        yield None
        return
    sub = {k: tables[k] for k in SNAPSHOT_PART_TABLES}
    return_free_memory()  # the forecasts' freed buffers: the workers' peak comes next
    jobs = [
        delayed(trimmed)(gravity_fits, [(s.panel, s.origin) for s in setups], sub),
        delayed(trimmed)(
            regression_checks, [(s.panel, s.design, s.origin) for s in setups], sub, horizon
        ),
    ]
    outputs = Parallel(n_jobs=n_jobs, return_as="generator")(jobs)  # dispatched now
    done: list[Any] = []

    def parts(i: int) -> Any:
        if not done:
            gravity, regression = next(outputs), next(outputs)
            done.extend(combine(g, r) for g, r in zip(gravity, regression, strict=True))
        return done[i]

    try:
        yield parts
    finally:
        outputs.close()  # a scenario failed: joblib cancels what is left


@task(
    cache_policy=RUN_CACHE,
    on_completion=report_stage(describe_track_record),
)
def fta_track_record(tables: dict[str, pd.DataFrame], *, cache_key: str | None) -> pd.DataFrame:
    """The ex ante track record of Korea's agreements (docs/fta-gravity.md; 13-30 s cold, 2026-12-04)."""
    from exportcast.flows.ahead import AHEAD
    from exportcast.models.fta_track_record import track_record

    log = stage_log()
    ahead = AHEAD.get()  # started in a second process while the run forecast (flows/ahead.py)
    if ahead is not None and (rows := ahead.take(log)) is not None:
        return rows
    with threadpool_limits(limits=1, user_api="blas"):
        rows, _ = track_record(tables["kor_exports"], tables["dots_exports"], tables["rtas"],
                               tables["fta"], log=trimming(log))  # fmt: skip
    return rows


def run_track_record(
    config: RunConfig, tables: dict[str, pd.DataFrame], vintage: str, *, cached: bool
) -> pd.DataFrame | None:
    """The FTA track record of a run with scenarios (cached by the data vintage alone), else None."""
    if not config.scenarios:
        return None
    return fta_track_record(tables, cache_key=data_logic_key(vintage) if cached else None)


@task(
    cache_policy=NO_CACHE,
    on_completion=report_stage(describe_opportunities),
)
def find_opportunities(
    forecasts: pd.DataFrame,
    panel: pd.DataFrame,
    tables: dict[str, pd.DataFrame],
    dependence_set: tuple[str, ...],
    horizon: int,
    exclude_open_registries: bool = True,
) -> pd.DataFrame:
    """Rank partners by how much their forecast growth lowers dependence and concentration."""
    from exportcast.models.opportunities import opportunities

    return opportunities(
        forecasts,
        panel,
        dependence_set=dependence_set,
        horizon=horizon,
        countries=tables["countries"],
        fta_status=tables["fta"],
        distances=tables["pairs"],
        indicators=tables["indicators"],
        exclude_open_registries=exclude_open_registries,
    )


@task(cache_policy=RUN_CACHE)
def backtest_table(
    engine: EngineResult,
    weo_vintages: pd.DataFrame,
    levels: tuple[int, ...],
    rule: str,
    *,
    cache_key: str | None,
) -> pd.DataFrame:
    """The ``backtest_forecasts.csv`` table of the engine (:func:`engine_backtest_table`).

    Cached under the run's key, as the engine it reads (same data, WEO vintages, config and
    code): an identical rerun reads it instead of rebuilding it (0.4-0.5 s, issue 16).
    """
    return engine_backtest_table(engine, weo_vintages, levels=levels, rule=rule)


@task(cache_policy=RUN_CACHE, on_completion=report_stage(describe_index_backtest))
def backtest_index(
    engine: EngineResult,
    fs: ForecastSeries,
    dependence_set: tuple[str, ...],
    *,
    cache_key: str | None = None,
) -> pd.DataFrame:
    """The dependence share from the backtest's ``Selected`` partner forecasts, per origin.

    ``Selected`` is the model chosen at each origin from past errors only, so this is the
    honest track record of the index forecast (:func:`models.index_backtest.index_backtest`).
    """
    history = fs.series if engine.history is None else engine.history
    if not has_every_partner(engine.backtest, dependence_set):
        # modelled live (checked before the engine) but inside REST at every backtest origin:
        # the dependence share has no origin to be scored at (the progress line says so)
        return pd.DataFrame(columns=INDEX_BACKTEST_COLUMNS)
    return index_backtest(engine.backtest, history, "Selected", dependence_set)
