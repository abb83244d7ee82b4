"""Loading a report bundle: frames, optional scenario files, errors naming file and column."""

from __future__ import annotations

import json
import re
import shutil

import pandas as pd
import pytest

from exportcast.reports.bundle import BundleError, load_bundle


@pytest.fixture
def bundle_copy(bundle_dir, tmp_path):
    return shutil.copytree(bundle_dir, tmp_path / "bundle")


def test_load_bundle_reads_every_frame(bundle_dir):
    bundle = load_bundle(bundle_dir)
    assert bundle.levels == [80, 95]
    assert bundle.dependence_set == ["CHN", "USA"]
    for frame in (
        bundle.concentration,
        bundle.forecasts,
        bundle.history,
        bundle.accuracy,
        bundle.opportunities,
        bundle.scenario_partners,
        bundle.scenario_indices,
        bundle.index_backtest,
    ):
        assert not frame.empty
    assert set(bundle.concentration["kind"]) == {"history", "forecast"}
    assert bundle.forecasts["partner"].map(type).eq(str).all()


def test_missing_file_is_named(bundle_copy):
    (bundle_copy / "forecasts.csv").unlink()
    with pytest.raises(BundleError, match=r"forecasts\.csv is missing"):
        load_bundle(bundle_copy)


@pytest.mark.parametrize(
    ("name", "column"),
    [
        ("concentration.csv", "hhi_lo_80"),
        ("concentration.csv", "share_USA"),
        ("concentration.csv", "p_dependence_below"),
        ("forecasts.csv", "hi_95"),
        ("history.csv", "export_usd"),
        ("backtest_accuracy.csv", "relMASE"),
        ("opportunities.csv", "contribution_ddep"),
        ("scenario_partners.csv", "ppml_effect_pct"),
        ("scenario_indices.csv", "diff_p50"),
        ("index_backtest.csv", "no_change"),
    ],
)
def test_missing_column_names_file_and_column(bundle_copy, name, column):
    path = bundle_copy / name
    pd.read_csv(path).drop(columns=[column]).to_csv(path, index=False)
    with pytest.raises(BundleError, match=re.escape(f"{name} has no column '{column}'")):
        load_bundle(bundle_copy)


def test_missing_meta_key_is_named(bundle_copy):
    path = bundle_copy / "report.json"
    meta = json.loads(path.read_text())
    del meta["dependence_threshold"]
    path.write_text(json.dumps(meta))
    with pytest.raises(BundleError, match=r"report\.json has no key 'dependence_threshold'"):
        load_bundle(bundle_copy)


def test_missing_report_json_is_named(bundle_copy):
    (bundle_copy / "report.json").unlink()
    with pytest.raises(BundleError, match=r"report\.json is missing"):
        load_bundle(bundle_copy)


def test_scenario_files_may_be_absent_or_empty(bundle_copy):
    (bundle_copy / "scenario_partners.csv").unlink()
    (bundle_copy / "scenario_indices.csv").write_text("")
    bundle = load_bundle(bundle_copy)
    assert bundle.scenario_partners.empty
    assert bundle.scenario_indices.empty
    assert "ppml_effect_pct" in bundle.scenario_partners.columns


def test_index_backtest_may_be_absent_in_bundles_of_older_runs(bundle_copy):
    (bundle_copy / "index_backtest.csv").unlink()
    bundle = load_bundle(bundle_copy)
    assert bundle.index_backtest.empty
    assert "no_change" in bundle.index_backtest.columns


@pytest.mark.parametrize("reporter", ["../../etc", "kor", "KOR/..", "", 42])
def test_reporter_that_would_become_a_bad_path_is_refused(bundle_copy, reporter):
    # the bundle's reporter names output folders and report files: a crafted bundle must not
    # write outside the output folder
    meta_path = bundle_copy / "report.json"
    meta = json.loads(meta_path.read_text())
    meta["reporter"] = reporter
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(BundleError, match=r"report\.json: key 'reporter': expected an ISO 3166-1"):
        load_bundle(bundle_copy)
