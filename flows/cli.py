"""The ``exportcast`` command line.

Prefect and MLflow are imported inside the commands, after their logging defaults are set:
Prefect and MLflow log only warnings unless ``--verbose`` (or ``PREFECT_LOGGING_LEVEL`` /
``MLFLOW_LOGGING_LEVEL`` in the environment) says otherwise.
"""

from __future__ import annotations

import contextlib
import signal
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from exportcast.features.errors import ExportcastError
from exportcast.flows.console import (
    ConfigOpt,
    SetOpt,
    console,
    err_console,
    fail,
    load_run_config,
    quiet_libraries,
)

if TYPE_CHECKING:
    import pandas as pd

    from exportcast.configs import RunConfig
    from exportcast.flows.run_info import RunResult

# pandas, configs (pydantic) and flows.io (pyarrow) are imported by the commands that use them:
# `exportcast --help` starts without them (issue 16). The names stay importable from here.
_LAZY = {
    "pd": ("pandas", None),
    "ConfigError": ("exportcast.configs", "ConfigError"),
    "RunConfig": ("exportcast.configs", "RunConfig"),
    "load_config": ("exportcast.configs", "load_config"),
    "project_path": ("exportcast.flows.io", "project_path"),
}


def __getattr__(name: str) -> Any:
    """The names this module imported eagerly before issue 16 (``flows.cli.load_config``...)."""
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    module, attr = _LAZY[name]
    found = importlib.import_module(module)
    return found if attr is None else getattr(found, attr)


app = typer.Typer(
    help="exportcast: forecast exports by partner and the dependence on China/US.",
    no_args_is_help=True,
    add_completion=False,
    # a bug prints its traceback (exit code 1), but never the local variables: they may hold
    # credentials (tracking passwords, API keys)
    pretty_exceptions_show_locals=False,
)
VerboseOpt = Annotated[
    bool, typer.Option("--verbose", "-v", help="Also show Prefect's and MLflow's own logs.")
]


_fail = fail


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM (systemd, cron's kill, a CI timeout) stops the job like Ctrl-C.

    The job's MLflow run then ends KILLED instead of staying RUNNING forever. Only in the main
    thread (signal handlers cannot be set elsewhere).
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _print_history(
    conc: pd.DataFrame, dependence_set: tuple[str, ...], rows: int, vintage: str
) -> None:
    import pandas as pd

    history = conc[conc["kind"] == "history"].tail(rows)
    forecast = conc[conc["kind"] == "forecast"]
    table = Table(
        title=f"{conc['reporter'].iloc[0]} export concentration (data vintage {vintage})",
        caption="forecast years: from the partner forecasts [80 % interval of the paths]"
        if len(forecast)
        else None,
    )
    table.add_column("year", justify="right")
    names = {"CHN": "China", "USA": "US"}
    for code in dependence_set:
        table.add_column(f"{names.get(code, code)} share", justify="right")
    label = " + ".join(names.get(c, c) for c in dependence_set)
    if len(dependence_set) > 1:
        table.add_column(label, justify="right")
    table.add_column("HHI", justify="right")
    table.add_column("effective partners", justify="right")

    def band(r: pd.Series, col: str, fmt: str, scale: float = 1.0) -> str:
        lo, hi = r.get(f"{col}_lo_80"), r.get(f"{col}_hi_80")
        if lo is None or pd.isna(lo):
            return ""
        return f" [{fmt.format(scale * lo)}-{fmt.format(scale * hi)}]"

    for kind, frame in (("history", history), ("forecast", forecast)):
        for _, r in frame.iterrows():
            year = str(int(r["year"])) + (" f" if kind == "forecast" else "")
            cells = [year]
            cells += [f"{100 * r[f'share_{c}']:.1f} %" for c in dependence_set]
            if len(dependence_set) > 1:
                cells.append(
                    f"{100 * r['dependence_share']:.1f} %"
                    + band(r, "dependence_share", "{:.1f}", 100)
                )
            cells += [
                f"{r['hhi']:.3f}",
                f"{r['n_effective']:.1f}",
            ]
            table.add_row(
                *cells,
                end_section=kind == "history" and len(forecast) > 0 and r.name == frame.index[-1],
            )
    console.print(table)


@app.command()
def run(
    config: ConfigOpt = None,
    set_: SetOpt = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only errors (for cron).")] = False,
    verbose: VerboseOpt = False,
) -> None:
    """Run the main job: data, panel, indices, MLflow run, outputs/<reporter>/ (a Prefect flow).

    Without PREFECT_API_URL, Prefect starts a temporary local server for the run (a few
    seconds). Heavy stages are cached in cache.dir (same data, config and code: reused).
    """
    server_ready = _prestart()  # before reading the config (0.5 s): the server is slower
    cfg = load_run_config(config, set_)
    result = _run(cfg, server_ready, quiet=quiet, verbose=verbose)
    if not quiet:
        _print_history(
            result.concentration, cfg.dependence_set, cfg.output.history_rows, result.vintage
        )
        console.print(f"wrote {result.output_dir / 'concentration.csv'}", highlight=False)
        _print_report_paths(result.output_dir, cfg)


def _prestart() -> Callable[[], str | None]:
    """Prefect's temporary server launched now (``flows.prefect_server.prestart``).

    Its start (about 3.8 s of its own imports and app) is the longest thing before a run's
    first stage, longer than this process's imports and config: the earlier it is launched,
    the earlier the run starts.
    """
    from exportcast.flows.prefect_server import prestart

    return prestart()


def _run(
    cfg: RunConfig, server_ready: Callable[[], str | None], *, quiet: bool, verbose: bool
) -> RunResult:
    # This command reports failures itself (one line, or a traceback for a bug), so Prefect's
    # own copies of them stay off the terminal unless --verbose; they still reach its API.
    quiet_libraries("INFO" if verbose else "WARNING", console_level=None if verbose else "CRITICAL")
    import httpx

    from exportcast.flows.fast_exit import skip_final_gc

    skip_final_gc()  # registered first: runs after every other exit hook (flows/fast_exit.py)

    # Prefect's temporary server (launched by the command) starts while the pipeline imports
    from exportcast.flows.pipeline import run_pipeline
    from exportcast.flows.prefetch import prefetch_data
    from exportcast.flows.tracking_store import preload

    preload(cfg.tracking.uri)  # MLflow too, if the server is still starting
    if cfg.forecast.enabled and cfg.report.enabled:  # and the report's stack (0.5 s)
        import exportcast.reports.build  # noqa: F401

    log = (
        (lambda _: None) if quiet else (lambda m: console.print(m, highlight=False, soft_wrap=True))
    )
    prefetch_data(cfg)  # the snapshot is read while the server starts (flows/prefetch.py)
    try:
        with _sigterm_as_interrupt():
            return run_pipeline(cfg, log=log, temporary_api=server_ready(), release_workers=True)
    except ExportcastError as exc:  # bad data, config or store: one line; a bug: traceback
        _fail(str(exc))
    except httpx.HTTPError as exc:
        _fail(f"cannot reach the Prefect API ({exc}); check PREFECT_API_URL or unset it")


def _print_report_paths(folder: Path, cfg: RunConfig) -> None:
    report = folder / "report"
    if cfg.forecast.enabled and cfg.report.enabled and report.is_dir():
        for path in sorted(report.glob("exportcast-report-*")):
            console.print(f"wrote {path}", highlight=False)


@app.command()
def scenario(
    file: Annotated[Path, typer.Argument(help="Scenario YAML (see configs/scenarios/).")],
    config: ConfigOpt = None,
    set_: SetOpt = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only errors.")] = False,
    verbose: VerboseOpt = False,
) -> None:
    """Run one scenario against the baseline: the main job with scenarios = [FILE].

    Prints the scenario's effect on the dependence share, HHI and effective partners (median
    and bands of scenario minus baseline over the joint sample paths) and on the partner's
    exports; everything else (MLflow nested run, report) is as in `exportcast run`.
    """
    import pandas as pd

    from exportcast.configs import ConfigError, load_scenario

    try:
        spec = load_scenario(file)
    except ConfigError as exc:
        _fail(str(exc))
    server_ready = _prestart()
    cfg = load_run_config(config, [*(set_ or []), f"scenarios=[{file.resolve()}]"])
    if not cfg.forecast.enabled:
        _fail("a scenario needs forecasts: forecast.enabled is false")
    result = _run(cfg, server_ready, quiet=quiet, verbose=verbose)
    if quiet:
        return
    folder = result.output_dir
    _print_scenario(
        spec.name,
        pd.read_csv(folder / "scenario_indices.csv"),
        pd.read_csv(folder / "scenario_partners.csv"),
        cfg.forecast.levels,
    )
    _print_report_paths(folder, cfg)


def _print_scenario(
    name: str, indices: pd.DataFrame, partners: pd.DataFrame, levels: tuple[int, ...]
) -> None:
    import pandas as pd

    lv = min(levels)
    idx = indices[indices["scenario"] == name]
    labels = {"dependence_share": ("dependence share", 100, "pp"), "hhi": ("HHI", 1e4, "pts"),
              "n_effective": ("effective partners", 1, "")}  # fmt: skip
    table = Table(
        title=f"scenario {name}: effect vs baseline (index of the point forecasts, {lv} % band "
        "of the paths)"
    )
    table.add_column("index")
    table.add_column("year", justify="right")
    for col in ("baseline", "scenario", "scenario - baseline"):
        table.add_column(col, justify="right")
    for r in idx.sort_values(["index", "year"]).itertuples():
        label, scale, unit = labels.get(r.index, (r.index, 1, ""))
        d = f"{scale * r.diff_point:+.2f} [{scale * getattr(r, f'diff_lo_{lv}'):+.2f}, {scale * getattr(r, f'diff_hi_{lv}'):+.2f}] {unit}"
        table.add_row(label, str(r.year), f"{scale * r.baseline_point:.2f}",
                      f"{scale * r.scenario_point:.2f}", d)  # fmt: skip
    console.print(table)
    rows = partners[partners["scenario"] == name]
    table = Table(title=f"scenario {name}: partner exports (USD million)")
    for col in ("partner", "year", "baseline", "scenario", "effect", "actual"):
        table.add_column(col, justify="left" if col == "partner" else "right")
    for r in rows.sort_values(["partner", "year"]).itertuples():
        effect = f"{r.ppml_effect_pct:+.1f} % [{getattr(r, f'effect_lo_{lv}'):+.1f}, {getattr(r, f'effect_hi_{lv}'):+.1f}]"
        actual = "" if pd.isna(r.actual) else f"{r.actual / 1e6:,.0f}"
        table.add_row(r.partner, str(r.year), f"{r.baseline_mean / 1e6:,.0f}",
                      f"{r.scenario_mean / 1e6:,.0f}", effect, actual)  # fmt: skip
    console.print(table)


from exportcast.flows.cli_tracking import report, runs, ui  # noqa: E402 (the MLflow store's commands)

app.command()(report)
app.command()(runs)
app.command()(ui)


@app.command()
def serve(
    config: ConfigOpt = None,
    set_: SetOpt = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only warnings and errors.")] = False,
) -> None:
    """Register the scheduled deployment on the Prefect server at PREFECT_API_URL and run it.

    The deployment is forecast-exports/<reporter> with schedule.cron in schedule.timezone and
    this config as its parameter; each run first updates the data from data.inbox_dir
    (update-data), then runs the main job. Runs execute here, one at a time, until Ctrl-C or SIGTERM.
    Start a server first: prefect server start --host 127.0.0.1.
    """
    cfg = load_run_config(config, set_)
    quiet_libraries("WARNING" if quiet else "INFO")
    from exportcast.flows.serve import ServeError, serve_forecasts

    log = (
        (lambda _: None) if quiet else (lambda m: console.print(m, highlight=False, soft_wrap=True))
    )
    try:
        serve_forecasts(cfg, log=log)
    except ServeError as exc:
        _fail(str(exc))


@app.command()
def snapshot(
    raw: Annotated[Path, typer.Option("--raw", help="Upstream raw folder (shared/data/raw).")],
    out: Annotated[Path, typer.Option("--out", help="Snapshot folder to write.")] = Path(
        "data/snapshot"
    ),
    check: Annotated[
        bool,
        typer.Option(
            "--check", help="Rebuild into a temporary folder and compare with --out; write nothing."
        ),
    ] = False,
) -> None:
    """Build the embedded data snapshot from the upstream raw files (deterministic)."""
    from exportcast.flows.snapshot import build_snapshot, compare_snapshots, read_manifest

    log = lambda m: console.print(m, highlight=False)  # noqa: E731
    try:
        if check:
            expected = read_manifest(out)
            with tempfile.TemporaryDirectory() as tmp:
                actual = build_snapshot(raw, tmp, log=log)
            problems = compare_snapshots(expected, actual)
            if problems:
                for p in problems:
                    err_console.print(f"  {p}", highlight=False)
                _fail(f"rebuilt snapshot differs from {out} ({len(problems)} differences)")
            console.print(f"snapshot in {out} reproduced exactly (vintage {actual['vintage']})")
        else:
            build_snapshot(raw, out, log=log)
    except ExportcastError as exc:
        _fail(str(exc))


from exportcast.flows.data_commands import update, vintages  # noqa: E402 (new data, docs/data-updates.md)

app.command()(update)
app.command()(vintages)


def main() -> None:  # pragma: no cover - ``python -m exportcast.flows.cli``
    """Entry point: as the ``exportcast`` command (a fixed hash seed first, flows/entry.py)."""
    from exportcast.flows.entry import main as entry

    entry()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
