"""The full default run, twice: its contract and golden numbers, and identical outputs with
and without the speed-ups (issue 16).

Two real ``exportcast run`` child processes with the default config (Korea, the default
models, both default scenarios, the FTA track record), each with its own empty cache and
MLflow store: the reference with ``EXPORTCAST_NO_MEMO=1`` (every backtest origin and world
gravity fit computed afresh, :mod:`models.memo`) and ``EXPORTCAST_AHEAD=0`` (the FTA track
record computed in its stage, in order), and the fast path, the product's default with the
track record forced into its second process (``EXPORTCAST_AHEAD=1``, :mod:`flows.ahead`; by
default that depends on the machine's load). The
report is off (it is built from these tables; the report run is ``report_run``). The fast
path's outputs are the ones checked for the contract; every CSV of the two must be
byte-identical. The children talk to the session's Prefect test server (``prefect_api_url``),
so neither pays for a temporary server of its own; the temporary server is tested in
tests/flows/test_prefect_server.py.

The string-hash seed: the world gravity's pair-clustered covariance (so the bands of the FTA
track record and of the scenario effects) moves in the 6th-7th significant digit with Python's
per-process string-hash seed (the same fit in two processes with seeds 0 and 1: covariance 4e-6
apart, relative). The ``exportcast`` command fixes the seed itself (``PYTHONHASHSEED=0``,
flows/entry.py); the reference child is started without ``PYTHONHASHSEED`` (the command must
fix it: without that its bands would differ from the fast path's), the fast path with an
explicit ``0``.

In a file of its own so that it starts first on an xdist worker (tests/conftest.py orders the
groups by cost): it is the longest group of the suite.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from tests.flows.helpers import subprocess_env

ROOT = Path(__file__).resolve().parents[2]
TABLES = (
    "forecasts.csv", "scenario_partners.csv", "scenario_indices.csv", "concentration.csv",
    "opportunities.csv", "fta_track_record.csv", "backtest_accuracy.csv",
    "backtest_forecasts.csv", "index_backtest.csv", "history.csv",
)  # fmt: skip

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def _run(folder: Path, api_url: str, **env: str) -> tuple[Path, str]:
    folder.mkdir()
    cmd = [sys.executable, "-m", "exportcast.flows.cli", "run",
           "--set", f"output.dir={folder / 'out'}", "--set", f"cache.dir={folder / 'cache'}",
           "--set", "report.enabled=false"]  # fmt: skip
    child_env = subprocess_env(
        MLFLOW_TRACKING_URI=f"sqlite:///{folder / 'mlflow.db'}", PREFECT_API_URL=api_url, **env
    )
    if "PYTHONHASHSEED" not in env:  # then the command must fix the seed itself
        child_env.pop("PYTHONHASHSEED", None)
    done = subprocess.run(
        cmd, cwd=ROOT, env=child_env, capture_output=True, text=True, timeout=1800
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return folder / "out" / "KOR", done.stdout


@pytest.fixture(scope="module")
def default_runs(tmp_path_factory, prefect_api_url) -> SimpleNamespace:
    """The reference (no memos) and the fast path, each a real default ``exportcast run``."""
    base = tmp_path_factory.mktemp("default")
    # the reference without PYTHONHASHSEED: the command fixes the seed (flows/entry.py)
    reference, ref_log = _run(
        base / "reference", prefect_api_url, EXPORTCAST_NO_MEMO="1", EXPORTCAST_AHEAD="0"
    )
    fast, fast_log = _run(base / "fast", prefect_api_url, EXPORTCAST_AHEAD="1", PYTHONHASHSEED="0")
    return SimpleNamespace(reference=reference, ref_log=ref_log, fast=fast, fast_log=fast_log)


@pytest.mark.timeout(1800)  # two default runs: 170 s on two idle cores, 540 s under load 13
def test_default_run_outputs_are_identical_with_and_without_the_memos(default_runs) -> None:
    # the fast path really took its shortcuts: the ex ante scenario's baseline reused the run's
    # backtest origins (the reference refitted them)
    assert "backtest origins reused" not in default_runs.ref_log
    reused = [ln for ln in default_runs.fast_log.splitlines() if "backtest origins reused" in ln]
    assert reused and " 0 of" not in reused[0], default_runs.fast_log[-3000:]
    # ... and computed the FTA track record in its second process (the reference did not)
    ahead = "fta track record       started in a second process"
    assert ahead in default_runs.fast_log and ahead not in default_runs.ref_log
    assert "computing it here" not in default_runs.fast_log  # the child's rows were used
    for name in TABLES:
        ref_bytes = (default_runs.reference / name).read_bytes()
        assert len(ref_bytes) > 100, name
        assert (default_runs.fast / name).read_bytes() == ref_bytes, f"{name} differs"


@pytest.mark.timeout(1800)
def test_default_run_writes_contract_golden_history_and_forecasts(default_runs) -> None:
    folder = default_runs.fast
    meta = json.loads((folder / "run.json").read_text())
    out = pd.read_csv(folder / "concentration.csv")
    for col in ["reporter", "year", "kind", "hhi", "hhi_norm", "n_effective", "share_CHN",
                "share_USA", "dependence_share", "data_vintage"]:  # fmt: skip
        assert col in out.columns
    assert set(out["kind"]) == {"history", "forecast"}
    assert out["data_vintage"].unique().tolist() == [meta["data_vintage"]]
    row = out[out["kind"] == "history"].set_index("year")
    assert row.loc[2019, "share_CHN"] == pytest.approx(0.251, abs=0.0005)
    assert row.loc[2019, "share_USA"] == pytest.approx(0.135, abs=0.0005)
    assert row.loc[2019, "hhi"] == pytest.approx(0.101, abs=0.0005)
    assert row.loc[2023, "share_CHN"] == pytest.approx(0.197, abs=0.0005)
    assert row.loc[2023, "share_USA"] == pytest.approx(0.183, abs=0.0005)
    assert row.loc[2000, "share_CHN"] == pytest.approx(0.107, abs=0.0005)
    assert row.loc[2000, "hhi"] == pytest.approx(0.086, abs=0.0005)
    hist = out[out["kind"] == "history"]
    assert (hist["dependence_share"] - hist["share_CHN"] - hist["share_USA"]).abs().max() < 1e-9
    assert (folder / "run.json").is_file()

    fc = out[out["kind"] == "forecast"]
    assert fc["year"].tolist() == [2024, 2025, 2026, 2027, 2028]
    assert (fc["dependence_share_lo_95"] <= fc["dependence_share_lo_80"]).all()
    assert (fc["dependence_share_lo_80"] <= fc["dependence_share"]).all()
    assert (fc["dependence_share"] <= fc["dependence_share_hi_80"]).all()
    assert (fc["dependence_share_hi_80"] <= fc["dependence_share_hi_95"]).all()
    assert fc["p_dependence_below"].between(0, 1).all()
    assert fc["share_CHN"].between(0.05, 0.4).all()  # a sane range around 19.7 % in 2023
    # CR-k and Theil of the paths (REST members ranked with the others): ordered, near the
    # 2023 values (CR1 19.7 %, CR5 55.1 %, Theil 2.28), and CR1 at least China's median share
    assert fc[["cr1", "cr3", "cr5", "theil"]].notna().all().all()
    assert ((fc["cr1"] <= fc["cr3"]) & (fc["cr3"] <= fc["cr5"])).all()
    assert (fc["cr1"] >= fc["share_CHN"] - 1e-9).all()
    assert fc["cr5"].between(0.4, 0.7).all()
    assert fc["theil"].between(1.8, 2.8).all()
    assert (fc["theil_lo_80"] <= fc["theil"]).all() and (fc["theil"] <= fc["theil_hi_80"]).all()
    assert (fc["theil"] <= np.log(fc["n_partners"])).all()
    forecasts = pd.read_csv(folder / "forecasts.csv")
    for col in ["reporter", "partner", "year", "model", "mean", "lo_80", "hi_80", "lo_95", "hi_95"]:
        assert col in forecasts.columns
    assert (forecasts["lo_95"] <= forecasts["mean"]).all() and (
        forecasts["mean"] <= forecasts["hi_95"]
    ).all()
    assert {"CHN", "USA", "VNM", "REST"} <= set(forecasts["partner"])
    accuracy = pd.read_csv(folder / "backtest_accuracy.csv").set_index("model")
    assert {"Naive", "Drift", "Theta", "Ensemble", "Selected"} <= set(accuracy.index)
    assert accuracy.loc["Naive", "relMASE"] == pytest.approx(1.0)
    assert meta["selected_model"] in accuracy.index
    assert set(meta["rolling_choices"]) == {str(y) for y in range(2008, 2019)}
