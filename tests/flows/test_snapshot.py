import json
import shutil

import pytest

from exportcast.flows.io import CODE_ROOT
from exportcast.flows.snapshot import (
    MANIFEST_NAME,
    SnapshotError,
    build_snapshot,
    compare_snapshots,
    load_snapshot,
    read_manifest,
)

SNAPSHOT = CODE_ROOT / "data" / "snapshot"
REQUIRED = {
    "kor_exports", "kor_totals", "dots_exports", "indicators", "pairs", "fta", "countries",
    "income_groups", "weo_vintages",
}  # fmt: skip


def test_committed_snapshot_loads_and_matches_its_manifest():
    snap = load_snapshot(SNAPSHOT)
    assert set(snap.tables) >= REQUIRED
    assert len(snap.vintage) == 12
    for name, entry in snap.manifest["tables"].items():
        assert len(snap[name]) == entry["rows"]
        assert list(snap[name].columns) == entry["columns"]


def test_manifest_attributes_every_table():
    manifest = read_manifest(SNAPSHOT)
    for name, entry in manifest["tables"].items():
        assert entry["sources"], name
        for src in entry["sources"]:
            for key in ("publisher", "license", "upstream_repository", "upstream_commit"):
                assert src[key], (name, key)


def test_snapshot_is_compact_and_has_required_coverage():
    manifest = read_manifest(SNAPSHOT)
    total = sum(e["bytes"] for e in manifest["tables"].values())
    assert total < 8e6
    t = manifest["tables"]
    assert t["kor_exports"]["years"] == [1990, 2023]
    assert t["dots_exports"]["years"] == [1990, 2020]
    assert t["indicators"]["years"][1] == 2030


def test_snapshot_panel_has_countries_only():
    snap = load_snapshot(SNAPSHOT, ["dots_exports", "kor_exports"])
    for name in ("dots_exports", "kor_exports"):
        df = snap[name]
        assert not df.duplicated(["reporter", "partner", "year"]).any()
        assert (df["export_usd"] >= 0).all()
        assert not {"WLD", "ANT", "SUN", "YUG"} & set(df["partner"])
    # no raw upstream file is shipped
    assert not list(SNAPSHOT.glob("*.csv*"))


def test_corrupted_table_is_detected(tmp_path):
    copy = tmp_path / "snap"
    shutil.copytree(SNAPSHOT, copy)
    path = copy / "fta.parquet"
    data = bytearray(path.read_bytes())
    data[100] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(SnapshotError, match="does not match the manifest"):
        load_snapshot(copy, ["fta"])
    with pytest.raises(SnapshotError, match="no table 'nope'"):
        load_snapshot(copy, ["nope"])


def test_missing_manifest_says_how_to_build(tmp_path):
    with pytest.raises(SnapshotError, match="exportcast snapshot --raw"):
        load_snapshot(tmp_path)


def test_build_refuses_a_folder_that_is_not_raw(tmp_path):
    with pytest.raises(SnapshotError, match=r"SOURCES\.md"):
        build_snapshot(tmp_path, tmp_path / "out", log=lambda _: None)


@pytest.mark.rawdata
@pytest.mark.slow
def test_rebuild_from_raw_reproduces_committed_hashes(raw, tmp_path):
    rebuilt = build_snapshot(raw, tmp_path / "snap", log=lambda _: None)
    problems = compare_snapshots(read_manifest(SNAPSHOT), rebuilt)
    assert problems == [], "\n".join(problems)
    again = json.loads((tmp_path / "snap" / MANIFEST_NAME).read_text())
    assert again == rebuilt
