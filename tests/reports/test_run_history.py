"""Report sections on earlier runs: 'What changed since the last run' and the track record."""

from __future__ import annotations

import json
import shutil

import pandas as pd
import pytest

from exportcast.features.run_compare import changes_since
from exportcast.models.vintage_track import score_run
from exportcast.reports.build import render_html
from exportcast.reports.bundle import load_bundle
from exportcast.reports.run_history import track_section, what_changed_section

FIRST = {"previous": None, "n_same": 2, "notes": [], "track_notes": [], "track_runs": 0,
         "revision_pct": 5.0, "revision_usd": 50e6}  # fmt: skip


def _bundle(tmp_path, bundle_dir, run_history=None, tables=None):
    folder = tmp_path / "bundle"
    shutil.copytree(bundle_dir, folder)
    if run_history is not None:
        meta = json.loads((folder / "report.json").read_text())
        meta["run_history"] = run_history
        (folder / "report.json").write_text(json.dumps(meta))
    for name, frame in (tables or {}).items():
        frame.to_csv(folder / f"{name}.csv", index=False)
    return load_bundle(folder)


def test_a_bundle_from_before_has_neither_section(tmp_path, bundle_dir):
    bundle = _bundle(tmp_path, bundle_dir)
    assert what_changed_section(bundle) is None and track_section(bundle) is None
    html = render_html(bundle)
    assert "What changed since the last run" not in html
    assert "Track record across data vintages" not in html


def test_first_run_on_record_and_empty_track_record_are_one_line_each(tmp_path, bundle_dir):
    bundle = _bundle(tmp_path, bundle_dir, FIRST)
    changed, track = what_changed_section(bundle), track_section(bundle)
    assert changed["table"] is None and len(changed["sentences"]) == 1
    assert "the 2 earlier run(s) had this run's data vintage and config" in changed["sentences"][0]
    first = _bundle(tmp_path / "first", bundle_dir, {**FIRST, "n_same": 0})
    assert "first run on record for Korea" in what_changed_section(first)["sentences"][0]
    assert track["table"] is None and len(track["sentences"]) == 1
    assert "track record across vintages is empty" in track["sentences"][0]
    html = render_html(bundle)
    assert "What changed since the last run" in html and "nothing to compare" in html


def test_previous_run_changes_headline_and_track_table(tmp_path, bundle_dir, snapshot_tables):
    kor = snapshot_tables["kor_exports"][["reporter", "partner", "year", "export_usd"]]
    before = kor.loc[kor["year"].between(2007, 2021)]
    now = kor.loc[kor["year"] <= 2023].copy()
    now.loc[(now["partner"] == "USA") & (now["year"] == 2021), "export_usd"] *= 1.10
    changes = changes_since(before, now)
    run = {"run_id": "abc123", "run_date": "2025-06-01 06:00", "data_vintage": "7f87e2005f22",
           "last_year": 2021}  # fmt: skip
    fc = before.loc[before["year"] == 2021].assign(year=2022, mean=lambda d: d["export_usd"])
    conc = pd.DataFrame({"year": [2021, 2022], "kind": ["history", "forecast"],
                         "dependence_share": [0.40, 0.41]})  # fmt: skip
    actual_conc = pd.DataFrame({"year": [2022], "kind": ["history"], "dependence_share": [0.39]})
    track = score_run(run, fc, conc, before, now, actual_conc)
    meta = {**FIRST, "n_same": 0, "changes_compared": True, "track_runs": 1,
            "track_notes": ["skipped run deadbeef: MLflow run deadbeef has no artifact x"],
            "previous": {"run_id": "abc123", "run_date": "2025-06-01 06:00",
                         "data_vintage": "7f87e2005f22", "config_hash": "c", "last_year": 2021},
            "headline": {"previous_year": 2026, "previous_share": 0.42, "current_year": 2028,
                         "current_share": 0.405, "change_pp": -1.5, "same_year_share": 0.41,
                         "same_year_kind": "forecast", "same_year_change_pp": -1.0}}  # fmt: skip
    bundle = _bundle(tmp_path, bundle_dir, meta,
                     {"changes_since_last_run": changes, "vintage_track": track})  # fmt: skip
    section = what_changed_section(bundle)
    text = " ".join(section["sentences"])
    assert "previous run abc123" in text and "data to 2021" in text
    assert "New years of data: 2022" in text and "2023" in text
    assert "1 partner-year(s) revised by more than 5 % and more than USD 50 m" in text
    assert "42.0 % in 2026" in text and "40.5 % in 2028" in text and "\u22121.5" in text
    assert section["table"].rows[0][:2] == ["United States", "2021"]
    assert section["table"].rows[0][5] == "+10.0"
    tsec = track_section(bundle)
    assert len(tsec["table"].rows) == 3  # one year, three measures
    first = tsec["table"].rows[0]
    assert first[:5] == ["2025-06-01 06:00", "7f87e2005f22", "2021", "2022", "Total exports"]
    assert tsec["notes"] == meta["track_notes"]
    html = render_html(bundle)
    assert "Track record across data vintages" in html and "skipped run deadbeef" in html
    assert html.index("What changed since the last run") < html.index('id="dependence"')


@pytest.mark.parametrize("error", ["TrackingError: store unreachable"])
def test_unreadable_store_is_said_in_the_report(tmp_path, bundle_dir, error):
    bundle = _bundle(tmp_path, bundle_dir, {**FIRST, "error": error})
    assert error in what_changed_section(bundle)["sentences"][0]
