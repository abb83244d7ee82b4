"""A user-supplied trade panel file (CSV or Parquet) in the project's panel contract.

Columns: ``reporter, partner, year, export_usd`` (USD units) and optionally ``source``. Lets an
analyst run the pipeline on another reporter's data without writing an adapter.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from exportcast.features.panel import validate_trade_panel
from exportcast.features.sources._common import Loaded, SourceError, read_table

__all__ = ["load_trade_panel_file"]


def load_trade_panel_file(
    path: str | Path,
    *,
    start: int | None = None,
    end: int | None = None,
    reference_totals: pd.DataFrame | None = None,
) -> Loaded:
    """Read and validate a panel file.

    Args:
        path: ``.csv`` (optionally ``.gz``) or ``.parquet`` file.
        start: First allowed year.
        end: Last allowed year.
        reference_totals: Optional ``reporter, year, total_usd`` for the unit check.

    Returns:
        The validated panel.

    Raises:
        SourceError: Naming the file, row (line number for CSV) and column of the first problem.
    """
    path = Path(path)
    if path.suffix == ".parquet":
        if not path.is_file():
            raise SourceError(path, "file not found")
        df = pd.read_parquet(path)
    else:
        df = read_table(path, ["reporter", "partner", "year", "export_usd"])
    panel = validate_trade_panel(
        df, name=str(path), start=start, end=end, reference_totals=reference_totals
    )
    return Loaded(frame=panel, path=str(path))
