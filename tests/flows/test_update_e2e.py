"""Issue 14's "Done when" on a fresh copy of the project, through the real command line.

A copy of the project's files (what a clone has, no data/vintages, mlruns or outputs) in tmp;
every command runs as a child process in it with the defaults, so the store, inbox, MLflow
database, cache and outputs are the copy's own (data/vintages, data/inbox, mlruns/,
.exportcast-cache, outputs/):

1. a long-format file with a 2024 year of Korea's exports in data/inbox/ -> ``update`` makes
   a new active vintage;
2. a plain ``run`` (no ``--set years.end``) forecasts 2025-2029 from 2024, and its MLflow run
   names the new vintage in its dataset and its tag;
3. the same file again -> "no new data", exit code 0, the same vintage active;
4. a corrupt file -> exit code 2, quarantined with reason.txt, the active vintage unchanged.

The 2024 release is a synthetic test release (its file name says so): the embedded 2023
values x 1.05 for the 40 largest partners plus a World total over all partners x 1.05, so it
is a partial release whose REST is provisional. Test data only; the product never ships it.
"""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from tests.flows.helpers import FAST_ARGS, subprocess_env

ROOT = Path(__file__).resolve().parents[2]
CLI = [sys.executable, "-m", "exportcast.flows.cli"]
RELEASE = "kor_2024_top40_synthetic_test_release.csv"

pytestmark = pytest.mark.e2e


def _copy_project(dest: Path) -> Path:
    """The project's files as a clone has them (tracked plus new, not ignored)."""
    listed = subprocess.run(
        ["git", "-C", str(ROOT), "ls-files", "-co", "--exclude-standard", "-z"],
        check=True, capture_output=True,
    ).stdout.decode().split("\0")  # fmt: skip
    for name in filter(None, listed):
        src = ROOT / name
        if src.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / name)
    return dest


def _release(project: Path) -> str:
    """The synthetic 2024 partial release (long format) as CSV text."""
    kor = pd.read_parquet(project / "data" / "snapshot" / "kor_exports.parquet")
    y24 = kor.loc[kor["year"] == 2023].assign(year=2024)
    y24 = y24.assign(export_usd=(y24["export_usd"] * 1.05).round(0))
    rows = y24.nlargest(40, "export_usd")[["reporter", "partner", "year", "export_usd"]]
    total = pd.DataFrame(
        [{"reporter": "KOR", "partner": "WLD", "year": 2024, "export_usd": y24["export_usd"].sum()}]
    )
    return pd.concat([rows, total], ignore_index=True).to_csv(index=False)


def _cli(
    project: Path, api_url: str, *args: str, timeout: float = 900
) -> subprocess.CompletedProcess:
    # the session's Prefect test server (no temporary server per command); Prefect's own
    # files still go to the copy
    env = subprocess_env(
        PYTHONPATH=str(project),
        PREFECT_HOME=str(project / ".prefect-home"),
        PREFECT_API_URL=api_url,
    )
    env["COLUMNS"] = "200"
    return subprocess.run(
        [*CLI, *args], cwd=project, env=env, capture_output=True, text=True, timeout=timeout
    )


def _active(project: Path) -> str:
    return (project / "data" / "vintages" / "active").read_text().strip()


def test_inbox_update_run_again_and_corrupt_on_a_fresh_copy(tmp_path, prefect_api_url):
    project = _copy_project(tmp_path / "project")
    # the run before the release: the embedded snapshot (data to 2023)
    first = _cli(project, prefect_api_url, "run", *FAST_ARGS)
    assert first.returncode == 0, first.stdout + first.stderr
    first_meta = json.loads((project / "outputs" / "KOR" / "run.json").read_text())
    inbox = project / "data" / "inbox"
    inbox.mkdir(parents=True)
    text = _release(project)
    (inbox / RELEASE).write_text(text)

    up = _cli(project, prefect_api_url, "update")
    assert up.returncode == 0, up.stdout + up.stderr
    vintage = _active(project)
    assert f"new vintage {vintage} is active" in up.stdout
    assert "runs now forecast KOR from 2024 (years.end: latest)" in up.stdout

    run = _cli(project, prefect_api_url, "run", *FAST_ARGS, "--set", "report.enabled=true", "--set",
               "report.pdf=false")  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    out = project / "outputs" / "KOR"
    forecasts = pd.read_csv(out / "forecasts.csv")
    assert sorted(forecasts["year"].unique()) == [2025, 2026, 2027, 2028, 2029]
    assert set(forecasts["data_vintage"]) == {vintage}
    conc = pd.read_csv(out / "concentration.csv")
    assert conc.loc[conc["kind"] == "history", "year"].max() == 2024
    meta = json.loads((out / "run.json").read_text())
    assert meta["data_vintage"] == vintage
    assert meta["years_end"]["configured"] == "latest" and meta["years_end"]["resolved"] == 2024
    assert meta["config"]["years"]["end"] == 2024
    [prov] = meta["provisional"]
    assert prov["year"] == 2024 and prov["n_listed"] == 40 and prov["unknown_partners"]
    # the 2024 history shares are of the published total (listed partners + REST remainder)
    y24 = pd.read_csv(io.StringIO(text))
    listed = y24.loc[y24["partner"] != "WLD"].set_index("partner")["export_usd"]
    total = float(y24.loc[y24["partner"] == "WLD", "export_usd"].iloc[0])
    h24 = conc.loc[(conc["kind"] == "history") & (conc["year"] == 2024)].iloc[0]
    assert h24["dependence_share"] == pytest.approx((listed["CHN"] + listed["USA"]) / total)
    html = next((out / "report").glob("exportcast-report-*.html")).read_text()
    assert "Provisional partner-years in 2024: the release lists 40 partners" in html
    # "What changed since the last run": the previous run, the new year, the headline's move
    assert "What changed since the last run</h2>" in html
    assert f"Compared with the previous run {first_meta['mlflow_run_id']}" in html
    assert "data to 2023); this run: data vintage" in html
    assert "New years of data: 2024 (USD " in html

    from mlflow import MlflowClient

    client = MlflowClient(f"sqlite:///{project / 'mlruns' / 'mlflow.db'}")
    mlrun = client.get_run(meta["mlflow_run_id"])
    assert mlrun.data.tags["data_vintage"] == vintage
    assert mlrun.data.tags["provisional_years"] == "KOR 2024"
    assert mlrun.data.tags["mlflow.runName"].startswith(f"KOR 2024 · data {vintage[:8]}")
    assert mlrun.data.params["years.end"] == "2024"
    assert mlrun.data.params["years.end_configured"] == "latest"
    [inp] = mlrun.inputs.dataset_inputs
    assert inp.dataset.digest == vintage and inp.dataset.name == f"exportcast-data-{vintage}"

    (inbox / RELEASE).write_text(text)  # the same file again
    again = _cli(project, prefect_api_url, "update")
    assert again.returncode == 0, again.stdout + again.stderr
    assert f"no new data: the release gives the same tables as the active vintage {vintage}" in (
        again.stdout
    )
    assert _active(project) == vintage

    bad = text.replace("\nKOR,USA,2024,", "\nKOR,USA,2024,12x", 1)
    assert bad != text
    (inbox / "kor_2024_corrupt_synthetic_test_release.csv").write_text(bad)
    corrupt = _cli(project, prefect_api_url, "update")
    assert corrupt.returncode == 2, corrupt.stdout + corrupt.stderr
    said = corrupt.stdout + corrupt.stderr
    assert "release rejected" in said and "kor_2024_corrupt_synthetic_test_release.csv" in said
    assert f"vintage {vintage} stays active" in said
    assert _active(project) == vintage
    [reason] = (project / "data" / "quarantine").glob("*/reason.txt")
    assert "export_usd" in reason.read_text()
    assert not list(inbox.glob("*.csv"))
