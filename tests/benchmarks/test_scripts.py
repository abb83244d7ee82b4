"""Every benchmark script still imports and parses its options.

Benchmarks are not run by the suite (minutes each), but they call the engine's public API; a
renamed or removed function must fail here, not months later in ``make bench``.
"""

from __future__ import annotations

import ast
import importlib
import json
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


# The pieces the engine call is assembled from: a benchmark that imports one builds its own
# engine instead of timing or scoring the product's (models.engine_call, the flow's tasks).
ENGINE_PARTS = {
    "add_ensemble",
    "add_panel_backtests",
    "cross_validate",
    "cross_validate_by_origin",
    "engine_origins",
    "finish_engine",
    "forecast_panel",
    "rolling_select",
    "run_engine",
    "window_error_paths",
}


def test_no_benchmark_assembles_its_own_engine_call():
    own = {}
    for path in sorted((ROOT / "benchmarks").glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        names = {
            alias.name
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("exportcast")
            for alias in node.names
        }
        if names & ENGINE_PARTS:
            own[path.name] = sorted(names & ENGINE_PARTS)
    assert own == {}, f"benchmarks building their own engine call (move probes to research/): {own}"


def test_every_benchmark_is_listed():
    assert {
        "benchmarks/backtest.py",
        "benchmarks/reporter_sweep.py",
        "research/demand_probe.py",
        "research/global_probe.py",
        "research/index_coverage_probe.py",
        "research/selection_probe.py",
    } <= set(SCRIPTS)


# One interpreter imports the heavy libraries the scripts share, once, then forks a child per
# script that runs it as `python <script> --help` does (as __main__, its folder first on
# sys.path): each script still starts from its own clean module state, but 16 interpreters no
# longer import pandas, statsmodels and scikit-learn 16 times (about 4 s each).
RUNNER = r"""
import json, os, runpy, sys, tempfile, traceback
import numpy, pandas, scipy.stats, sklearn.linear_model, statsmodels.api  # shared, once
root, scripts = sys.argv[1], json.loads(sys.argv[2])
base = [p for p in sys.path if p not in ("", os.getcwd())]
results = {}
for script in scripts:
    out, err = tempfile.TemporaryFile(), tempfile.TemporaryFile()
    sys.stdout.flush(); sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        os.dup2(out.fileno(), 1); os.dup2(err.fileno(), 2)
        path = os.path.join(root, script)
        sys.argv, sys.path[:] = [path, "--help"], [os.path.dirname(path), *base]
        code = 0
        try:
            runpy.run_path(path, run_name="__main__")
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else int(exc.code is not None)
        except BaseException:
            traceback.print_exc()
            code = 1
        sys.stdout.flush(); sys.stderr.flush()
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    out.seek(0); err.seek(0)
    results[script] = [os.waitstatus_to_exitcode(status), out.read().decode(), err.read().decode()]
print(json.dumps(results))
"""


@pytest.fixture(scope="module")
def helps() -> dict[str, list]:
    """``[exit code, stdout, stderr]`` of ``<script> --help``, for every script."""
    res = subprocess.run(
        [sys.executable, "-c", RUNNER, str(ROOT), json.dumps(SCRIPTS)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert res.returncode == 0, res.stderr[-2000:]
    return json.loads(res.stdout)


@pytest.mark.parametrize("script", SCRIPTS)
def test_benchmark_script_imports_and_prints_help(script, helps):
    code, out, err = helps[script]
    assert code == 0, err[-2000:]
    assert "usage:" in out


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


def _script(name: str):
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        return importlib.import_module(name)
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))


class _Called(Exception):
    """Stops the engine once the call it got is recorded."""


def _record_engine_call(monkeypatch) -> list[dict]:
    """Make the product's engine record its call (series and arguments) and stop."""
    import exportcast.models.engine_call as engine_call

    calls: list[dict] = []

    def record(series, **kwargs):
        calls.append({"series": series, **kwargs})
        raise _Called

    monkeypatch.setattr(engine_call, "run_engine", record)
    return calls


def _assert_same_call(got: dict, expected: dict) -> None:
    import pandas as pd

    assert set(got) == set(expected)
    for key, want in expected.items():
        if isinstance(want, pd.Series | pd.DataFrame):
            assert want.equals(got[key]), key
        elif isinstance(want, range):
            assert list(got[key]) == list(want), key
        else:
            assert got[key] == want, key


def test_backtest_benchmark_makes_the_products_engine_call(monkeypatch):
    from exportcast.configs import load_config
    from exportcast.models.engine_call import engine_args

    backtest = _script("backtest")
    calls = _record_engine_call(monkeypatch)
    series = backtest.load_series()
    with pytest.raises(_Called):
        backtest.run_ours(series, n_jobs=1)
    (call,) = calls
    config = load_config(ROOT / "configs" / "default.yaml")
    expected = engine_args(series, config.forecast.model_dump(mode="json"), config.horizon)
    assert call.pop("series").equals(series)
    assert call.pop("n_jobs") == 1
    _assert_same_call(call, expected)
    # a reference row varies the candidates only
    with pytest.raises(_Called):
        backtest.add_reference(series, series, ["DampedETS"], n_jobs=1)
    reference = calls[-1]
    assert reference.pop("series").equals(series)
    assert reference.pop("models") == ["DampedETS"]
    same = {k: v for k, v in call.items() if k != "models"} | {"n_jobs": 1}
    _assert_same_call(reference, same)


def test_split_rescore_benchmark_makes_the_products_engine_call(monkeypatch):
    from exportcast.configs import load_config
    from exportcast.features.panel import build_trade_panel
    from exportcast.features.series import split_series
    from exportcast.flows.snapshot import load_snapshot
    from exportcast.models.engine_call import engine_args

    rescore = _script("split_rescore")
    calls = _record_engine_call(monkeypatch)
    with pytest.raises(_Called):
        rescore.run("origin", n_jobs=1)
    config = load_config(ROOT / "configs" / "default.yaml")
    snap = load_snapshot(ROOT / "data" / "snapshot", ["kor_exports"])
    panel = build_trade_panel(snap["kor_exports"], reporter="KOR", start=1990, end=2023)
    fs = split_series(panel, min_years=config.forecast.min_years)
    settings = config.forecast.model_dump(mode="json")
    (call,) = calls
    assert call.pop("series").equals(fs.series)
    assert call.pop("n_jobs") == 1
    _assert_same_call(call, engine_args(fs, settings, config.horizon, panel=panel))
