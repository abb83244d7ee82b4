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
SCRIPTS = sorted(p.name for p in (ROOT / "benchmarks").glob("*.py"))


def test_every_benchmark_is_listed():
    assert {"backtest.py", "global_probe.py", "index_coverage.py", "selection_probe.py"} <= set(
        SCRIPTS
    )


@pytest.mark.parametrize("script", SCRIPTS)
def test_benchmark_script_imports_and_prints_help(script):
    res = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / script), "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert res.returncode == 0, res.stderr[-2000:]
    assert "usage:" in res.stdout
