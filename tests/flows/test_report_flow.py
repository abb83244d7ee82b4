"""Scenarios and the report inside a real pipeline run: outputs, MLflow artifacts, re-report."""

import json
import subprocess

import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient
from typer.testing import CliRunner

from exportcast.flows.cli import app
from exportcast.flows.io import CODE_ROOT
from exportcast.flows.report import BUNDLE_FILES
from exportcast.models.index_backtest import INDEX_BACKTEST_COLUMNS, summarize_index_backtest
from tests.flows.helpers import FAST

runner = CliRunner()
UAE = CODE_ROOT / "configs" / "scenarios" / "uae_cepa.yaml"


@pytest.fixture
def reported(report_run):
    """The session's FAST run with the Cambodia scenario and the whole report (conftest)."""
    return report_run.result, report_run.folder, list(report_run.lines)


def _files(folder):
    return {p.suffix: p for p in (folder / "report").glob("exportcast-report-KOR-2023.*")}


def test_run_writes_bundle_and_report_files(reported):
    result, folder, lines = reported
    for name in BUNDLE_FILES:
        assert (folder / name).is_file(), name
    files = _files(folder)
    assert set(files) == {".html", ".pdf", ".xlsx"}
    assert all(p.stat().st_size > 10_000 for p in files.values())
    meta = json.loads((folder / "report.json").read_text())
    assert meta["mlflow_run_id"] == result.mlflow_run_id
    assert meta["data_vintage"] == result.vintage
    assert [s["name"] for s in meta["scenarios"]] == ["cambodia_fta"]
    assert any("report:" in line for line in lines)
    assert any("scenario" in line for line in lines)
    # the scenario rows are Cambodia's, from the ex-ante origin 2021, with the real outcome
    partners = pd.read_csv(folder / "scenario_partners.csv")
    assert set(partners["partner"]) == {"KHM"}
    assert set(partners["origin"]) == {2021}
    khm = partners.set_index("year")
    exports = pd.read_parquet(CODE_ROOT / "data" / "snapshot" / "kor_exports.parquet")
    real = exports[exports["partner"] == "KHM"].set_index("year")["export_usd"]
    assert khm.loc[2023, "actual"] == pytest.approx(real.loc[2023])
    assert khm.loc[[2024, 2025, 2026], "actual"].isna().all()
    # the progress output says where the real 2023 value fell
    (outcome,) = [line for line in lines if line.startswith("  outcome ")]
    lo, hi, actual = khm.loc[2023, ["scenario_lo_80", "scenario_hi_80", "actual"]]
    where = "below" if actual < lo else "above" if actual > hi else "inside"
    assert f"in 2023 exports to KHM were USD {actual / 1e9:.2f} bn" in outcome
    assert f"{where} the scenario's 80 % interval" in outcome


def test_pdf_text_carries_the_summary_numbers(reported):
    _, folder, _ = reported
    conc = pd.read_csv(folder / "concentration.csv")
    last = conc[conc["kind"] == "forecast"].iloc[-1]
    text = subprocess.run(
        ["pdftotext", "-layout", str(_files(folder)[".pdf"]), "-"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert f"{100 * last['dependence_share']:.1f}" in text
    assert f"{int(last['year'])}" in text
    assert "How it turned out: in 2023 exports to Cambodia were" in " ".join(text.split())
    pages = subprocess.run(
        ["pdfinfo", str(_files(folder)[".pdf"])], capture_output=True, text=True, check=True
    ).stdout
    n_pages = int(next(line.split()[-1] for line in pages.splitlines() if line.startswith("Pages")))
    assert n_pages >= 3
    # no page left nearly empty by a block pushed to the next page (seen: a lone "Scenarios"
    # heading, one table row spilling over); the last page may hold the end of the appendix
    words = [
        len(
            subprocess.run(
                ["pdftotext", "-f", str(i), "-l", str(i), str(_files(folder)[".pdf"]), "-"],
                capture_output=True,
                text=True,
                check=True,
            ).stdout.split()
        )
        for i in range(1, n_pages)
    ]
    assert min(words) >= 80, words


def test_mlflow_run_holds_report_bundle_and_scenario_child(reported, mlflow_uri):
    result, _, _ = reported
    client = MlflowClient(mlflow_uri)
    run_id = result.mlflow_run_id
    report = {a.path for a in client.list_artifacts(run_id, "report")}
    assert report == {f"report/exportcast-report-KOR-2023.{x}" for x in ("html", "pdf", "xlsx")}
    data = {a.path.split("/")[-1] for a in client.list_artifacts(run_id, "report_data")}
    assert data == set(BUNDLE_FILES)
    exp = client.get_run(run_id).info.experiment_id
    children = client.search_runs(
        [exp], filter_string=f"tags.mlflow.parentRunId = '{run_id}' and tags.kind = 'scenario'"
    )
    assert [c.info.run_name for c in children] == ["scenario: cambodia_fta"]
    child = children[0]
    assert child.data.params["origin"] == "2021"
    diffs = client.get_metric_history(child.info.run_id, "dependence_share_diff_p50")
    assert sorted(m.step for m in diffs) == [2022, 2023, 2024, 2025, 2026]
    assert {a.path for a in client.list_artifacts(child.info.run_id)} >= {
        "scenario_partners.csv",
        "scenario_indices.csv",
        "scenario.json",
    }


def test_report_command_rebuilds_the_same_report_from_the_mlflow_run(reported, tmp_path):
    result, folder, _ = reported
    res = runner.invoke(
        app,
        ["report", "--run-id", result.mlflow_run_id, "--out", str(tmp_path), "--no-pdf"],
    )
    assert res.exit_code == 0, res.output
    rebuilt = tmp_path / "exportcast-report-KOR-2023.html"
    assert rebuilt.read_text("utf-8") == _files(folder)[".html"].read_text("utf-8")
    assert not (tmp_path / "exportcast-report-KOR-2023.pdf").exists()
    sheets = pd.read_excel(tmp_path / "exportcast-report-KOR-2023.xlsx", sheet_name=None)
    opp = pd.read_csv(folder / "opportunities.csv")
    assert len(sheets["Opportunities"]) == len(opp)


def test_index_backtest_in_bundle_mlflow_metrics_and_report(reported, mlflow_uri):
    result, folder, _ = reported
    frame = pd.read_csv(folder / "index_backtest.csv")
    assert list(frame.columns) == INDEX_BACKTEST_COLUMNS
    assert sorted(set(frame["cutoff"])) == list(range(2008, 2019))  # the scored origins
    assert set(frame["h"]) == {1, 2, 3, 4, 5} and len(frame) == 11 * 5
    # every series has a forecast at every origin here: actual and no change are the
    # observed dependence shares of the target and origin years
    conc = pd.read_csv(folder / "concentration.csv")
    observed = conc[conc["kind"] == "history"].set_index("year")["dependence_share"]
    np.testing.assert_allclose(frame["actual"], observed.loc[frame["year"]], rtol=1e-8)
    np.testing.assert_allclose(frame["no_change"], observed.loc[frame["cutoff"]], rtol=1e-8)
    assert frame["forecast"].between(0.2, 0.5).all()

    summary = summarize_index_backtest(frame)
    overall = summary.set_index("h").loc["all"]
    client = MlflowClient(mlflow_uri)
    metrics = client.get_run(result.mlflow_run_id).data.metrics
    for key in ("mae", "mae_no_change", "bias"):
        assert metrics[f"dependence_backtest_{key}"] == pytest.approx(overall[key], rel=1e-8)
        history = client.get_metric_history(result.mlflow_run_id, f"dependence_backtest_{key}_by_h")
        by_h = {m.step: m.value for m in history}
        expected = summary[summary["h"] != "all"].set_index("h")[key]
        assert by_h == pytest.approx({int(h): v for h, v in expected.items()}, rel=1e-8)

    html = _files(folder)[".html"].read_text("utf-8")
    assert (
        "Tested on origins 2008–2018, the China + United States share computed from the "
        f"forecasts missed the actual share by {overall['mae']:.2f} percentage points on average "
        "(1–5 years ahead, 55 forecasts); assuming the share stays at its last value missed by "
        f"{overall['mae_no_change']:.2f} points."
    ) in html
    sheets = pd.read_excel(_files(folder)[".xlsx"], sheet_name=["Index backtest"])
    assert len(sheets["Index backtest"]) == len(frame)


def test_report_command_names_an_unknown_run(tmp_path):
    res = runner.invoke(app, ["report", "--run-id", "0123456789abcdef", "--out", str(tmp_path)])
    assert res.exit_code == 2
    assert "0123456789abcdef" in res.output


def test_report_html_renders_in_chromium(reported, chromium_page, tmp_path):
    _, folder, _ = reported
    html = _files(folder)[".html"]
    page = chromium_page.page
    page.goto(html.as_uri())
    page.wait_for_load_state("load")
    broken = page.evaluate(
        "[...document.images].filter(i => !(i.complete && i.naturalWidth > 0)).length"
    )
    n_images = page.evaluate("document.images.length")
    assert n_images >= 4 and broken == 0
    assert chromium_page.console == [] and chromium_page.errors == []
    assert chromium_page.blocked == [] and chromium_page.requests == [html.as_uri()]
    # no table wider than the text column: the real sources list long file names and hashes
    wide = page.evaluate(
        "[...document.querySelectorAll('table')]"
        ".map(t => [t.scrollWidth, t.parentElement.clientWidth]).filter(([w, r]) => w > r + 1)"
    )
    assert wide == []
    shots = CODE_ROOT / "test-artifacts"
    shots.mkdir(exist_ok=True)
    page.screenshot(path=str(shots / "report-pipeline.png"), full_page=True)


# on report_run's worker, after it: the FTA track record (keyed by the data alone) is then read
# from that run's cache instead of being computed again (10-12 s)
@pytest.mark.xdist_group("report_run")
def test_scenario_command_runs_one_file(tmp_path):
    args = [a for s in FAST if not s.startswith("scenarios=") for a in ("--set", s)]
    res = runner.invoke(app, ["scenario", str(UAE), "--set", f"output.dir={tmp_path}", *args])
    assert res.exit_code == 0, res.output
    assert "scenario uae_cepa" in res.output
    assert "ARE" in res.output
    partners = pd.read_csv(tmp_path / "KOR" / "scenario_partners.csv")
    assert set(partners["scenario"]) == {"uae_cepa"}


@pytest.mark.unit  # refused before any flow starts
def test_scenario_command_rejects_a_bad_file(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "name: x\nchanges:\n  fta:\n    - partner: XXX\n      action: enter\n      year: 2025\n"
    )
    res = runner.invoke(app, ["scenario", str(bad)])
    assert res.exit_code == 2
    assert "bad.yaml" in res.output
