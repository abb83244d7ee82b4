"""flows.prefetch: the snapshot read while Prefect's server starts, taken only if unchanged."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pandas as pd
import pytest

from exportcast.configs import load_config
from exportcast.flows import pipeline, prefetch
from exportcast.flows.snapshot import SnapshotError, load_snapshot

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def snapshot(tmp_path) -> Path:
    folder = tmp_path / "snapshot"
    shutil.copytree(ROOT / "data" / "snapshot", folder)
    return folder


def test_the_task_takes_the_prefetched_tables_once(snapshot):
    tables = pipeline.run_tables(snapshot)
    prefetch.start(snapshot, tables)
    taken = prefetch.take(snapshot, tables)
    assert taken is not None
    fresh = load_snapshot(snapshot, tables)
    assert taken.vintage == fresh.vintage and list(taken.tables) == tables
    for name in tables:
        pd.testing.assert_frame_equal(taken.tables[name], fresh.tables[name])
    assert prefetch.take(snapshot, tables) is None  # taken once
    # the load data task returns exactly what was prefetched
    prefetch.start(snapshot, tables)
    first = prefetch._pending[(snapshot.resolve(), tuple(tables))][1].result()
    assert pipeline.load_data.fn("snapshot", snapshot, None) is first


def test_a_file_changed_after_the_read_began_is_read_again(snapshot):
    tables = pipeline.run_tables(snapshot)
    prefetch.start(snapshot, tables)
    prefetch._pending[(snapshot.resolve(), tuple(tables))][1].result()  # read finished
    path = snapshot / "fta.parquet"
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    assert prefetch.take(snapshot, tables) is None


def test_a_failed_read_is_left_to_the_task_and_its_own_error(snapshot):
    tables = pipeline.run_tables(snapshot)
    (snapshot / "pairs.parquet").write_bytes(b"not the manifest's bytes")
    prefetch.start(snapshot, tables)
    assert prefetch.take(snapshot, tables) is None
    with pytest.raises(SnapshotError, match=r"pairs\.parquet: sha256 .* does not match"):
        pipeline.load_data.fn("snapshot", snapshot, None)


def test_other_tables_or_folders_are_not_taken(snapshot, tmp_path):
    tables = pipeline.run_tables(snapshot)
    prefetch.start(snapshot, tables)
    assert prefetch.take(snapshot, tables[:3]) is None
    assert prefetch.take(tmp_path / "elsewhere", tables) is None
    assert prefetch.take(snapshot, tables) is not None


def test_prefetch_data_reads_the_configured_snapshot_only(snapshot, tmp_path):
    cfg = load_config(overrides=[f"data.snapshot_dir={snapshot}"])
    prefetch.prefetch_data(cfg)
    assert prefetch.take(snapshot, pipeline.run_tables(snapshot)) is not None
    raw = load_config(overrides=[f"data.snapshot_dir={snapshot}", "data.source=raw",
                                 f"data.raw_dir={tmp_path}"])  # fmt: skip
    prefetch.prefetch_data(raw)  # a rebuild from raw files is the task's
    assert prefetch.take(snapshot, pipeline.run_tables(snapshot)) is None
    missing = load_config(overrides=[f"data.snapshot_dir={tmp_path / 'none'}", "scenarios=[]"])
    prefetch.prefetch_data(missing)  # no error here: the task reports it
