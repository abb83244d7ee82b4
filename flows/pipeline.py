"""The main job as a Prefect flow: snapshot -> trade panel -> indices -> MLflow -> outputs.

``forecast_exports`` is the pipeline picture in docs/architecture.md, top to bottom; each step is a task
named after what it does. Later stages (features, backtests, forecasts, concentration paths,
report) are one line each between ``compute_concentration`` and ``finish_run``.

The concerns around the flow live in their own modules: cache keys and code version
(:mod:`flows.cache_keys`), progress lines (:mod:`flows.progress`), the forecasting-stage tasks
(:mod:`flows.forecast_tasks`), MLflow recording (:mod:`flows.run_record`), the output folder
and report (:mod:`flows.outputs`), the last stages' order (:mod:`flows.finish`), and the
run's identity and result (:mod:`flows.run_info`).

Caching: the heavy tasks take ``cache_key`` = data vintage + hash of the config (minus the
sections that only say where results go) + code version (git commit, plus a hash of the
sources when the tree is dirty). Prefect persists their results under ``cache.dir``
(``.exportcast-cache/``); a run with the same key loads them instead of recomputing, and any
change of data, config or code gives a new key. ``cache.enabled: false`` passes no key.

``run_pipeline`` is what the CLI calls: it runs the flow with progress lines printed through
``log``, Prefect's result folder pointed at ``cache.dir``, and, without ``PREFECT_API_URL``,
Prefect's temporary local server.
"""

# No ``from __future__ import annotations`` here: ``exportcast serve`` pickles the flow
# function by value into a subprocess, where Prefect must still resolve the ``RunConfig``
# annotation to validate the parameter; real annotation objects travel with the function.
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import pandas as pd
from prefect import flow, task
from prefect.cache_policies import NO_CACHE
from prefect.runtime import flow_run
from prefect.settings import (
    PREFECT_API_URL,
    PREFECT_FLOWS_HEARTBEAT_FREQUENCY,
    PREFECT_RESULTS_LOCAL_STORAGE_PATH,
    get_current_settings,
    temporary_settings,
)

from exportcast.configs import RunConfig, config_hash, load_config
from exportcast.features.concentration import concentration_index
from exportcast.features.panel import build_trade_panel
from exportcast.features.provisional import (
    listed_partner_counts,
    with_remainder_rows,
    with_rest_remainder,
)
from exportcast.features.series import ForecastSeries, check_dependence_modelled, split_series
from exportcast.flows import cache_keys, memo_store, prefetch, run_history, tracking, tracking_store
from exportcast.flows import report as report_files
from exportcast.flows.ahead import track_record_ahead, track_record_needed
from exportcast.flows.cache_keys import (
    RUN_CACHE,
    cache_key,
    code_version,
    is_transient,
    scenarios_key,
)
from exportcast.flows.engine_call import run_configured_engine
from exportcast.flows.finish import finish_run
from exportcast.flows.forecast_tasks import (
    backtest_index,
    backtest_table,
    find_opportunities,
    forecast_concentration,
    run_scenarios,
    run_track_record,
)
from exportcast.flows.io import project_path
from exportcast.flows.outputs import (
    bundle_meta,
    forecast_table,
    live_weo_vintage,
)
from exportcast.flows.progress import (
    PROGRESS,
    Progress,
    describe_concentration,
    describe_engine,
    describe_panel,
    describe_series,
    describe_snapshot,
    report_stage,
    restart_clock,
    stage_log,
)
from exportcast.flows.run_info import RunInfo, RunResult
from exportcast.flows.run_record import open_run
from exportcast.flows.snapshot import Snapshot, build_snapshot, load_snapshot, read_manifest
from exportcast.flows.vintages import snapshot_folder
from exportcast.flows.workers import (
    RELEASE_WORKERS,
    _stop_workers_of_deployed_run,
    stop_worker_processes,
)
from exportcast.flows.years import reporter_exports, resolve_run
from exportcast.models.demand import DEMAND_TABLES
from exportcast.models.engine import EngineResult
from exportcast.models.scenarios import ScenarioResult

__all__ = [
    "forecast_exports",
    "prefect_settings",
    "run_pipeline",
    "stop_worker_processes",
]

CONCENTRATION_COLUMNS = [
    "reporter", "year", "kind", "hhi", "hhi_norm", "n_effective", "cr1", "cr3", "cr5", "theil",
    "n_partners",
]  # fmt: skip
# Snapshot tables a run reads. Exports by partner: Korea's from KOSIS (to 2023), any other
# reporter's from the all-reporter IMF DOTS panel (to 2020): flows.years.EXPORT_TABLES, first match wins.
SNAPSHOT_TABLES = [
    "kor_exports", "dots_exports", "kor_totals", "countries", "fta", "pairs", "indicators",
    "income_groups", "weo_vintages", "rtas",
]  # fmt: skip
OPTIONAL_TABLES = ("release_rest",)  # only in vintages made by `exportcast update`


# --- tasks -----------------------------------------------------------------------------------


@task(
    retries=2,
    retry_delay_seconds=2,
    retry_condition_fn=is_transient,
    cache_policy=NO_CACHE,
    on_completion=report_stage(describe_snapshot),
)
def load_data(source: str, snapshot_dir: Path, raw_dir: Path | None) -> Snapshot:
    """Load the embedded snapshot (rebuilding it from the raw files first when asked)."""
    folder = project_path(snapshot_dir)
    if source == "raw":
        assert raw_dir is not None  # guaranteed by the schema
        build_snapshot(raw_dir, folder, log=lambda _: None)
    tables = run_tables(folder)
    return prefetch.take(folder, tables) or load_snapshot(folder, tables)  # flows/prefetch.py


def run_tables(folder: Path) -> list[str]:
    """The snapshot tables a run reads from ``folder`` (``release_rest`` when it has one)."""
    return [*SNAPSHOT_TABLES, *(t for t in OPTIONAL_TABLES if t in read_manifest(folder)["tables"])]


def describe_run(config: RunConfig, vintage: str, **extra: Any) -> RunInfo:
    """Who this run is: hashes, code version, cache key, Prefect ids and tracking target.

    ``config`` has its ``years.end`` resolved (:func:`flows.years.resolve_run_years`), so the
    hashes and the cache key cover the year the run ends in; ``extra``: ``years_end`` (what was
    configured) and ``provisional`` (partial releases) of :class:`RunInfo`.
    """
    return RunInfo(
        reporter=config.reporter,
        dependence_set=config.dependence_set,
        vintage=vintage,
        config_hash=config_hash(config),
        code_version=code_version(),
        cache_key=cache_key(vintage, config) if config.cache.enabled else None,
        flow_run_id=flow_run.get_id(),
        flow_run_name=flow_run.get_name(),
        config=config.model_dump(mode="json"),
        store=tracking_store.resolve_store(config.tracking.uri, config.tracking.artifacts),
        experiment=config.tracking.experiment.format(reporter=config.reporter),
        output_dir=Path(config.output.dir) / config.reporter,
        **extra,
    )


@task(cache_policy=RUN_CACHE, on_completion=report_stage(describe_panel))
def build_panel(
    exports: pd.DataFrame,
    reporter: str,
    start: int,
    end: int,
    *,
    cache_key: str | None,
    name: str = "data/snapshot/kor_exports.parquet",
) -> pd.DataFrame:
    """The validated reporter panel for the configured years.

    ``cache_key`` (data vintage, config, code) names the cached result; None disables it.
    ``name`` is the file named in error messages.
    """
    return build_trade_panel(exports, reporter=reporter, start=start, end=end, name=name)


@task(cache_policy=RUN_CACHE, on_completion=report_stage(describe_concentration))
def compute_concentration(
    panel: pd.DataFrame, dependence_set: tuple[str, ...], *, cache_key: str | None
) -> pd.DataFrame:
    """History of concentration and dependence indices, in the output contract's columns."""
    idx = concentration_index(panel, dependence_set=dependence_set)
    shares = [f"share_{c}" for c in dependence_set]
    idx = idx.assign(kind="history", n_partners=idx["n_partners"].astype("int64"))
    return idx[[*CONCENTRATION_COLUMNS, *shares, "dependence_share"]]


@task(cache_policy=RUN_CACHE, on_completion=report_stage(describe_series))
def build_series(panel: pd.DataFrame, min_years: int, *, cache_key: str | None) -> ForecastSeries:
    """Partner series for the engine: one per regular partner, the rest as one series."""
    return split_series(panel, min_years=min_years)


@task(cache_policy=RUN_CACHE, on_completion=report_stage(describe_engine))
def forecast_partners(
    fs: ForecastSeries,
    horizon: int,
    settings: dict[str, Any],
    *,
    cache_key: str | None,
    runner: dict[str, Any] | None = None,
    panel: pd.DataFrame | None = None,
    demand_tables: Mapping[str, pd.DataFrame] | None = None,
) -> EngineResult:
    """Backtest the candidate models, choose, forecast with intervals, simulate joint paths.

    With the reporter's ``panel`` the backtest's partner split is decided at each origin with
    data to that origin (:func:`features.series.origin_histories`); the live forecast keeps
    the split of the last year (``fs``).

    ``runner`` (the config's ``runner`` section) with ``kind: dask`` sends the per-partner
    backtests and forecasts to a Dask cluster in chunks (:mod:`flows.parallel`); the result
    is the same as with the default runner.

    With ``settings["demand_model"]`` the demand model (:mod:`models.demand`) is one more
    candidate, built from ``demand_tables`` (snapshot ``weo_vintages, indicators, pairs, fta``).
    """
    with memo_store.report_disk_reuse(stage_log, "forecast partners"):
        return run_configured_engine(
            fs, settings, horizon, panel=panel, runner=runner, demand_tables=demand_tables
        )


# --- the flow --------------------------------------------------------------------------------


@flow(
    name="forecast-exports",
    on_completion=[_stop_workers_of_deployed_run],
    on_failure=[_stop_workers_of_deployed_run],
    on_cancellation=[_stop_workers_of_deployed_run],
)
def forecast_exports(config: RunConfig) -> RunResult:
    """The main job for one reporter, stage by stage (the forecasting stages come next).

    Args:
        config: The validated run configuration (Prefect validates it again as a parameter).

    Returns:
        The concentration table, where it was written, and the run's ids.
    """
    restart_clock()  # stage seconds count from the flow's start (not Prefect's server start)
    snapshot = load_data(config.data.source, snapshot_folder(config.data), config.data.raw_dir)
    exports, exports_file = reporter_exports(snapshot.tables, config.reporter)
    # years.end follows the data and partial releases are marked (flows/years.py)
    config, run, prov = resolve_run(config, snapshot, exports, exports_file, describe_run)
    run = replace(run, weo_vintage_live=live_weo_vintage(snapshot.tables))
    ahead = track_record_ahead(snapshot.tables, needed=track_record_needed(config, run),
                               log=stage_log())  # fmt: skip
    # the backtest forecasts memo keeps origins on disk in cache.dir (flows/memo_store.py)
    with ahead, open_run(run, config.years.end) as mlrun, memo_store.installed(config):
        return _forecast_stages(config, snapshot, run, exports, exports_file, mlrun, prov)


def _forecast_stages(
    config: RunConfig,
    snapshot: Snapshot,
    run: RunInfo,
    exports: pd.DataFrame,
    exports_file: str,
    mlrun: tracking.TrackedRun,
    prov: pd.DataFrame,
) -> RunResult:
    """The job's stages inside its open MLflow run: panel to report.

    ``prov``: the run's partial-release years (features/provisional.py).
    """
    panel = build_panel(
        exports,
        config.reporter,
        config.years.start,
        config.years.end,
        cache_key=run.cache_key,
        name=exports_file,
    )
    concentration = listed_partner_counts(
        compute_concentration(
            with_remainder_rows(panel, prov), config.dependence_set, cache_key=run.cache_key
        ),
        prov,
    )  # shares of the published total in a partial release's year
    engine = series = None
    if config.forecast.enabled:
        series, engine, concentration = _forecast(config, snapshot, run, panel, concentration, prov)
    scenarios: list[ScenarioResult] = []
    bundle = index_track = None
    if engine is not None:
        # cached under the run's key, as the engine it reads (same data, config and code)
        index_track = backtest_index(engine, series, config.dependence_set, cache_key=run.cache_key)
        # the FTA track record before the scenarios: its second process (flows/ahead.py) has
        # then ended before the scenarios' memory grows (peak memory, docs/operations.md)
        track = run_track_record(config, snapshot.tables, run.vintage, cached=bool(run.cache_key))
        if config.scenarios:
            scenarios = run_scenarios(
                config, snapshot.tables, series, engine,
                cache_key=scenarios_key(run.cache_key, config),  # + the scenario files
            )  # fmt: skip
        bundle = _report_bundle(
            config, snapshot, run, panel, engine, index_track, scenarios, prov, track
        )
    if bundle is not None:  # the previous run, the track record (docs/data-updates.md)
        run_history.attach(bundle, config, mlrun.run_id, run, Path(exports_file).stem, panel,
                           concentration)  # fmt: skip
    live_weo = run.weo_vintage_live
    if live_weo is not None:
        mlrun.set_tags({"weo_vintage_live": live_weo})
    if RELEASE_WORKERS.get():  # no stage after this one fits models: free their memory
        stop_worker_processes()
    folder = finish_run(
        config, run, mlrun, concentration, engine, series, scenarios, index_track, bundle
    )
    return RunResult(
        concentration, folder, run.vintage, run.config_hash, mlrun.run_id, run.flow_run_id
    )


def _forecast(
    config: RunConfig,
    snapshot: Snapshot,
    run: RunInfo,
    panel: pd.DataFrame,
    concentration: pd.DataFrame,
    prov: pd.DataFrame,
) -> tuple[ForecastSeries, EngineResult, pd.DataFrame]:
    """Partner series, the engine's partner forecasts, and the history plus index forecasts."""
    series = build_series(panel, config.forecast.min_years, cache_key=run.cache_key)
    series = with_rest_remainder(series, prov)  # a partial release's remainder in REST
    check_dependence_modelled(
        series,
        config.dependence_set,
        reporter=config.reporter,
        min_years=config.forecast.min_years,
    )
    settings = config.forecast.model_dump(mode="json")
    engine = forecast_partners(
        series,
        config.horizon,
        settings,
        cache_key=run.cache_key,
        runner=config.runner.model_dump(mode="json"),
        panel=panel,
        demand_tables=(
            {k: snapshot[k] for k in DEMAND_TABLES} if config.forecast.demand_model else None
        ),
    )
    concentration = forecast_concentration(
        concentration,
        engine,
        series,
        config.dependence_set,
        config.forecast.levels,
        config.forecast.dependence_threshold,
        cache_key=run.cache_key,  # as the engine's: same data, config and code
    )
    return series, engine, concentration


def _report_bundle(
    config: RunConfig,
    snapshot: Snapshot,
    run: RunInfo,
    panel: pd.DataFrame,
    engine: EngineResult,
    index_track: pd.DataFrame,
    scenarios: list[ScenarioResult],
    prov: pd.DataFrame,
    track: pd.DataFrame | None,
) -> dict[str, Any]:
    """The report bundle's tables and metadata (:func:`flows.outputs.write_outputs`).

    ``track``: the FTA track record (``run_track_record``), None without scenarios.
    """
    return {
        "history": report_files.history_table(panel),
        "opportunities": find_opportunities(
            forecast_table(engine),
            with_remainder_rows(panel, prov),  # current shares of the published total
            snapshot.tables,
            config.dependence_set,
            config.horizon,
            config.report.exclude_open_registries,
        ),
        "index_backtest": index_track,
        "scenarios": scenarios,
        "meta": bundle_meta(config, run, snapshot, panel, engine),
        "backtest_forecasts": backtest_table(
            engine,
            snapshot["weo_vintages"],
            tuple(config.forecast.levels),
            config.forecast.weo_as_of,
            cache_key=run.cache_key,  # as the engine's: same data, config and code
        ),
        "fta_track_record": track,
    }


def prefect_settings(config: RunConfig, *, local: bool | None = None) -> dict[Any, Any]:
    """Prefect settings for running the flow: result cache folder; no heartbeats when local.

    A run on Prefect's temporary local server has nobody to watch its heartbeats, and stopping
    the heartbeat thread costs a second at the end of every run.
    """
    settings: dict[Any, Any] = {PREFECT_RESULTS_LOCAL_STORAGE_PATH: cache_keys.cache_dir(config)}
    if local is None:
        local = get_current_settings().api.url is None
    if local:
        settings[PREFECT_FLOWS_HEARTBEAT_FREQUENCY] = None
    return settings


def run_pipeline(
    config: RunConfig,
    *,
    log: Callable[[str], None] = print,
    temporary_api: str | None = None,
    release_workers: bool = False,
) -> RunResult:
    """Run the main job for one reporter (the ``forecast-exports`` flow).

    Args:
        config: The validated run configuration.
        log: Progress printer (``lambda _: None`` for quiet runs).
        temporary_api: API URL of a temporary Prefect server this process started for the run
            (:func:`exportcast.flows.prefect_server.prestart`); None: the configured API, or
            Prefect's own temporary server.
        release_workers: Stop joblib's worker processes after the last stage that fits
            models (a process that ends with the run: their memory is then free for the
            report's Chromium); False keeps them for the next run in this process.

    Returns:
        The concentration history, where it was written and the run's ids.
    """
    api = None if temporary_api else get_current_settings().api.url
    started = time.perf_counter()
    log(
        f"forecast-exports {config.reporter}, years {config.years.start}-{config.years.end} asked "
        f"(config {config_hash(config)}, code {code_version()})"
    )
    where = f" {temporary_api}" if temporary_api else ""
    log(
        f"  Prefect API {api}"
        if api
        else f"  Prefect: temporary local server{where} (set PREFECT_API_URL to use a running one)"
    )
    progress = Progress(log)
    token = PROGRESS.set(progress)
    release = RELEASE_WORKERS.set(release_workers)
    try:
        updates = prefect_settings(config, local=api is None)
        if temporary_api:
            updates[PREFECT_API_URL] = temporary_api
        elif config.runner.kind == "dask" and api is None:
            # Dask worker processes must report to the same temporary server: without an
            # API URL each would start its own
            from prefect.server.api.server import SubprocessASGIServer

            server = SubprocessASGIServer()
            server.start()
            updates[PREFECT_API_URL] = server.api_url
        with temporary_settings(updates=updates):
            result = forecast_exports(config)
    finally:
        PROGRESS.reset(token)
        RELEASE_WORKERS.reset(release)
    n_cached = len(progress.cached)
    cached = f", {n_cached} stage{'s' * (n_cached != 1)} from cache" if n_cached else ""
    log(f"done in {time.perf_counter() - started:.1f} s{cached}")
    return replace(result, cached=tuple(progress.cached), stages=tuple(progress.stages))


if __name__ == "__main__":
    forecast_exports(load_config())
