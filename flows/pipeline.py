"""The main job: snapshot -> trade panel -> concentration indices -> output folder.

Read top to bottom, this is the pipeline picture in DESIGN.md. Later stages (features,
backtests, forecasts, MLflow, report) slot in between ``build_panel`` and ``write_outputs``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from configs import RunConfig, config_hash
from features.concentration import concentration_index
from features.panel import build_trade_panel
from flows.io import atomic_write, project_path, write_csv
from flows.snapshot import Snapshot, build_snapshot, load_snapshot

__all__ = ["RunResult", "run_pipeline"]

CONCENTRATION_COLUMNS = [
    "reporter", "year", "kind", "hhi", "hhi_norm", "n_effective", "cr1", "cr3", "cr5", "theil",
    "n_partners",
]  # fmt: skip


@dataclass(frozen=True)
class RunResult:
    """What a run produced."""

    concentration: pd.DataFrame
    output_dir: Path
    vintage: str
    config_hash: str


def load_data(config: RunConfig, log: Callable[[str], None]) -> Snapshot:
    """Load the embedded snapshot (or rebuild it from raw files first when asked)."""
    folder = project_path(config.data.snapshot_dir)
    if config.data.source == "raw":
        assert config.data.raw_dir is not None  # guaranteed by the schema
        build_snapshot(config.data.raw_dir, folder, log=log)
    return load_snapshot(folder, ["kor_exports", "countries"])


def build_panel(snapshot: Snapshot, config: RunConfig) -> pd.DataFrame:
    """The validated reporter panel for the configured years."""
    exports = snapshot["kor_exports"]
    return build_trade_panel(
        exports,
        reporter=config.reporter,
        start=config.years.start,
        end=config.years.end,
        name="data/snapshot/kor_exports.parquet",
    )


def compute_concentration(panel: pd.DataFrame, config: RunConfig) -> pd.DataFrame:
    """History of concentration and dependence indices, in the output contract's columns."""
    idx = concentration_index(panel, dependence_set=config.dependence_set)
    shares = [f"share_{c}" for c in config.dependence_set]
    idx = idx.assign(kind="history", n_partners=idx["n_partners"].astype("int64"))
    return idx[[*CONCENTRATION_COLUMNS, *shares, "dependence_share"]]


def write_outputs(concentration: pd.DataFrame, config: RunConfig, vintage: str, chash: str) -> Path:
    """Write ``<output.dir>/<reporter>/concentration.csv`` and ``run.json`` atomically."""
    folder = Path(config.output.dir) / config.reporter
    table = concentration.assign(data_vintage=vintage)
    write_csv(table, folder / "concentration.csv", float_format="%.10g")
    meta = {
        "reporter": config.reporter,
        "data_vintage": vintage,
        "config_hash": chash,
        "config": config.model_dump(mode="json"),
        "files": ["concentration.csv"],
    }
    text = json.dumps(meta, indent=2, sort_keys=True) + "\n"
    atomic_write(folder / "run.json", lambda p: p.write_text(text, encoding="utf-8"))
    return folder


def run_pipeline(config: RunConfig, *, log: Callable[[str], None] = print) -> RunResult:
    """Run the main job for one reporter.

    Args:
        config: The validated run configuration.
        log: Progress printer (``lambda _: None`` for quiet runs).

    Returns:
        The concentration history and where it was written.
    """
    chash = config_hash(config)
    log(f"[1/4] loading data ({config.data.source}: {config.data.snapshot_dir})")
    snapshot = load_data(config, log)
    log(f"[2/4] building the {config.reporter} trade panel {config.years.start}-{config.years.end}")
    panel = build_panel(snapshot, config)
    log(f"      {panel['partner'].nunique()} partners, {len(panel):,} partner-years")
    log("[3/4] computing concentration and dependence indices")
    concentration = compute_concentration(panel, config)
    log(f"[4/4] writing outputs to {Path(config.output.dir) / config.reporter}")
    folder = write_outputs(concentration, config, snapshot.vintage, chash)
    return RunResult(concentration, folder, snapshot.vintage, chash)
