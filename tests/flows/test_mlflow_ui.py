"""The MLflow UI in a real browser: two pipeline runs, listed, selected and compared.

The pipeline records two runs (dependence set CHN+USA, then CHN+USA+JPN) into a SQLite store
under tmp; ``exportcast ui`` (a child process) serves that store on 127.0.0.1 with a real
``mlflow server``, and headless Chromium, driven by Playwright, opens the experiment's runs page, ticks both runs,
clicks Compare and finds ``dependence_share`` with each run's value in the compare view.
Screenshots go to ``test-artifacts/`` (git-ignored). Then SIGTERM to ``exportcast ui`` only:
it must stop its ``mlflow server`` and exit with 0 (one server start for the UI and the
command, was two: this and a test of ``ui`` in test_cli_tracking.py).
"""

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from mlflow import MlflowClient

from exportcast.configs import RunConfig, load_config
from exportcast.flows import tracking_store
from exportcast.flows.pipeline import run_pipeline
from tests.flows.helpers import free_port, subprocess_env, wait_for_http

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
# Forecasting is not what this test looks at and takes a minute or more: off where it exists.
NO_FORECAST = ["forecast.enabled=false"] if "forecast" in RunConfig.model_fields else []


def _two_runs(store, tmp_path):
    """Run the pipeline with two dependence sets into ``store``; return the runs by id."""
    client = MlflowClient(store.uri)
    runs = {}
    for label, partners in (("us-china", "[CHN,USA]"), ("with-japan", "[CHN,USA,JPN]")):
        config = load_config(
            overrides=[
                f"output.dir={tmp_path / label}",
                f"tracking.uri={store.uri}",
                f"dependence_set={partners}",
                *NO_FORECAST,
            ]
        )
        result = run_pipeline(config, log=lambda _: None)
        runs[result.mlflow_run_id] = client.get_run(result.mlflow_run_id)
    return runs


def _values_on_the_line_of(page, cell) -> list[str]:
    """Texts of the compare table's cells level with ``cell``, left to right (one per run).

    The compare view draws names and values in separate virtualised grids, so a metric's row
    is what lines up with its name on screen.
    """
    box = cell.bounding_box()
    middle = box["y"] + box["height"] / 2
    found = []
    for other in page.locator("[role=grid] [role=rowgroup] > div").all():
        b = other.bounding_box()
        if b and b["x"] > box["x"] + box["width"] and abs(b["y"] + b["height"] / 2 - middle) < 4:
            found.append((b["x"], other.inner_text().strip()))
    return [text for _, text in sorted(found)]


def _tail(path: Path, n: int = 40) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-n:])


def test_ui_lists_both_runs_and_compares_their_dependence_share(tmp_path, chromium_page):
    store = tracking_store.resolve_store(f"sqlite:///{tmp_path / 'mlruns' / 'mlflow.db'}")
    MlflowClient(store.uri).search_experiments()  # creates the database's tables
    # `exportcast ui` starts (several seconds of imports) while the pipeline writes the runs.
    port = free_port()
    log_path = tmp_path / "ui.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "exportcast.flows.cli", "ui", "--port", str(port),
             "--set", f"tracking.uri={store.uri}"],
            cwd=ROOT, env=subprocess_env(), stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        try:
            url = f"http://127.0.0.1:{port}"
            _check_ui(store, tmp_path, chromium_page, proc, url, log_path)
            proc.send_signal(signal.SIGTERM)  # to exportcast only: it must stop mlflow itself
            code = proc.wait(timeout=30)
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)  # whatever is left of what we started
            proc.wait()
    assert code == 0, _tail(log_path)
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"{url}/health", timeout=2)


def _check_ui(store, tmp_path, chromium_page, proc, url, log_path) -> None:
    """The runs page and the compare view, in Chromium, for two runs written meanwhile."""
    runs = _two_runs(store, tmp_path)
    experiment = MlflowClient(store.uri).get_experiment_by_name("exportcast-KOR")
    assert experiment is not None
    assert {r.info.experiment_id for r in runs.values()} == {experiment.experiment_id}
    names = {run_id: run.info.run_name for run_id, run in runs.items()}
    assert all(names.values()), names
    assert len(set(names.values())) == 2, names  # the config hash in the name tells them apart
    shares = {run_id: run.data.metrics["dependence_share"] for run_id, run in runs.items()}
    assert len({round(v, 3) for v in shares.values()}) == 2, shares  # JPN adds to the share

    try:
        wait_for_http(f"{url}/health", timeout=120, proc=proc)
    except (TimeoutError, RuntimeError) as exc:
        pytest.fail(f"exportcast ui did not start: {exc}\n{_tail(log_path)}")
    home = httpx.get(f"{url}/", timeout=10)
    assert home.status_code == 200 and "<html" in home.text.lower()
    page = chromium_page.page
    ARTIFACTS.mkdir(exist_ok=True)
    try:
        # The experiment's runs table (its bare URL opens the GenAI overview in MLflow 3).
        page.goto(f"{url}/#/experiments/{experiment.experiment_id}/runs")
        for name in names.values():
            page.get_by_role("link", name=name, exact=True).wait_for()
        page.get_by_text("2 matching runs").wait_for()
        for run_id in runs:
            # ag-grid keys its rows by run id; the tick box sits in the pinned-left copy.
            page.locator(f'.ag-row[row-id="{run_id}"] input.ag-checkbox-input').check()
        page.screenshot(path=ARTIFACTS / "mlflow-ui-runs-selected.png")

        page.get_by_role("button", name="Compare", exact=True).click()
        page.wait_for_url("**/compare-runs?**")
        query = parse_qs(urlsplit(urlsplit(page.url).fragment).query)
        shown_runs = json.loads(query["runs"][0])
        assert sorted(shown_runs) == sorted(runs), page.url
        assert json.loads(query["experiments"][0]) == [experiment.experiment_id], page.url
        page.get_by_text("Comparing 2 Runs from 1 Experiment").wait_for()
        for name in names.values():
            page.get_by_text(name, exact=True).first.wait_for()
        # The parallel coordinates plot: add the metric's axis unless MLflow chose it already.
        page.locator(".js-plotly-plot .parcoords").first.wait_for()
        axis = page.locator(".js-plotly-plot svg text", has_text="dependence_share")
        if axis.count() == 0:
            metrics_box = page.get_by_role("combobox").nth(1)  # after "Parameters:"
            metrics_box.click()
            metrics_box.fill("dependence_share")
            page.keyboard.press("Enter")
            page.keyboard.press("Escape")
        axis.first.wait_for()
        page.screenshot(path=ARTIFACTS / "mlflow-ui-compare.png")
        header = page.get_by_role("row").filter(has=page.get_by_text("Run ID:", exact=True))
        columns = re.findall(r"\b[0-9a-f]{32}\b", header.inner_text())  # runs, left to right
        assert sorted(columns) == sorted(runs), columns

        # The metrics table is virtualised: bring it on screen, then find the metric's row.
        page.get_by_role("button", name="Metrics", exact=True).scroll_into_view_if_needed()
        metric = page.get_by_role("link", name="dependence_share", exact=True)
        metric.scroll_into_view_if_needed()
        page.screenshot(path=ARTIFACTS / "mlflow-ui-compare-metrics.png")
        values = _values_on_the_line_of(page, metric)
        assert len(values) == 2, values
        for run_id, text in zip(columns, values, strict=True):
            assert float(text) == pytest.approx(shares[run_id], abs=0.001), (values, shares)
    except Exception:
        with contextlib.suppress(Exception):  # never hide the failure behind this one
            page.screenshot(path=ARTIFACTS / "mlflow-ui-failure.png")
        raise
    # Uncaught exceptions in the page; Chromium's benign "ResizeObserver loop" notice is none.
    fatal = [e for e in chromium_page.errors if "ResizeObserver loop" not in e]
    assert fatal == [], chromium_page.errors
