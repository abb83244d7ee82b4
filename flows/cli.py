"""The ``exportcast`` command line."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer
from rich.console import Console
from rich.table import Table

from configs import ConfigError, load_config
from features.sources._common import SourceError

app = typer.Typer(
    help="exportcast: forecast exports by partner and the dependence on China/US.",
    no_args_is_help=True,
    add_completion=False,
)
console = Console()
err_console = Console(stderr=True)

ConfigOpt = Annotated[
    Path | None,
    typer.Option(
        "--config", "-c", help="Run config YAML (default: the packaged configs/default.yaml)."
    ),
]
SetOpt = Annotated[
    list[str] | None,
    typer.Option("--set", "-s", help="Override a config key, e.g. --set horizon=3 (repeatable)."),
]


def _fail(message: str) -> None:
    err_console.print(f"[bold red]error:[/] {message}", highlight=False)
    raise typer.Exit(code=2)


def _print_history(
    conc: pd.DataFrame, dependence_set: tuple[str, ...], rows: int, vintage: str
) -> None:
    table = Table(title=f"{conc['reporter'].iloc[0]} export concentration (data vintage {vintage})")
    table.add_column("year", justify="right")
    names = {"CHN": "China", "USA": "US"}
    for code in dependence_set:
        table.add_column(f"{names.get(code, code)} share", justify="right")
    label = " + ".join(names.get(c, c) for c in dependence_set)
    if len(dependence_set) > 1:
        table.add_column(label, justify="right")
    table.add_column("HHI", justify="right")
    table.add_column("effective partners", justify="right")
    for _, r in conc.tail(rows).iterrows():
        cells = [str(int(r["year"]))]
        cells += [f"{100 * r[f'share_{c}']:.1f} %" for c in dependence_set]
        if len(dependence_set) > 1:
            cells.append(f"{100 * r['dependence_share']:.1f} %")
        cells += [f"{r['hhi']:.3f}", f"{r['n_effective']:.1f}"]
        table.add_row(*cells)
    console.print(table)


@app.command()
def run(
    config: ConfigOpt = None,
    set_: SetOpt = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only errors (for cron).")] = False,
) -> None:
    """Run the main job: load data, build the panel, compute indices, write outputs."""
    from flows.pipeline import run_pipeline

    try:
        cfg = load_config(config, set_ or [])
    except ConfigError as exc:
        _fail(str(exc))
    log = (lambda _: None) if quiet else (lambda m: console.print(m, highlight=False))
    try:
        result = run_pipeline(cfg, log=log)
    except (SourceError, FileNotFoundError) as exc:
        _fail(str(exc))
    except RuntimeError as exc:  # SnapshotError and friends
        _fail(str(exc))
    if not quiet:
        _print_history(
            result.concentration, cfg.dependence_set, cfg.output.history_rows, result.vintage
        )
        console.print(f"wrote {result.output_dir / 'concentration.csv'}", highlight=False)


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
    from flows.snapshot import SnapshotError, build_snapshot, compare_snapshots, read_manifest

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
    except (SourceError, SnapshotError) as exc:
        _fail(str(exc))


def main() -> None:  # pragma: no cover - console entry point alias
    """Entry point."""
    app(prog_name="exportcast")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
