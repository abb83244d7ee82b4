"""Progress lines of a pipeline run: one line per stage with what it made and its wall seconds.

``run_pipeline`` sets :data:`PROGRESS` to the CLI's printer; tasks report through
:func:`report_stage` hooks (``on_completion``) and :func:`stage_log`. In a served run (no
printer) the lines go to the Prefect run log.
"""

import time
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from prefect.logging import get_run_logger

from exportcast.features.series import ForecastSeries
from exportcast.flows import tracking_store
from exportcast.flows.run_info import OutputFolder
from exportcast.flows.snapshot import Snapshot
from exportcast.models.engine import EngineResult
from exportcast.models.index_backtest import ALL, summarize_index_backtest
from exportcast.models.scenarios import ScenarioResult


@dataclass
class Progress:
    """A run's progress printer, the stages from cache and the seconds per stage."""

    log: Callable[[str], None]
    cached: list[str] = field(default_factory=list)
    # wall seconds per stage: the time since the previous stage line (stages run one after
    # the other in the flow's thread), so glue between tasks counts to the next stage
    stages: list[tuple[str, float, bool]] = field(default_factory=list)
    mark: float = field(default_factory=time.perf_counter)


def stage_line(name: str, text: str, *, cached: bool = False) -> None:
    """Print one stage's progress line with its wall seconds (Prefect's log in served runs)."""
    line = f"{name:<22} {text}" + ("  (cached)" if cached else "")
    progress = PROGRESS.get()
    if progress is None:  # a served run: the line goes to the Prefect run log
        get_run_logger().info(line)
        return
    now = time.perf_counter()
    seconds, progress.mark = now - progress.mark, now
    progress.stages.append((name, seconds, cached))
    progress.log(f"  {line}  [{seconds:.1f} s]")
    if cached:
        progress.cached.append(name.replace(" ", "_"))


def restart_clock() -> None:
    """Count the next stage's seconds from now."""
    progress = PROGRESS.get()
    if progress is not None:
        progress.mark = time.perf_counter()


PROGRESS: ContextVar[Progress | None] = ContextVar("exportcast_progress", default=None)


def stage_log() -> Callable[[str], None]:
    """Progress lines from inside a task: the CLI's printer, else the Prefect run log."""
    progress = PROGRESS.get()
    if progress is not None:
        return progress.log
    logger = get_run_logger()
    return lambda line: logger.info(line)


class ReportStage:
    """An ``on_completion`` hook printing the stage name, ``describe(result)`` and "cached".

    A class rather than a closure: served runs pickle the flow into a subprocess, and a
    closure would drag the progress ContextVar (not picklable) along.
    """

    def __init__(self, describe: Callable[[Any], str]) -> None:
        self.describe = describe

    def __call__(self, task: Any, task_run: Any, state: Any) -> None:
        """Print the finished task's progress line."""
        cached = state.name == "Cached"
        stage_line(task.name.replace("_", " "), self.describe(state.result()), cached=cached)


def report_stage(describe: Callable[[Any], str]) -> list[Callable[..., None]]:
    """The ``on_completion`` hooks of a task that prints its progress line."""
    return [ReportStage(describe)]


def describe_snapshot(snapshot: Snapshot) -> str:
    """Progress text of the loaded snapshot."""
    return f"{len(snapshot.tables)} tables, data vintage {snapshot.vintage}"


def describe_panel(panel: pd.DataFrame) -> str:
    """Progress text of the trade panel."""
    sources = ", ".join(sorted(panel["source"].astype(str).unique())) if len(panel) else "-"
    return (
        f"{panel['partner'].nunique()} partners, {len(panel):,} partner-years "
        f"{int(panel['year'].min())}-{int(panel['year'].max())} (source: {sources})"
    )


def describe_concentration(conc: pd.DataFrame) -> str:
    """Progress text of the index history."""
    last = conc.iloc[-1]
    return (
        f"{len(conc)} years {int(conc['year'].min())}-{int(last['year'])}; "
        f"dependence share {last['dependence_share']:.1%} in {int(last['year'])}"
    )


def describe_record(record: tracking_store.RunRecord) -> str:
    """Progress text of the MLflow run record."""
    return f"MLflow run {record.run_id} in {record.experiment} ({record.uri})"


def describe_folder(out: OutputFolder) -> str:
    """Progress text of the written output folder."""
    line = f"{out.path}: {', '.join(sorted(f for f in out.files if f.endswith('.csv')))}, run.json"
    if out.removed:
        names = ", ".join(p.name for p in out.removed)
        line += (
            f"; removed {len(out.removed)} file(s) an earlier run had left there ({names}; "
            "its MLflow run keeps them)"
        )
    return line


def describe_series(fs: ForecastSeries) -> str:
    """Progress text of the partner series."""
    return (
        f"{len(fs.partners)} partners modelled, the rest ({fs.n_partners - len(fs.partners)} "
        f"small partners) as one series; history to {fs.last_year}"
    )


def describe_engine(engine: EngineResult) -> str:
    """Progress text of the engine result: model, backtest score, coverage, fallbacks."""
    acc = engine.accuracy.set_index("model")
    sel = acc.loc["Selected"]
    cov = ", ".join(f"{k.split('-')[1]} % -> {v:.0%}" for k, v in engine.coverage.items())
    cutoffs = engine.choices["cutoff"]
    return (
        f"model {engine.model}; backtest (origins {int(cutoffs.min())}-{int(cutoffs.max())}) "
        f"relMASE vs naive {sel['relMASE']:.3f} "
        f"(weighted {sel.get('wrelMASE', float('nan')):.3f}); interval coverage {cov}; "
        f"{describe_fallbacks(engine.fallbacks)}"
    )


def describe_fallbacks(counts: pd.DataFrame) -> str:
    """How many fits fell back to Naive, per model and stage."""
    used = counts[counts["replaced"] > 0]
    if used.empty:
        return "no fallbacks"
    parts = ", ".join(
        f"{r.model} {r.replaced:,}/{r.fits:,} {r.stage} fits" for r in used.itertuples()
    )
    return f"fallback to Naive: {parts}"


def describe_scenarios(results: list[ScenarioResult]) -> str:
    """Progress text of the scenario results."""
    if not results:
        return "no scenarios"
    names = ", ".join(str(r.meta["name"]) for r in results)
    return f"{len(results)} scenario{'s' * (len(results) != 1)}: {names}"


def describe_forecast_conc(conc: pd.DataFrame) -> str:
    """Progress text of the index forecasts."""
    f = conc[conc["kind"] == "forecast"]
    if f.empty:
        return "no forecast"
    last = f.iloc[-1]
    return (
        f"dependence share {int(last['year'])}: {last['dependence_share']:.1%} "
        f"(80 % {last['dependence_share_lo_80']:.1%}-{last['dependence_share_hi_80']:.1%})"
    )


def describe_track_record(rows: pd.DataFrame) -> str:
    """Progress text of the FTA track record."""
    return f"{len(rows):,} agreement-partner-years scored ex ante"


def describe_opportunities(table: pd.DataFrame) -> str:
    """Progress text of the opportunity ranking."""
    ranked = int(table["rank"].notna().sum())
    apart = len(table) - ranked  # open ship registries (report.exclude_open_registries)
    return f"{ranked:,} partners ranked" + (f", {apart} open registries apart" if apart else "")


def describe_report(html: Path) -> str:
    """Progress text of the built report."""
    return f"{html.parent}: HTML, XLSX (and PDF when report.pdf)"


def describe_index_backtest(frame: pd.DataFrame) -> str:
    """Progress text of the index backtest."""
    summary = summarize_index_backtest(frame)
    if summary.empty:
        return "nothing to score (no backtest origin at which every dependence partner has a series of its own)"
    overall = summary.set_index("h").loc[ALL]
    return (
        f"dependence share, origins {int(frame['cutoff'].min())}-{int(frame['cutoff'].max())}: "
        f"missed by {overall['mae']:.2f} points on average, no change by "
        f"{overall['mae_no_change']:.2f}"
    )
