"""The commands that read the MLflow store: ``exportcast report``, ``runs`` and ``ui`` (registered in flows/cli.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from exportcast.features.errors import ExportcastError
from exportcast.flows.console import (
    ConfigOpt,
    SetOpt,
    console,
    fail,
    load_run_config,
    quiet_libraries,
)

__all__ = ["report", "runs", "runs_table", "ui"]


def report(
    config: ConfigOpt = None,
    set_: SetOpt = None,
    run_id: Annotated[
        str | None,
        typer.Option(
            "--run-id", help="MLflow run to re-report (default: the newest with a report)."
        ),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Folder for the files (default outputs/<reporter>/report)."),
    ] = None,
    pdf: Annotated[bool, typer.Option("--pdf/--no-pdf", help="Also print the PDF.")] = True,
) -> None:
    """Rebuild the HTML/PDF/XLSX report of a past run from what its MLflow run logged.

    The files are written to --out and attached to that run again (artifacts report/).
    """
    cfg = load_run_config(config, set_, scenarios=False)
    quiet_libraries("WARNING")
    from exportcast.flows.io import project_path
    from exportcast.flows.report import report_from_run
    from exportcast.flows.tracking_store import resolve_store

    log = lambda m: console.print(m, highlight=False, soft_wrap=True)  # noqa: E731
    try:
        store = resolve_store(cfg.tracking.uri, cfg.tracking.artifacts)
        outcome = report_from_run(
            store,
            cfg.tracking.experiment.format(reporter=cfg.reporter),
            run_id=run_id,
            out_dir=out,
            output_root=project_path(cfg.output.dir),
            pdf=pdf,
            log=log,
        )
    except ExportcastError as exc:
        fail(str(exc))
    for path in (outcome.html, outcome.pdf, outcome.xlsx):
        if path is not None:
            console.print(f"wrote {path}", highlight=False)


def runs(
    config: ConfigOpt = None,
    set_: SetOpt = None,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, help="Show this many runs.")] = 10,
) -> None:
    """List recent MLflow runs of the reporter's experiment (newest first)."""
    cfg = load_run_config(config, set_, scenarios=False)
    quiet_libraries("WARNING")
    from exportcast.flows.tracking_runs import recent_runs
    from exportcast.flows.tracking_store import TrackingError, resolve_store

    experiment = cfg.tracking.experiment.format(reporter=cfg.reporter)
    try:
        store = resolve_store(cfg.tracking.uri, cfg.tracking.artifacts)
        found = recent_runs(store, experiment, limit)
    except TrackingError as exc:
        fail(str(exc))
    if not found:
        console.print(f"no runs yet in experiment {experiment} ({store.display})", highlight=False)
        return
    console.print(runs_table(found, f"MLflow runs of {experiment}", store.display))


def _share_cell(share: float | None, year: Any) -> str:
    if share is None:
        return ""
    return f"{100 * share:.1f} %" + (f" {year}" if year else "")


def runs_table(found: list[dict[str, Any]], title: str, caption: str) -> Table:
    """One line per run, 76 characters wide: fits an 80-column terminal.

    Run id, vintage and config hash are cut to 8 characters, as the MLflow UI shows run ids
    (a prefix is enough to find a run there; ``exportcast report --run-id`` needs the whole id,
    which MLflow's UI and ``run.json`` give).
    """
    table = Table(
        title=title,
        caption=caption,
        box=None,
        header_style="bold underline",
        pad_edge=False,
        padding=(0, 1, 0, 0),
    )
    for name in ("run", "start", "status", "vintage", "config"):
        table.add_column(name, no_wrap=True)
    table.add_column("dependence", justify="right", no_wrap=True)
    table.add_column("forecast", justify="right", no_wrap=True)
    for r in found:
        table.add_row(
            r["run_id"][:8],
            r["start"].strftime("%Y-%m-%d %H:%M"),
            r["status"],
            (r["data_vintage"] or "")[:8],
            (r["config_hash"] or "")[:8],
            _share_cell(r["dependence_share"], r["last_year"]),
            _share_cell(r["dependence_forecast"], r["forecast_year"]),
        )
    return table


def ui(
    config: ConfigOpt = None,
    set_: SetOpt = None,
    host: Annotated[
        str, typer.Option("--host", help="Interface to listen on (127.0.0.1: this machine only).")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", "-p", help="Port to listen on.")] = 5000,
) -> None:
    """Serve the MLflow UI for the tracking store (`mlflow server` on --host:--port; Ctrl-C stops).

    Uses the store `exportcast run` writes to: tracking.uri, else MLFLOW_TRACKING_URI, else
    sqlite:///<project>/mlruns/mlflow.db.
    """
    cfg = load_run_config(config, set_, scenarios=False)
    from exportcast.flows.tracking_store import TrackingError, resolve_store
    from exportcast.flows.tracking_ui import run_ui_server

    try:
        store = resolve_store(cfg.tracking.uri, cfg.tracking.artifacts)
        if store.db_path is None:
            raise TrackingError(
                f"the tracking store {store.display} is an MLflow server already; "
                "open it in a browser"
            )
    except TrackingError as exc:
        fail(str(exc))
    console.print(
        f"MLflow UI for {store.display} on http://{host}:{port} (Ctrl-C to stop)", highlight=False
    )
    raise typer.Exit(code=run_ui_server(store, host=host, port=port))
