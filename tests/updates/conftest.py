"""Fixtures for the data-update tests: a temporary vintage store, inbox and quarantine.

The embedded snapshot (data/snapshot) is read, never written; everything else lives in tmp.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest

from exportcast.flows.io import CODE_ROOT

SNAPSHOT = CODE_ROOT / "data" / "snapshot"
FIXTURES = CODE_ROOT / "tests" / "data" / "fixtures" / "api"


@pytest.fixture
def data_cfg(tmp_path: Path) -> SimpleNamespace:
    """A ``data`` config section pointing at tmp folders (and the real embedded snapshot)."""
    cfg = SimpleNamespace(
        source="snapshot",
        snapshot_dir=SNAPSHOT,
        vintage=None,
        vintages_dir=tmp_path / "vintages",
        inbox_dir=tmp_path / "inbox",
        quarantine_dir=tmp_path / "quarantine",
    )
    cfg.inbox_dir.mkdir()
    return cfg


@pytest.fixture(scope="session")
def kor_2023() -> pd.DataFrame:
    """Korea's exports by partner in 2023 from the embedded snapshot."""
    df = pd.read_parquet(SNAPSHOT / "kor_exports.parquet")
    return df.loc[df["year"] == 2023].reset_index(drop=True)


def long_file(path: Path, rows: pd.DataFrame, total: float | None = None) -> Path:
    """Write a long-format inbox file (optionally with a WLD total row)."""
    out = rows[["reporter", "partner", "year", "export_usd"]].copy()
    if total is not None:
        year = int(out["year"].iloc[0])
        out = pd.concat(
            [out, pd.DataFrame([{"reporter": "KOR", "partner": "WLD", "year": year,
                                 "export_usd": total}])],
            ignore_index=True,
        )  # fmt: skip
    out.to_csv(path, index=False)
    return path
