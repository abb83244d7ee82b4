"""Shared fixtures: where the real upstream data lives, and tiny synthetic panels."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]
BAD = ROOT / "tests" / "data" / "bad"


def _raw_dir() -> Path:
    return Path(os.environ.get("EXPORTCAST_RAW", ROOT.parent / "shared" / "data" / "raw"))


@pytest.fixture(scope="session")
def raw() -> Path:
    """The real upstream files (../shared/data/raw). Tests using it are marked ``rawdata``."""
    path = _raw_dir()
    if not (path / "SOURCES.md").is_file():
        pytest.skip(f"real upstream data not found at {path} (set EXPORTCAST_RAW)")
    return path


@pytest.fixture
def bad() -> Path:
    """Folder of small hand-made bad inputs, one sub-folder per adapter."""
    return BAD


def make_panel(n_series: int = 4, n_years: int = 20, seed: int = 0) -> pd.DataFrame:
    """A tiny synthetic long frame ``unique_id, ds, y`` of positive annual series."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n_series):
        level = 100.0 * (i + 1)
        growth = rng.normal(0.03, 0.08, n_years).cumsum()
        y = level * np.exp(growth)
        rows.append(
            pd.DataFrame({"unique_id": f"S{i}", "ds": np.arange(2000, 2000 + n_years), "y": y})
        )
    return pd.concat(rows, ignore_index=True)


@pytest.fixture
def panel() -> pd.DataFrame:
    return make_panel()
