"""The disk layer under the backtest forecasts memo (flows/memo_store.py, models/memo.py).

A stored origin must come back as the very frame the computation returned (columns, order,
dtypes, index, values to the last bit); any change of history bytes, model settings or code
is another file; an unreadable file is a miss, a failed write is no failure, and with the memo
off nothing is read or written.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from exportcast.configs.loader import load_config
from exportcast.flows import memo_store
from exportcast.flows.memo_store import DiskForecastStore, installed, memo_code_version
from exportcast.models import memo
from exportcast.models.backtest import cross_validate_by_origin
from exportcast.models.forecasting import forecast_panel
from exportcast.models.timeseries import Drift, Naive, Theta
from tests.conftest import make_origin_histories

MODELS = (Naive(), Drift(), Theta())


@pytest.fixture(autouse=True)
def _fresh_memo():
    memo.clear()
    yield
    memo.clear()


def _backtest(train: pd.DataFrame, models=MODELS) -> pd.DataFrame:
    return cross_validate_by_origin(train, list(models), 3, fallback=Naive())


def _files(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.pkl")) if folder.is_dir() else []


def _assert_identical(got: pd.DataFrame, expected: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(got, expected, check_exact=True)
    assert list(got.columns) == list(expected.columns)
    assert got.dtypes.to_dict() == expected.dtypes.to_dict()
    assert got.columns.dtype == expected.columns.dtype
    assert type(got.index) is type(expected.index) and got.index.equals(expected.index)
    for name in got.columns:  # bit for bit, NaN payloads included
        a, b = got[name].to_numpy(), expected[name].to_numpy()
        if a.dtype.kind == "f":
            assert a.tobytes() == b.tobytes(), name
        else:
            assert list(a) == list(b), name


def test_a_stored_engine_forecast_comes_back_identical(tmp_path) -> None:
    # what the memo's compute() returns: forecast_panel's frame with intervals and fallbacks
    train = make_origin_histories()
    known = train.loc[(train["cutoff"] == 2006) & (train["ds"] <= 2006), ["unique_id", "ds", "y"]]
    fc = forecast_panel(known, list(MODELS), 3, level=[80, 95], fallback=Naive())
    assert fc.dtypes["unique_id"] == np.dtype(object) and fc.dtypes["ds"] == "int64"
    store = DiskForecastStore(tmp_path, "v1")
    store.put("k", fc)
    _assert_identical(store.get("k"), fc)
    # the dtypes parquet would not promise: nullable ints, categories, object with None,
    # small ints, strings and a non-default index
    odd = pd.DataFrame(
        {
            "unique_id": pd.Categorical(["KOR|A", "KOR|B", "KOR|A"], categories=["KOR|B", "KOR|A"]),
            "n": pd.array([1, None, 3], dtype="Int64"),
            "i32": np.array([1, 2, 3], dtype="int32"),
            "obj": ["x", None, ""],
            "s": pd.array(["a", "b", None], dtype="string"),
            "y": [0.1 + 0.2, np.nan, -0.0],
        },
        index=pd.Index([7, 3, 5], name="row"),
    )
    store.put("odd", odd)
    _assert_identical(store.get("odd"), odd)


def test_a_cold_memo_reuses_the_origins_on_disk_with_identical_results(tmp_path) -> None:
    train = make_origin_histories()
    with memo.disabled():
        reference = _backtest(train)
    store = DiskForecastStore(tmp_path, memo_code_version())
    with memo.use_store(store):
        first = _backtest(train)
        assert memo.stats()["forecast_misses"] == 3 and len(_files(tmp_path)) == 3
        memo.clear()  # another process: nothing in memory, the files on disk
        again = _backtest(train)
    stats = memo.stats()
    assert stats["forecast_hits"] == 3 and stats["forecast_store_hits"] == 3
    assert stats["forecast_misses"] == 0 and store.reads == 3
    _assert_identical(first, reference)
    _assert_identical(again, reference)
    assert memo._STORE[0] is None  # the store was only lent to the block


def test_any_change_of_history_settings_or_code_is_a_miss(tmp_path) -> None:
    train = make_origin_histories()
    store = DiskForecastStore(tmp_path, "code-1")
    with memo.use_store(store):
        _backtest(train)
    assert len(_files(tmp_path)) == 3
    # one value of the 2006 origin's history changed: that origin only is another file
    changed = train.copy()
    row = changed.index[(changed["cutoff"] == 2006) & (changed["ds"] == 2000)][0]
    changed.loc[row, "y"] = np.nextafter(changed.loc[row, "y"], np.inf)  # the last bit
    memo.clear()
    with memo.use_store(store):
        _backtest(changed)
    assert memo.stats()["forecast_store_hits"] == 2 and memo.stats()["forecast_misses"] == 1
    assert len(_files(tmp_path)) == 4
    # another setting of one model: every origin is another file
    memo.clear()
    with memo.use_store(store):
        _backtest(train, (Naive(), Drift(), Theta(theta=3.0)))
    assert memo.stats()["forecast_store_hits"] == 0 and memo.stats()["forecast_misses"] == 3
    assert len(_files(tmp_path)) == 7
    # another code version on the same folder: nothing reused
    memo.clear()
    with memo.use_store(DiskForecastStore(tmp_path, "code-2")):
        _backtest(train)
    assert memo.stats()["forecast_store_hits"] == 0 and memo.stats()["forecast_misses"] == 3
    assert len(_files(tmp_path)) == 10


def test_the_code_version_covers_the_forecasting_code_and_libraries() -> None:
    version = memo_code_version()
    assert version.startswith("logic.") and "statsmodels=" in version and "numpy=" in version


def test_a_corrupt_file_is_a_miss_and_is_rewritten(tmp_path) -> None:
    train = make_origin_histories()
    store = DiskForecastStore(tmp_path, "v")
    with memo.disabled():
        reference = _backtest(train)
    with memo.use_store(store):
        _backtest(train)
    victims = _files(tmp_path)
    victims[0].write_bytes(b"\x80\x05not a pickle")  # truncated or garbage
    victims[1].write_bytes(b"")
    memo.clear()
    with memo.use_store(store):
        got = _backtest(train)
    assert memo.stats()["forecast_store_hits"] == 1 and memo.stats()["forecast_misses"] == 2
    _assert_identical(got, reference)
    memo.clear()  # rewritten: all three are read now
    with memo.use_store(store):
        _backtest(train)
    assert memo.stats()["forecast_store_hits"] == 3


def test_a_file_of_another_key_is_a_miss(tmp_path) -> None:
    store = DiskForecastStore(tmp_path, "v")
    frame = pd.DataFrame({"a": [1.0]})
    store.put("one", frame)
    os.replace(store.path("one"), store.path("two"))  # a (theoretical) name collision
    assert store.get("two") is None


def test_a_failed_write_does_not_fail_the_run(tmp_path, caplog) -> None:
    # a file where the folder should be (chmod would not stop root)
    blocker = tmp_path / "cache"
    blocker.write_text("not a folder")
    store = DiskForecastStore(blocker / "memo", "v")
    train = make_origin_histories()
    with memo.disabled():
        reference = _backtest(train)
    with (
        caplog.at_level(logging.DEBUG, logger="exportcast.flows.memo_store"),
        memo.use_store(store),
    ):
        got = _backtest(train)
    _assert_identical(got, reference)
    assert store.write_errors == 3 and store.writes == 0
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "cannot write" in warnings[0].getMessage()  # once, not 3x
    assert blocker.read_text() == "not a folder"
    assert store.prune() == 0  # nothing to prune, no error either


def test_with_the_memo_off_nothing_is_read_or_written(tmp_path, monkeypatch) -> None:
    train = make_origin_histories()
    with memo.disabled():
        reference = _backtest(train)
    # a poisoned store: every origin's file holds other numbers
    store = DiskForecastStore(tmp_path, "v")
    with memo.use_store(store):
        _backtest(train)
    for path in _files(tmp_path):
        payload = pd.read_pickle(path)
        frame = payload[2].copy()
        frame["Naive"] = frame["Naive"] + 1.0
        pd.to_pickle((payload[0], payload[1], frame), path)
    before = {p: p.stat().st_mtime_ns for p in _files(tmp_path)}
    memo.clear()
    with memo.use_store(store), memo.disabled():
        got = _backtest(train)
    _assert_identical(got, reference)
    assert store.reads == 0 and store.writes == 3  # the three of the first run only
    assert {p: p.stat().st_mtime_ns for p in _files(tmp_path)} == before
    # EXPORTCAST_NO_MEMO=1: the pipeline installs no store at all
    config = load_config(overrides=[f"cache.dir={tmp_path / 'cache'}"])
    monkeypatch.setenv("EXPORTCAST_NO_MEMO", "1")
    with installed(config) as installed_store:
        assert installed_store is None and memo._STORE[0] is None
    assert not (tmp_path / "cache").exists()


def test_installed_follows_cache_enabled_and_lends_the_store_to_the_block(tmp_path) -> None:
    on = load_config(overrides=[f"cache.dir={tmp_path / 'cache'}"])
    with installed(on) as store:
        assert store is not None and memo._STORE[0] is store
        assert store.folder == tmp_path / "cache" / "memo" / "forecasts"
    assert memo._STORE[0] is None
    off = load_config(overrides=[f"cache.dir={tmp_path / 'cache'}", "cache.enabled=false"])
    with installed(off) as store:
        assert store is None and memo._STORE[0] is None


def test_prune_keeps_the_most_recently_used_files_within_the_bound(tmp_path) -> None:
    frame = pd.DataFrame({"y": np.arange(2000, dtype="float64")})  # about 16 kB a file
    store = DiskForecastStore(tmp_path, "v")
    for i in range(6):
        store.put(f"k{i}", frame)
        os.utime(store.path(f"k{i}"), (1_000_000 + i, 1_000_000 + i))  # k0 oldest
    assert store.get("k0") is not None  # read now: the most recently used
    stale, busy = tmp_path / ".k9.pkl.x1y2.tmp", tmp_path / ".k8.pkl.z3.tmp"
    stale.write_bytes(b"x")  # left by an interrupted write
    os.utime(stale, (1_000_000, 1_000_000))
    busy.write_bytes(b"x")  # another process is writing it now
    size = store.path("k0").stat().st_size
    store.max_bytes = 3 * size
    assert store.prune() == 3
    kept = {f"k{i}" for i in range(6) if store.path(f"k{i}").exists()}
    assert kept == {"k0", "k4", "k5"}
    assert not stale.exists() and busy.exists()


def test_reused_text_names_the_origins_from_disk() -> None:
    zero = {"forecast_hits": 0, "forecast_misses": 0, "forecast_store_hits": 0}
    assert memo_store.reused_text(zero, zero) == ""
    mem = {"forecast_hits": 21, "forecast_misses": 0, "forecast_store_hits": 0}
    assert memo_store.reused_text(zero, mem) == "backtest origins reused: 21 of 21"
    disk = {"forecast_hits": 20, "forecast_misses": 1, "forecast_store_hits": 20}
    assert memo_store.reused_text(zero, disk) == "backtest origins reused: 20 of 21 (20 from disk)"


@pytest.mark.integration  # the real snapshot and engine; no flow
def test_an_ex_ante_baseline_in_a_new_process_reads_its_origins_from_disk(tmp_path) -> None:
    from exportcast.flows.scenarios import baseline_at
    from exportcast.flows.snapshot import load_snapshot
    from exportcast.flows.years import resolve_run_years

    tables = load_snapshot(Path(__file__).resolve().parents[2] / "data" / "snapshot").tables
    fast = ["forecast.models=[Naive,Drift]", "forecast.n_paths=100", "forecast.n_jobs=1"]
    config = resolve_run_years(
        load_config(overrides=fast), tables["kor_exports"], vintage="v", name="kor_exports"
    )[0]
    store = DiskForecastStore(tmp_path, memo_code_version())
    with memo.use_store(store):
        _, first = baseline_at(config, tables, 2021)
        n_origins = memo.stats()["forecast_misses"]
        memo.clear()  # a later process: the in-process memo is empty
        _, again = baseline_at(config, tables, 2021)
    assert n_origins >= 10 and memo.stats()["forecast_store_hits"] == n_origins
    assert memo.stats()["forecast_misses"] == 0
    for name in ("forecast", "accuracy", "choices", "paths", "backtest", "fallbacks"):
        _assert_identical(getattr(again, name), getattr(first, name))
    assert again.model == first.model and again.coverage == first.coverage


def test_a_later_run_recomputing_the_forecast_stage_reads_the_backtest_from_disk(
    tmp_path,
) -> None:
    # two FAST runs on one cache folder whose keys differ (more sample paths: every stage
    # recomputed), the in-process memo emptied between them as in a new process
    from exportcast.flows import pipeline
    from tests.flows.helpers import FAST

    def run(name: str, *extra: str) -> tuple[Path, list[str]]:
        overrides = [f"output.dir={tmp_path / name}", f"cache.dir={tmp_path / 'cache'}", *FAST]
        lines: list[str] = []
        memo.clear()
        result = pipeline.run_pipeline(
            load_config(overrides=[*overrides, *extra]), log=lines.append
        )
        return result.output_dir, lines

    first, first_lines = run("first")
    folder = tmp_path / "cache" / "memo" / "forecasts"
    n_files = len(_files(folder))
    assert n_files >= 10
    assert not [ln for ln in first_lines if "from disk" in ln]
    second, second_lines = run("second", "forecast.n_paths=120")
    reused = [ln for ln in second_lines if ln.startswith("  forecast partners ")]
    assert len(reused) == 2, second_lines  # the reuse line, then the stage line
    assert f"backtest origins reused: {n_files} of {n_files} ({n_files} from disk)" in reused[0]
    assert "(cached)" not in reused[1]
    assert len(_files(folder)) == n_files
    for name in ("backtest_accuracy.csv", "backtest_forecasts.csv", "index_backtest.csv"):
        assert (second / name).read_bytes() == (first / name).read_bytes(), name


def test_the_disk_reuse_line_is_printed_only_when_the_disk_served(tmp_path) -> None:
    lines: list[str] = []
    asked: list[int] = []

    def printer():  # stage_log() needs a Prefect run; it must not be asked without a line
        asked.append(1)
        return lines.append

    train = make_origin_histories()
    store = DiskForecastStore(tmp_path, "v")
    with memo.use_store(store), memo_store.report_disk_reuse(printer, "forecast partners"):
        _backtest(train)
    assert lines == [] and asked == []
    memo.clear()
    with memo.use_store(store), memo_store.report_disk_reuse(printer, "forecast partners"):
        _backtest(train)
    assert lines == ["  forecast partners      backtest origins reused: 3 of 3 (3 from disk)"]
