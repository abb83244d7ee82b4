"""Every benchmark script still imports and parses its options.

Benchmarks are not run by the suite (minutes each), but they call the engine's public API; a
renamed or removed function must fail here, not months later in ``make bench``.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = sorted(
    f"{p.parent.name}/{p.name}"
    for folder in ("benchmarks", "research")
    for p in (ROOT / folder).glob("*.py")
    if folder == "benchmarks" or p.name.endswith("_probe.py")
)


def test_every_benchmark_is_listed():
    assert {
        "benchmarks/backtest.py",
        "benchmarks/index_coverage.py",
        "research/global_probe.py",
        "research/selection_probe.py",
    } <= set(SCRIPTS)


@pytest.mark.parametrize("script", SCRIPTS)
def test_benchmark_script_imports_and_prints_help(script):
    res = subprocess.run(
        [sys.executable, str(ROOT / script), "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert res.returncode == 0, res.stderr[-2000:]
    assert "usage:" in res.stdout


def test_oracle_row_is_the_origin_value_times_the_realised_total_growth():
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        from backtest import ORACLE, add_oracle_total
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    import pandas as pd

    series = pd.DataFrame(
        {
            "unique_id": ["a", "a", "a", "b", "b", "b"],
            "ds": [2000, 2001, 2002] * 2,
            "y": [10.0, 30.0, 20.0, 30.0, 10.0, 60.0],  # totals 40, 40, 80
        }
    )
    cv = pd.DataFrame({"unique_id": ["a", "b", "b"], "ds": [2002, 2001, 2002], "cutoff": 2000})
    got = add_oracle_total(cv, series)[ORACLE].tolist()
    assert got == [10.0 * 2, 30.0 * 1, 30.0 * 2]  # the shares at 2000 kept, the total known
