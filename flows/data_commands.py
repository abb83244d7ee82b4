"""The ``exportcast update`` and ``exportcast vintages`` commands (registered in flows/cli.py)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from exportcast.features.errors import ExportcastError
from exportcast.flows.console import ConfigOpt, SetOpt, console, fail

if TYPE_CHECKING:  # configs (pydantic) is imported when a command runs, not by --help
    from exportcast.configs import RunConfig

__all__ = ["update", "vintages"]

_fail = fail


def _load(config: Path | None, set_: list[str] | None) -> RunConfig:
    from exportcast.configs import ConfigError, load_config

    try:
        return load_config(config, set_ or [], scenarios=False)
    except ConfigError as exc:
        _fail(str(exc))


def _say(message: str) -> None:
    console.print(message, highlight=False, soft_wrap=True)


def vintages(config: ConfigOpt = None, set_: SetOpt = None) -> None:
    """List the data vintages: the embedded snapshot and the store's (data.vintages_dir)."""
    from exportcast.flows.vintages import list_vintages, store_dir

    cfg = _load(config, set_)
    try:
        found = list_vintages(cfg.data.vintages_dir, cfg.data.snapshot_dir)
    except ExportcastError as exc:
        _fail(str(exc))
    table = Table(title="data vintages", caption=str(store_dir(cfg.data.vintages_dir)))
    for name in ("id", "created", "sources", "years", "active"):
        table.add_column(name, no_wrap=name != "sources")
    for v in found:
        short = {"kor_exports": "KOR", "dots_exports": "all"}
        years = "\n".join(f"{short[k]} {y[0]}-{y[1]}" for k, y in v.years.items() if k in short)
        pinned = cfg.data.vintage == v.id
        mark = "active" if v.active else ""
        if pinned:
            mark = (mark + " pinned").strip()
        table.add_row(
            v.id + (" (embedded)" if v.embedded else ""),
            v.created[:16],
            ", ".join(v.sources),
            years,
            mark,
        )
    console.print(table)


def update(
    config: ConfigOpt = None,
    set_: SetOpt = None,
    fetch: Annotated[
        list[str] | None,
        typer.Option(
            "--fetch",
            help="Also fetch a source over the network: imts, comtrade, kosis, wdi (repeatable). "
            "Keys come from COMTRADE_API_KEY / KOSIS_API_KEY.",
        ),
    ] = None,
    years: Annotated[
        str | None,
        typer.Option(
            "--years", help="Years to fetch, e.g. 2023-2025 (default: the 3 years before this one)."
        ),
    ] = None,
) -> None:
    """Make a new data vintage from the inbox (data/inbox) and --fetch sources.

    Every check must pass before the new vintage becomes active; a failed release goes to
    data.quarantine_dir with reason.txt and the command exits with code 2.
    """
    from exportcast.flows.update import run_update

    cfg = _load(config, set_)
    fetched = []
    if fetch:
        from exportcast.flows.connectors import ConnectorError, fetch_sources
        from exportcast.flows.update import country_names

        try:
            names = country_names(cfg.data)
            fetched = fetch_sources(
                fetch, reporter=cfg.reporter, years=years, names=names, log=_say
            )
        except (ConnectorError, ExportcastError) as exc:
            _fail(f"{exc}; no vintage was made, the active one is unchanged")
    outcome = run_update(cfg.data, fetched=fetched, log=_say)
    for line in outcome.lines:
        _say(line)
    if outcome.exit_code:
        _fail(outcome.message)
    _say(outcome.message)
    if outcome.status == "new":
        _years_hint(cfg, outcome.active)


def _years_hint(cfg: RunConfig, vintage: str) -> None:
    """Say when the new vintage has years after the config's years.end (runs would skip them)."""
    from exportcast.flows.snapshot import read_manifest
    from exportcast.flows.vintages import resolve_vintage

    _, folder = resolve_vintage(vintage, cfg.data.vintages_dir, cfg.data.snapshot_dir)
    table = "kor_exports" if cfg.reporter == "KOR" else "dots_exports"
    years = read_manifest(folder)["tables"][table].get("years")
    if years and years[1] > cfg.years.end:
        _say(
            f"the new vintage has {table} to {years[1]}; runs use years to years.end = "
            f"{cfg.years.end}: run with --set years.end={years[1]} to forecast from {years[1]}"
        )
