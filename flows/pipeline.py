"""The main job as a Prefect flow: snapshot -> trade panel -> indices -> MLflow -> outputs.

``forecast_exports`` is the pipeline picture in docs/architecture.md, top to bottom; each step is a task
named after what it does. Later stages (features, backtests, forecasts, concentration paths,
report) are one line each between ``compute_concentration`` and ``log_run``.

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
import contextlib
import functools
import hashlib
import json
import subprocess
import time
from collections.abc import Callable, Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from importlib import metadata
from pathlib import Path
from typing import Any

import pandas as pd
from prefect import flow, task
from prefect.cache_policies import NO_CACHE
from prefect.context import TaskRunContext
from prefect.logging import get_run_logger
from prefect.runtime import flow_run
from prefect.settings import (
    PREFECT_FLOWS_HEARTBEAT_FREQUENCY,
    PREFECT_RESULTS_LOCAL_STORAGE_PATH,
    get_current_settings,
    temporary_settings,
)
from threadpoolctl import threadpool_limits

from configs import RunConfig, config_hash, load_config
from features.concentration import concentration_from_paths, concentration_index
from features.panel import build_trade_panel, series_to_panel
from features.series import (
    REST,
    ForecastSeries,
    check_dependence_modelled,
    split_series,
)
from features.sources._common import SourceError
from flows import report as report_files
from flows import tracking
from flows.engine_call import run_configured_engine
from flows.io import PROJECT_ROOT, atomic_write, project_path, write_csv
from flows.snapshot import Snapshot, build_snapshot, load_snapshot
from flows.vintages import snapshot_folder, vintage_notes
from models.backtest_table import engine_backtest_table
from models.demand import DEMAND_TABLES
from models.engine import EngineResult
from models.fta_track_record import track_metrics
from models.index_backtest import ALL, index_backtest, summarize_index_backtest
from models.paths import path_quantiles
from models.scenarios import ScenarioResult
from models.weo_provenance import weo_vintage_per_row

__all__ = [
    "RunInfo",
    "RunResult",
    "cache_dir",
    "cache_key",
    "code_version",
    "forecast_exports",
    "run_pipeline",
]

CONCENTRATION_COLUMNS = [
    "reporter", "year", "kind", "hhi", "hhi_norm", "n_effective", "cr1", "cr3", "cr5", "theil",
    "n_partners",
]  # fmt: skip
# Logged to MLflow with step = year (plus share_<ISO3> of each dependence-set partner).
INDEX_METRICS = ["hhi", "hhi_norm", "n_effective", "cr1", "cr3", "cr5", "theil", "n_partners"]
# Config sections that say where results go, not what they are: not part of the cache key.
# The runner is left out too: the dask runner gives the same results (tests/flows/test_dask.py).
NOT_IN_CACHE_KEY = frozenset({"output", "tracking", "schedule", "cache", "runner", "report"})
CODE_DIRS = ("configs", "features", "models", "flows", "reports")
# Snapshot tables a run reads. Exports by partner: Korea's from KOSIS (to 2023), any other
# reporter's from the all-reporter IMF DOTS panel (to 2020): EXPORT_TABLES, first match wins.
SNAPSHOT_TABLES = [
    "kor_exports", "dots_exports", "kor_totals", "countries", "fta", "pairs", "indicators",
    "income_groups", "weo_vintages", "rtas",
]  # fmt: skip
EXPORT_TABLES = ("kor_exports", "dots_exports")


@dataclass(frozen=True)
class OutputFolder:
    """What :func:`write_outputs` left in the output folder.

    Attributes:
        path: The folder (``outputs/<reporter>``).
        files: The data files this run wrote (``run.json`` not included).
        removed: Files of an earlier run that this run does not write, deleted so that the
            folder holds one run's outputs only (the earlier run's MLflow artifacts keep them).
    """

    path: Path
    files: list[str]
    removed: list[Path]


@dataclass(frozen=True)
class RunResult:
    """What a run produced."""

    concentration: pd.DataFrame
    output_dir: Path
    vintage: str
    config_hash: str
    mlflow_run_id: str | None = None
    flow_run_id: str | None = None
    cached: tuple[str, ...] = ()
    stages: tuple[tuple[str, float, bool], ...] = ()
    """``(stage, wall seconds, from cache)`` in order (runs started by :func:`run_pipeline`)."""


@dataclass(frozen=True)
class RunInfo:
    """Identity of one run: what went in, which code, where it is tracked and written."""

    reporter: str
    dependence_set: tuple[str, ...]
    vintage: str
    config_hash: str
    code_version: str
    cache_key: str | None
    flow_run_id: str | None
    flow_run_name: str | None
    config: dict[str, Any]
    store: tracking.Store
    experiment: str
    output_dir: Path
    # the newest WEO vintage in the snapshot: what a live forecast reading the WEO uses
    weo_vintage_live: str | None = None

    @property
    def tags(self) -> dict[str, str | None]:
        """MLflow run tags."""
        return {
            "reporter": self.reporter,
            "data_vintage": self.vintage,
            "config_hash": self.config_hash,
            "code_version": self.code_version,
            "prefect_flow_run_id": self.flow_run_id,
            "prefect_flow_run_name": self.flow_run_name,
        }


# --- code version and cache key ------------------------------------------------------------


def _git(*args: str) -> str | None:
    try:
        proc = subprocess.run(
            ["git", "-C", str(PROJECT_ROOT), *args],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return proc.stdout.strip()


def _code_files(folders: tuple[str, ...] = CODE_DIRS) -> list[Path]:
    # every file of the code folders, not only *.py: YAML configs and scenarios, report
    # templates and styles change results too (bytecode caches and editor droppings do not)
    files = []
    for folder in folders:
        for path in (PROJECT_ROOT / folder).rglob("*"):
            if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
                files.append(path)
    return sorted(files)


def _source_hash(folders: tuple[str, ...] = CODE_DIRS) -> str:
    h = hashlib.sha256()
    for path in _code_files(folders):
        h.update(path.relative_to(PROJECT_ROOT).as_posix().encode() + b"\0")
        h.update(path.read_bytes() + b"\0")
    return h.hexdigest()[:8]


@functools.cache
def code_version() -> str:
    """The code's version: the git commit, ``<commit>+dirty.<source hash>`` for a changed tree.

    Outside a git checkout: ``<package version>+src.<source hash>``.
    """
    top = _git("rev-parse", "--show-toplevel")
    commit = _git("rev-parse", "--short=12", "HEAD")
    if top is None or commit is None or Path(top).resolve() != PROJECT_ROOT:
        try:
            version = metadata.version("exportcast")
        except metadata.PackageNotFoundError:
            version = "0+unknown"
        return f"{version}+src.{_source_hash()}"
    if _git("status", "--porcelain", "--", *CODE_DIRS):
        return f"{commit}+dirty.{_source_hash()}"
    return commit


def scenario_digest(config: RunConfig) -> str:
    """sha256 of the scenario files' contents, in the config's order (12 hex digits).

    The config holds scenario file *paths*; editing a file (another FTA year, another
    partner) must change the results' key, wherever the file lives.
    """
    from configs.loader import scenario_path

    h = hashlib.sha256()
    for name in config.scenarios:
        path = scenario_path(name)
        h.update(str(name).encode() + b"\0")
        h.update((path.read_bytes() if path.is_file() else b"<missing>") + b"\0")
    return h.hexdigest()[:12]


def cache_key(vintage: str, config: RunConfig) -> str:
    """``<data vintage>-<config hash>-<code version>``: names the results a run can reuse.

    The config hash covers the config (minus the sections in ``NOT_IN_CACHE_KEY``: output
    folder, tracking, schedule, cache, which change where results go, not what they are) and
    the contents of every scenario file it names (:func:`scenario_digest`). The code version
    covers every file of the code folders, YAML and templates included (:func:`code_version`).
    """
    what = config.model_dump(mode="json", exclude=set(NOT_IN_CACHE_KEY))
    what["scenario_files"] = scenario_digest(config)
    digest = hashlib.sha256(json.dumps(what, sort_keys=True).encode()).hexdigest()[:12]
    return f"{vintage}-{digest}-{code_version()}"


def data_logic_key(vintage: str) -> str:
    """Cache key of a stage that reads only the snapshot (no config): data + pure logic.

    ``<data vintage>-<hash of features/ and models/>``: a change of config, flows or reports
    does not recompute it (the FTA track record, about 70 s, depends on neither).
    """
    return f"{vintage}-logic.{_source_hash(('features', 'models'))}"


def cache_dir(config: RunConfig) -> Path:
    """The result cache folder (relative ``cache.dir`` resolves against the project)."""
    path = Path(config.cache.dir).expanduser()
    return path if path.is_absolute() else PROJECT_ROOT / path


def _cache_key_of(context: TaskRunContext, parameters: dict[str, Any]) -> str | None:
    key = parameters.get("cache_key")
    return None if key is None else f"{context.task.name}-{key}"


def _transient(task: Any, task_run: Any, state: Any) -> bool:
    # Retry I/O hiccups; a missing file, bad data or a bad store will not heal by retrying.
    exc = state.data
    permanent = (FileNotFoundError, NotADirectoryError, IsADirectoryError, PermissionError)
    return isinstance(exc, OSError) and not isinstance(exc, permanent)


# --- progress --------------------------------------------------------------------------------


@dataclass
class _Progress:
    log: Callable[[str], None]
    cached: list[str] = field(default_factory=list)
    # wall seconds per stage: the time since the previous stage line (stages run one after
    # the other in the flow's thread), so glue between tasks counts to the next stage
    stages: list[tuple[str, float, bool]] = field(default_factory=list)
    mark: float = field(default_factory=time.perf_counter)


def _stage_line(name: str, text: str, *, cached: bool = False) -> None:
    """Print one stage's progress line with its wall seconds (Prefect's log in served runs)."""
    line = f"{name:<22} {text}" + ("  (cached)" if cached else "")
    progress = _PROGRESS.get()
    if progress is None:  # a served run: the line goes to the Prefect run log
        get_run_logger().info(line)
        return
    now = time.perf_counter()
    seconds, progress.mark = now - progress.mark, now
    progress.stages.append((name, seconds, cached))
    progress.log(f"  {line}  [{seconds:.1f} s]")
    if cached:
        progress.cached.append(name.replace(" ", "_"))


def _restart_clock() -> None:
    progress = _PROGRESS.get()
    if progress is not None:
        progress.mark = time.perf_counter()


_PROGRESS: ContextVar[_Progress | None] = ContextVar("exportcast_progress", default=None)


def _stage_log() -> Callable[[str], None]:
    """Progress lines from inside a task: the CLI's printer, else the Prefect run log."""
    progress = _PROGRESS.get()
    if progress is not None:
        return progress.log
    logger = get_run_logger()
    return lambda line: logger.info(line)


class _ReportStage:
    """An ``on_completion`` hook printing the stage name, ``describe(result)`` and "cached".

    A class rather than a closure: served runs pickle the flow into a subprocess, and a
    closure would drag the progress ContextVar (not picklable) along.
    """

    def __init__(self, describe: Callable[[Any], str]) -> None:
        self.describe = describe

    def __call__(self, task: Any, task_run: Any, state: Any) -> None:
        cached = state.name == "Cached"
        _stage_line(task.name.replace("_", " "), self.describe(state.result()), cached=cached)


def _reports(describe: Callable[[Any], str]) -> list[Callable[..., None]]:
    return [_ReportStage(describe)]


def _describe_snapshot(snapshot: Snapshot) -> str:
    return f"{len(snapshot.tables)} tables, data vintage {snapshot.vintage}"


def _describe_panel(panel: pd.DataFrame) -> str:
    sources = ", ".join(sorted(panel["source"].astype(str).unique())) if len(panel) else "-"
    return (
        f"{panel['partner'].nunique()} partners, {len(panel):,} partner-years "
        f"{int(panel['year'].min())}-{int(panel['year'].max())} (source: {sources})"
    )


def _describe_concentration(conc: pd.DataFrame) -> str:
    last = conc.iloc[-1]
    return (
        f"{len(conc)} years {int(conc['year'].min())}-{int(last['year'])}; "
        f"dependence share {last['dependence_share']:.1%} in {int(last['year'])}"
    )


def _describe_record(record: tracking.RunRecord) -> str:
    return f"MLflow run {record.run_id} in {record.experiment} ({record.uri})"


def _describe_folder(out: OutputFolder) -> str:
    line = f"{out.path}: {', '.join(sorted(f for f in out.files if f.endswith('.csv')))}, run.json"
    if out.removed:
        names = ", ".join(p.name for p in out.removed)
        line += (
            f"; removed {len(out.removed)} file(s) an earlier run had left there ({names}; "
            "its MLflow run keeps them)"
        )
    return line


def _describe_series(fs: ForecastSeries) -> str:
    return (
        f"{len(fs.partners)} partners modelled, the rest ({fs.n_partners - len(fs.partners)} "
        f"small partners) as one series; history to {fs.last_year}"
    )


def _describe_engine(engine: EngineResult) -> str:
    acc = engine.accuracy.set_index("model")
    sel = acc.loc["Selected"]
    cov = ", ".join(f"{k.split('-')[1]} % -> {v:.0%}" for k, v in engine.coverage.items())
    cutoffs = engine.choices["cutoff"]
    return (
        f"model {engine.model}; backtest (origins {int(cutoffs.min())}-{int(cutoffs.max())}) "
        f"relMASE vs naive {sel['relMASE']:.3f} "
        f"(weighted {sel.get('wrelMASE', float('nan')):.3f}); interval coverage {cov}; "
        f"{_describe_fallbacks(engine.fallbacks)}"
    )


def _describe_fallbacks(counts: pd.DataFrame) -> str:
    used = counts[counts["replaced"] > 0]
    if used.empty:
        return "no fallbacks"
    parts = ", ".join(
        f"{r.model} {r.replaced:,}/{r.fits:,} {r.stage} fits" for r in used.itertuples()
    )
    return f"fallback to Naive: {parts}"


def _describe_scenarios(results: list[ScenarioResult]) -> str:
    if not results:
        return "no scenarios"
    names = ", ".join(str(r.meta["name"]) for r in results)
    return f"{len(results)} scenario{'s' * (len(results) != 1)}: {names}"


def _describe_forecast_conc(conc: pd.DataFrame) -> str:
    f = conc[conc["kind"] == "forecast"]
    if f.empty:
        return "no forecast"
    last = f.iloc[-1]
    return (
        f"dependence share {int(last['year'])}: {last['dependence_share']:.1%} "
        f"(80 % {last['dependence_share_lo_80']:.1%}-{last['dependence_share_hi_80']:.1%})"
    )


def _describe_track_record(rows: pd.DataFrame) -> str:
    return f"{len(rows):,} agreement-partner-years scored ex ante"


def _describe_opportunities(table: pd.DataFrame) -> str:
    ranked = int(table["rank"].notna().sum())
    apart = len(table) - ranked  # open ship registries (report.exclude_open_registries)
    return f"{ranked:,} partners ranked" + (f", {apart} open registries apart" if apart else "")


def _describe_report(html: Path) -> str:
    return f"{html.parent}: HTML, XLSX (and PDF when report.pdf)"


def _describe_index_backtest(frame: pd.DataFrame) -> str:
    summary = summarize_index_backtest(frame)
    if summary.empty:
        return "nothing to score"
    overall = summary.set_index("h").loc[ALL]
    return (
        f"dependence share, origins {int(frame['cutoff'].min())}-{int(frame['cutoff'].max())}: "
        f"missed by {overall['mae']:.2f} points on average, no change by "
        f"{overall['mae_no_change']:.2f}"
    )


# --- tasks -----------------------------------------------------------------------------------


@task(
    retries=2,
    retry_delay_seconds=2,
    retry_condition_fn=_transient,
    cache_policy=NO_CACHE,
    on_completion=_reports(_describe_snapshot),
)
def load_data(source: str, snapshot_dir: Path, raw_dir: Path | None) -> Snapshot:
    """Load the embedded snapshot (rebuilding it from the raw files first when asked)."""
    folder = project_path(snapshot_dir)
    if source == "raw":
        assert raw_dir is not None  # guaranteed by the schema
        build_snapshot(raw_dir, folder, log=lambda _: None)
    return load_snapshot(folder, SNAPSHOT_TABLES)


def describe_run(config: RunConfig, vintage: str) -> RunInfo:
    """Who this run is: hashes, code version, cache key, Prefect ids and tracking target."""
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
        store=tracking.resolve_store(config.tracking.uri, config.tracking.artifacts),
        experiment=config.tracking.experiment.format(reporter=config.reporter),
        output_dir=Path(config.output.dir) / config.reporter,
    )


def reporter_exports(tables: Mapping[str, pd.DataFrame], reporter: str) -> tuple[pd.DataFrame, str]:
    """The reporter's exports by partner and the snapshot file they come from.

    Korea's come from KOSIS (1990-2023); every other reporter's from the IMF DOTS panel
    (1990-2020): the first of ``EXPORT_TABLES`` that has the reporter.

    Raises:
        SourceError: No table has exports of ``reporter``.
    """
    for table in EXPORT_TABLES:
        frame = tables[table]
        rows = frame.loc[frame["reporter"] == reporter]
        if not rows.empty:
            return rows.reset_index(drop=True), f"data/snapshot/{table}.parquet"
    have = sorted(set().union(*(set(tables[t]["reporter"]) for t in EXPORT_TABLES)))
    raise SourceError(
        f"data/snapshot/{'/'.join(EXPORT_TABLES)}",
        f"no exports for reporter {reporter!r}; expected one of the {len(have)} reporters "
        f"present (ISO3), e.g. {', '.join(have[:12])}",
    )


@task(cache_key_fn=_cache_key_of, on_completion=_reports(_describe_panel))
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


@task(cache_key_fn=_cache_key_of, on_completion=_reports(_describe_concentration))
def compute_concentration(
    panel: pd.DataFrame, dependence_set: tuple[str, ...], *, cache_key: str | None
) -> pd.DataFrame:
    """History of concentration and dependence indices, in the output contract's columns."""
    idx = concentration_index(panel, dependence_set=dependence_set)
    shares = [f"share_{c}" for c in dependence_set]
    idx = idx.assign(kind="history", n_partners=idx["n_partners"].astype("int64"))
    return idx[[*CONCENTRATION_COLUMNS, *shares, "dependence_share"]]


@task(cache_key_fn=_cache_key_of, on_completion=_reports(_describe_series))
def build_series(panel: pd.DataFrame, min_years: int, *, cache_key: str | None) -> ForecastSeries:
    """Partner series for the engine: one per regular partner, the rest as one series."""
    return split_series(panel, min_years=min_years)


@task(cache_key_fn=_cache_key_of, on_completion=_reports(_describe_engine))
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
    return run_configured_engine(
        fs, settings, horizon, panel=panel, runner=runner, demand_tables=demand_tables
    )


@task(cache_policy=NO_CACHE, on_completion=_reports(_describe_forecast_conc))
def forecast_concentration(
    history: pd.DataFrame,
    engine: EngineResult,
    fs: ForecastSeries,
    dependence_set: tuple[str, ...],
    levels: tuple[int, ...],
    threshold: float,
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


@task(cache_key_fn=_cache_key_of, on_completion=_reports(_describe_scenarios))
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
    from configs import load_scenario
    from flows.scenarios import run_scenario

    log = _stage_log()
    results = []
    for path in config.scenarios:
        scenario = load_scenario(
            path,
            snapshot_dir=config.data.snapshot_dir,
            min_years=config.forecast.min_years,
            default_origin=config.years.end,
        )
        with threadpool_limits(limits=1, user_api="blas"):
            results.append(run_scenario(config, scenario, tables, baseline=(fs, engine), log=log))
    return results


@task(
    cache_key_fn=_cache_key_of,
    on_completion=_reports(_describe_track_record),
)
def fta_track_record(tables: dict[str, pd.DataFrame], *, cache_key: str | None) -> pd.DataFrame:
    """The ex ante track record of Korea's agreements (docs/fta-gravity.md; about 70 s cold)."""
    from models.fta_track_record import track_record

    log = _stage_log()
    with threadpool_limits(limits=1, user_api="blas"):
        rows, _ = track_record(tables["kor_exports"], tables["dots_exports"], tables["rtas"],
                               tables["fta"], log=log)  # fmt: skip
    return rows


@task(
    cache_policy=NO_CACHE,
    on_completion=_reports(_describe_opportunities),
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
    from models.opportunities import opportunities

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


@task(cache_policy=NO_CACHE, on_completion=_reports(_describe_index_backtest))
def backtest_index(
    engine: EngineResult, fs: ForecastSeries, dependence_set: tuple[str, ...]
) -> pd.DataFrame:
    """The dependence share from the backtest's ``Selected`` partner forecasts, per origin.

    ``Selected`` is the model chosen at each origin from past errors only, so this is the
    honest track record of the index forecast (:func:`models.index_backtest.index_backtest`).
    """
    history = fs.series if engine.history is None else engine.history
    return index_backtest(engine.backtest, history, "Selected", dependence_set)


@task(
    retries=2,
    retry_delay_seconds=2,
    retry_condition_fn=_transient,
    cache_policy=NO_CACHE,
    on_completion=_reports(_describe_record),
)
def log_run(
    mlrun: tracking.TrackedRun,
    concentration: pd.DataFrame,
    run: RunInfo,
    engine: EngineResult | None,
    series: ForecastSeries | None = None,
    scenarios: list[ScenarioResult] | None = None,
    index_track: pd.DataFrame | None = None,
    backtest_table: pd.DataFrame | None = None,
    fta_track: pd.DataFrame | None = None,
) -> tracking.RunRecord:
    """Record the results in the job's open MLflow run: index paths by year, forecasts, plot.

    The run itself (opened by :func:`open_run`, with the config as parameters and the run's
    identity as tags) spans the whole job and ends after the outputs and the report are
    written. With an engine result this also records one nested run per candidate model
    (backtest scores overall and per horizon step) and registers the chosen forecaster as the
    pyfunc model ``exportcast-<reporter>-forecaster`` with alias ``champion``; both need
    ``series``, the partner series the engine ran on. ``index_track`` (the
    :func:`backtest_index` frame) adds the dependence share's backtest errors in percentage
    points: overall ``dependence_backtest_mae``, ``_mae_no_change`` and ``_bias``, and the
    same with the suffix ``_by_h`` per horizon (step = years ahead). ``fta_track`` (the FTA
    track record) adds ``fta_track_*`` metrics and ``fta_track_record.csv``.
    """
    history = concentration[concentration["kind"] == "history"]
    shares = [f"share_{c}" for c in run.dependence_set]
    mlrun.log_series(history, [*INDEX_METRICS, *shares, "dependence_share"], step="year")
    mlrun.log_table(concentration.assign(data_vintage=run.vintage), "concentration.csv")
    mlrun.log_dataset(run.vintage, f"exportcast data vintage {run.vintage}")
    if engine is not None:
        _log_forecast(mlrun, concentration, engine, [*shares, "dependence_share"])
        mlrun.log_table(_forecast_table(engine, run.weo_vintage_live), "forecasts.csv")
        if series is None:
            raise ValueError("log_run: an engine result needs the series it ran on")
        train = series.series
        _log_model_runs(mlrun, engine, train if engine.history is None else engine.history)
        _log_champion(mlrun, run, engine, train)
        mlrun.set_tags({"mlflow.runName": run_title(run, int(history["year"].max()), engine.model)})
    if index_track is not None:
        _log_index_backtest(mlrun, index_track)
    if backtest_table is not None:  # every backtest forecast: the accuracy can be rescored
        mlrun.log_table(backtest_table, "backtest_forecasts.csv")
        used = sorted(set(backtest_table["weo_vintage"]) - {""})
        mlrun.set_tags({"weo_vintages_backtest": ",".join(used)})
    if fta_track is not None and not fta_track.empty:  # docs/fta-gravity.md
        mlrun.log_metrics(track_metrics(fta_track))
        mlrun.log_table(fta_track, "fta_track_record.csv")
    for result in scenarios or []:
        _log_scenario(mlrun, result)
    figure = tracking.dependence_figure(history, reporter=run.reporter, partners=run.dependence_set)
    mlrun.log_figure(figure, "dependence_share.png")
    return mlrun.record


def run_title(run: RunInfo, last_year: int, model: str | None = None) -> str:
    """The MLflow run name: ``<reporter> <last year> · data <vintage> · config <hash> [· <model>]``.

    Runs of the same data and config share a name (they are the same computation); any other
    difference shows in the name, e.g. ``KOR 2023 · data 530a1176 · config f9f022cc · Drift``.
    """
    parts = [
        f"{run.reporter} {last_year}",
        f"data {run.vintage[:8]}",
        f"config {run.config_hash[:8]}",
        *([model] if model else []),
    ]
    return " · ".join(parts)


@contextlib.contextmanager
def open_run(run: RunInfo, last_year: int) -> Iterator[tracking.TrackedRun]:
    """The job's MLflow run, open for the whole job (config as parameters, identity as tags).

    It ends FINISHED when the body returns (after outputs and report), FAILED with the error
    as the ``error`` tag when it raises, KILLED on Ctrl-C, SIGTERM (the CLI turns it into
    Ctrl-C) or a Prefect cancellation (:func:`flows.tracking.tracked_run`).
    """
    tags = {**run.tags, "last_year": str(last_year)}
    with tracking.tracked_run(
        run.store,
        run.experiment,
        run_name=run_title(run, last_year),
        tags=tags,
        params=run.config,
    ) as mlrun:
        _stage_line("open MLflow run", f"{mlrun.run_id} ({run.store.display})")
        yield mlrun


def _log_forecast(
    mlrun: tracking.TrackedRun, conc: pd.DataFrame, engine: EngineResult, shares: list[str]
) -> None:
    fc = conc[conc["kind"] == "forecast"]
    names = ["hhi", "n_effective", "cr1", "cr3", "cr5", "theil", *shares]
    # <index>_forecast: the index of the partner forecasts (the headline); _forecast_p50 and
    # the bands: over the sample paths
    rename = {n: f"{n}_forecast" for n in names}
    for n in names:
        rename[f"{n}_p50"] = f"{n}_forecast_p50"
        for c in fc.columns:
            if c.startswith((f"{n}_lo_", f"{n}_hi_")):
                rename[c] = c.replace("_lo_", "_forecast_lo_").replace("_hi_", "_forecast_hi_")
    logged = [c for c in rename if c in fc.columns]
    mlrun.log_series(
        fc.rename(columns=rename),
        [rename[c] for c in logged] + ["p_dependence_below"],
        step="year",
    )
    acc = engine.accuracy.set_index("model")
    metrics = {
        f"backtest_{m}_{k}": acc.loc[m, k]
        for m in acc.index
        for k in ("MASE", "relMASE", "sMAPE")
        if k in acc.columns
    }
    if "wrelMASE" in acc.columns:
        metrics.update({f"backtest_{m}_wrelMASE": acc.loc[m, "wrelMASE"] for m in acc.index})
    metrics.update({f"backtest_{k.replace('-', '_')}": v for k, v in engine.coverage.items()})
    # fits the fallback (Naive) replaced, per model: backtest and live forecast together
    metrics.update({f"fallback_fits_{m}": n for m, n in engine.n_fallbacks.items()})
    mlrun.log_metrics(metrics)
    mlrun.set_tags({"selected_model": engine.model})
    mlrun.log_table(engine.accuracy, "backtest_accuracy.csv")


def _log_index_backtest(mlrun: tracking.TrackedRun, frame: pd.DataFrame) -> None:
    # overall errors at step 0 and per horizon (step = h), in percentage points
    summary = summarize_index_backtest(frame)
    if summary.empty:
        return
    names = {k: f"dependence_backtest_{k}" for k in ("mae", "mae_no_change", "bias")}
    overall = summary.set_index("h").loc[ALL]
    mlrun.log_metrics({name: overall[k] for k, name in names.items()})
    by_h = summary[summary["h"] != ALL].astype({"h": "int64"})
    by_h = by_h.rename(columns={k: f"{name}_by_h" for k, name in names.items()})
    mlrun.log_series(by_h, [f"{name}_by_h" for name in names.values()], step="h")


def _log_model_runs(mlrun: tracking.TrackedRun, engine: EngineResult, train: pd.DataFrame) -> None:
    # One nested run per candidate (and Selected): scores per horizon step (step = h) and
    # overall (overall_<metric>, as in backtest_accuracy.csv).
    from flows import champion  # imports mlflow: only when a run is recorded

    acc = engine.accuracy.set_index("model")
    by_h = champion.horizon_scores(engine.backtest, train, list(acc.index))
    for model in acc.index:
        with mlrun.nested_run(model, tags={"model": model, "selected": engine.model}) as child:
            overall = acc.loc[model].drop("n_units", errors="ignore")
            child.log_metrics({f"overall_{k}": v for k, v in overall.items()})
            rows = by_h[by_h["model"] == model]
            child.log_series(rows, [c for c in champion.HORIZON_METRICS if c in rows], step="h")


def _log_scenario(mlrun: tracking.TrackedRun, result: ScenarioResult) -> None:
    # One nested run per scenario: its changes as params, the effect on each index by year
    # (index of the point forecasts, path median and bands of scenario - baseline), its tables.
    meta = result.meta
    tags = {"scenario": meta["name"], "origin": str(meta["origin"]), "kind": "scenario"}
    with mlrun.nested_run(f"scenario: {meta['name']}", tags=tags) as child:
        child.log_params(
            {
                "title": meta.get("title", ""),
                "origin": meta["origin"],
                **{f"change_{i + 1}": c for i, c in enumerate(meta.get("changes", []))},
            }
        )
        idx = result.indices
        for index, rows in idx.groupby("index"):
            cols = [
                c
                for c in rows.columns
                if c.startswith(("diff_", "scenario_p50", "baseline_point", "scenario_point"))
            ]
            renamed = rows.rename(columns={c: f"{index}_{c}" for c in cols})
            child.log_series(renamed, [f"{index}_{c}" for c in cols], step="year")
        child.log_table(result.partners, "scenario_partners.csv")
        child.log_table(idx, "scenario_indices.csv")
        child.log_dict(meta, "scenario.json")


def _log_champion(
    mlrun: tracking.TrackedRun, run: RunInfo, engine: EngineResult, train: pd.DataFrame
) -> None:
    # Registration is an extra: a failure is reported (tag, warning), the run still finishes.
    from flows import champion

    name = f"exportcast-{run.reporter}-forecaster"
    try:
        version = champion.log_champion(
            mlrun,
            engine,
            train,
            candidates=run.config["forecast"]["models"],
            registered_model=name,
            tags={"data_vintage": run.vintage},
        )
        mlrun.set_tags({"champion_model": f"models:/{name}/{version}"})
    except Exception as exc:
        get_run_logger().warning("could not register %s: %s", name, exc)
        mlrun.set_tags({"champion_error": f"{type(exc).__name__}: {exc}"})


def fallback_records(engine: EngineResult) -> list[dict[str, Any]]:
    """The engine's fallback counts as JSON records (``run.json``, the report bundle)."""
    counts = engine.fallbacks[["stage", "model", "replaced", "fits"]]
    return [
        {
            "stage": str(r.stage),
            "model": str(r.model),
            "replaced": int(r.replaced),
            "fits": int(r.fits),
        }
        for r in counts.itertuples()
    ]


def _forecast_table(engine: EngineResult, weo_live: str | None = None) -> pd.DataFrame:
    table = series_to_panel(engine.forecast).rename(columns={"export_usd": "mean"})
    # which WEO vintage fed each row ("none" for models that read no WEO: docs/outputs.md)
    return table.assign(weo_vintage=weo_vintage_per_row(table["model"], weo_live).to_numpy())


OUTPUT_FILES: tuple[str, ...] = tuple(
    dict.fromkeys(("concentration.csv", *report_files.BUNDLE_FILES, "backtest_forecasts.csv"))
)
"""Every data file a run may write into ``outputs/<reporter>/`` (besides ``run.json``)."""


def report_files_of(folder: Path, reporter: str) -> list[Path]:
    """The report files (HTML/PDF/XLSX, any year) of ``reporter`` in ``folder/report``."""
    return sorted(
        p
        for p in (folder / "report").glob(f"exportcast-report-{reporter}-*")
        if p.suffix in {".html", ".pdf", ".xlsx"}
    )


def remove_stale(paths: list[Path]) -> list[Path]:
    """Delete files an earlier run left in the output folder; return those deleted."""
    removed = []
    for path in paths:
        if path.is_file():
            path.unlink()
            removed.append(path)
    return removed


@task(
    retries=2,
    retry_delay_seconds=2,
    retry_condition_fn=_transient,
    cache_policy=NO_CACHE,
    on_completion=_reports(_describe_folder),
)
def write_outputs(
    concentration: pd.DataFrame,
    run: RunInfo,
    record: tracking.RunRecord,
    engine: EngineResult | None,
    bundle: dict[str, Any] | None = None,
    report: bool = False,
) -> OutputFolder:
    """Write the output folder atomically: indices, forecasts, accuracy, report bundle, run.json.

    ``bundle`` (with an engine result) holds the report bundle's extra tables and metadata
    (``history``, ``opportunities``, ``index_backtest``, ``scenarios`` results, ``meta``); see
    :mod:`flows.report`; its ``backtest_forecasts`` table is written as
    ``backtest_forecasts.csv``. ``report``: a report will be built into ``report/`` after this.

    The folder holds one run's outputs: files of :data:`OUTPUT_FILES` that this run does not
    write (e.g. ``forecasts.csv`` after a run with ``forecast.enabled=false``), and the
    reporter's report files when no report will be built, are deleted once the new files are
    in place; ``run.json`` is written last and lists the files of this run.
    """
    folder = run.output_dir
    table = concentration.assign(data_vintage=run.vintage)
    write_csv(table, folder / "concentration.csv", float_format="%.10g")
    files = ["concentration.csv"]
    meta: dict[str, Any] = {}
    if engine is not None:
        fc = _forecast_table(engine, run.weo_vintage_live).assign(data_vintage=run.vintage)
        write_csv(fc, folder / "forecasts.csv", float_format="%.10g")
        write_csv(engine.accuracy, folder / "backtest_accuracy.csv", float_format="%.6g")
        files += ["forecasts.csv", "backtest_accuracy.csv"]
        meta = {
            "selected_model": engine.model,
            "interval_coverage_backtest": engine.coverage,
            "rolling_choices": {int(r.cutoff): r.model for r in engine.choices.itertuples()},
            "fallbacks": fallback_records(engine),
        }
        if bundle is not None and bundle.get("backtest_forecasts") is not None:
            path = folder / "backtest_forecasts.csv"
            write_csv(bundle["backtest_forecasts"], path, float_format="%.10g")
            files.append(path.name)
        if bundle is not None:
            scenarios = bundle["scenarios"]
            tables = {
                "history": bundle["history"],
                "opportunities": bundle["opportunities"],
                "index_backtest": bundle["index_backtest"],
                **report_files.scenario_tables(scenarios, run.config["forecast"]["levels"]),
                **({} if bundle.get("fta_track_record") is None
                   else {"fta_track_record": bundle["fta_track_record"]}),
            }  # fmt: skip
            report_meta = {
                **bundle["meta"],
                "mlflow_run_id": record.run_id,
                "prefect_flow_run_id": run.flow_run_id,
                "selected_model": engine.model,
                "interval_coverage_backtest": {
                    k.rsplit("-", 1)[-1]: v for k, v in engine.coverage.items()
                },
                "fallbacks": fallback_records(engine),
                "scenarios": [r.meta for r in scenarios],
            }
            written = report_files.write_bundle(folder, meta=report_meta, tables=tables)
            files += [p.name for p in written]
    stale = [folder / name for name in OUTPUT_FILES if name not in files]
    removed = remove_stale(stale + ([] if report else report_files_of(folder, run.reporter)))
    meta = {
        "reporter": run.reporter,
        "data_vintage": run.vintage,
        "config_hash": run.config_hash,
        "code_version": run.code_version,
        "prefect_flow_run_id": run.flow_run_id,
        "mlflow_run_id": record.run_id,
        "config": run.config,
        "files": files,
        **meta,
    }
    text = json.dumps(meta, indent=2, sort_keys=True) + "\n"
    atomic_write(folder / "run.json", lambda p: p.write_text(text, encoding="utf-8"))
    return OutputFolder(folder, files, removed)


@task(
    retries=1,
    retry_delay_seconds=2,
    retry_condition_fn=_transient,
    cache_policy=NO_CACHE,
    on_completion=_reports(_describe_report),
)
def make_report(folder: Path, run: RunInfo, record: tracking.RunRecord, pdf: bool) -> Path:
    """Build the HTML/PDF/XLSX report from the bundle; attach bundle and report to the run.

    Report files of the reporter that this run did not write (an earlier run's PDF when
    ``pdf`` is off, or a report of other years) are deleted, as :func:`write_outputs` does
    for the data files.
    """
    log = _stage_log()
    outcome = report_files.build_and_log_report(
        folder,
        out_dir=folder / "report",
        store=run.store,
        run_id=record.run_id,
        pdf=pdf,
        log=log,
    )
    made = {outcome.html, outcome.xlsx, outcome.pdf}
    removed = remove_stale([p for p in report_files_of(folder, run.reporter) if p not in made])
    if removed:
        names = ", ".join(p.name for p in removed)
        log(f"  report: removed {len(removed)} file(s) an earlier run had left there ({names})")
    return outcome.html


def live_weo_vintage(tables: Mapping[str, pd.DataFrame]) -> str | None:
    """The newest WEO vintage in the snapshot (None without the ``weo_vintages`` table)."""
    from features.outlook import vintage_at

    table = tables.get("weo_vintages")
    return None if table is None or table.empty else vintage_at(table)


def display_name(name: str) -> str:
    """ISO's inverted names read naturally: 'Korea, Republic of' -> 'Republic of Korea'."""
    head, sep, tail = name.partition(", ")
    return f"{tail} {head}" if sep and tail.endswith(" of") else name


def _report_meta(
    config: RunConfig, run: RunInfo, snapshot: Snapshot, panel: pd.DataFrame, engine: EngineResult
) -> dict[str, Any]:
    countries = snapshot["countries"].set_index("country")["name"]
    # the years the data and the backtest actually cover (a DOTS reporter's data end in 2020,
    # a late-starting one's early origins are not scored: models.engine.scorable_origins)
    cutoffs = engine.choices["cutoff"]
    return {
        "reporter": config.reporter,
        "reporter_name": display_name(str(countries.get(config.reporter, config.reporter))),
        "dependence_set": list(config.dependence_set),
        "horizon": config.horizon,
        "first_year": int(panel["year"].min()),
        "last_year": int(panel["year"].max()),
        "levels": list(config.forecast.levels),
        "dependence_threshold": config.forecast.dependence_threshold,
        "data_vintage": run.vintage,
        "config_hash": run.config_hash,
        "code_version": run.code_version,
        "created_utc": report_files.created_utc(),
        "config": run.config,
        "sources": report_files.sources_from_manifest(snapshot.manifest),
        "partner_names": {str(k): display_name(str(v)) for k, v in countries.items()},
        "backtest_period": [int(cutoffs.min()), int(cutoffs.max())],
        # the newest WEO vintage in the data: the live forecasts' outlook (the demand model, the
        # opportunities' partner GDP growth); the backtest's are per origin in backtest_forecasts
        "weo_vintage_live": live_weo_vintage(snapshot.tables),
        "data_update": vintage_notes(snapshot_folder(config.data)),  # docs/data-updates.md
    }


# --- the flow --------------------------------------------------------------------------------


def _stop_workers_of_deployed_run(flow: Any, run: Any, state: Any) -> None:
    # see stop_worker_processes: only a deployed run's process has to exit by itself
    if getattr(run, "deployment_id", None) is not None:
        stop_worker_processes()


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
    _restart_clock()  # stage seconds count from the flow's start (not Prefect's server start)
    snapshot = load_data(config.data.source, snapshot_folder(config.data), config.data.raw_dir)
    run = replace(
        describe_run(config, snapshot.vintage), weo_vintage_live=live_weo_vintage(snapshot.tables)
    )
    exports, exports_file = reporter_exports(snapshot.tables, config.reporter)
    last_year = min(config.years.end, int(exports["year"].max()))
    with open_run(run, last_year) as mlrun:
        return _forecast_stages(config, snapshot, run, exports, exports_file, mlrun)


def _forecast_stages(
    config: RunConfig,
    snapshot: Snapshot,
    run: RunInfo,
    exports: pd.DataFrame,
    exports_file: str,
    mlrun: tracking.TrackedRun,
) -> RunResult:
    """The job's stages inside its open MLflow run: panel to report."""
    panel = build_panel(
        exports,
        config.reporter,
        config.years.start,
        config.years.end,
        cache_key=run.cache_key,
        name=exports_file,
    )
    concentration = compute_concentration(panel, config.dependence_set, cache_key=run.cache_key)
    engine = series = None
    if config.forecast.enabled:
        series = build_series(panel, config.forecast.min_years, cache_key=run.cache_key)
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
        )
    scenarios: list[ScenarioResult] = []
    bundle = index_track = None
    if engine is not None:
        forecasts = _forecast_table(engine)
        index_track = backtest_index(engine, series, config.dependence_set)
        if config.scenarios:
            scenarios = run_scenarios(
                config, snapshot.tables, series, engine, cache_key=run.cache_key
            )
        bundle = {
            "history": report_files.history_table(panel),
            "opportunities": find_opportunities(
                forecasts,
                panel,
                snapshot.tables,
                config.dependence_set,
                config.horizon,
                config.report.exclude_open_registries,
            ),
            "index_backtest": index_track,
            "scenarios": scenarios,
            "meta": _report_meta(config, run, snapshot, panel, engine),
            "backtest_forecasts": engine_backtest_table(
                engine,
                snapshot["weo_vintages"],
                levels=config.forecast.levels,
                rule=config.forecast.weo_as_of,
            ),
            "fta_track_record": (
                fta_track_record(
                    snapshot.tables,
                    cache_key=data_logic_key(run.vintage) if run.cache_key else None,
                )
                if config.scenarios
                else None
            ),
        }
    live_weo = run.weo_vintage_live
    if live_weo is not None:
        mlrun.set_tags({"weo_vintage_live": live_weo})
    record = log_run(
        mlrun,
        concentration,
        run,
        engine,
        series,
        scenarios,
        index_track,
        None if bundle is None else bundle["backtest_forecasts"],
        None if bundle is None else bundle["fta_track_record"],
    )
    report = bundle is not None and config.report.enabled
    folder = write_outputs(concentration, run, record, engine, bundle, report).path
    if report:
        make_report(folder, run, record, config.report.pdf)
    return RunResult(
        concentration, folder, run.vintage, run.config_hash, record.run_id, run.flow_run_id
    )


def stop_worker_processes() -> None:
    """Stop joblib's reusable worker processes, if any were started.

    A deployed run (``exportcast serve``) executes in a multiprocessing child; at its end
    multiprocessing joins every child process *before* the atexit hook that would stop
    joblib's idle workers, so the run's process never exits and the server's runner waits for
    it forever (the hang seen after SIGTERM). Stopping them at the end of the flow avoids it.
    """
    from joblib.externals.loky import reusable_executor

    executor = reusable_executor._executor
    if executor is not None:
        executor.shutdown(wait=True)


def prefect_settings(config: RunConfig) -> dict[Any, Any]:
    """Prefect settings for running the flow: result cache folder; no heartbeats when local.

    A run on Prefect's temporary local server has nobody to watch its heartbeats, and stopping
    the heartbeat thread costs a second at the end of every run.
    """
    settings: dict[Any, Any] = {PREFECT_RESULTS_LOCAL_STORAGE_PATH: cache_dir(config)}
    if get_current_settings().api.url is None:
        settings[PREFECT_FLOWS_HEARTBEAT_FREQUENCY] = None
    return settings


def run_pipeline(config: RunConfig, *, log: Callable[[str], None] = print) -> RunResult:
    """Run the main job for one reporter (the ``forecast-exports`` flow).

    Args:
        config: The validated run configuration.
        log: Progress printer (``lambda _: None`` for quiet runs).

    Returns:
        The concentration history, where it was written and the run's ids.
    """
    api = get_current_settings().api.url
    started = time.perf_counter()
    log(
        f"forecast-exports {config.reporter}, years {config.years.start}-{config.years.end} asked "
        f"(config {config_hash(config)}, code {code_version()})"
    )
    log(
        f"  Prefect API {api}"
        if api
        else "  Prefect: temporary local server (set PREFECT_API_URL to use a running one)"
    )
    progress = _Progress(log)
    token = _PROGRESS.set(progress)
    try:
        updates = prefect_settings(config)
        if config.runner.kind == "dask" and api is None:
            # Dask worker processes must report to the same temporary server: without an
            # API URL each would start its own
            from prefect.server.api.server import SubprocessASGIServer
            from prefect.settings import PREFECT_API_URL

            server = SubprocessASGIServer()
            server.start()
            updates[PREFECT_API_URL] = server.api_url
        with temporary_settings(updates=updates):
            result = forecast_exports(config)
    finally:
        _PROGRESS.reset(token)
    n_cached = len(progress.cached)
    cached = f", {n_cached} stage{'s' * (n_cached != 1)} from cache" if n_cached else ""
    log(f"done in {time.perf_counter() - started:.1f} s{cached}")
    return replace(result, cached=tuple(progress.cached), stages=tuple(progress.stages))


if __name__ == "__main__":
    forecast_exports(load_config())
