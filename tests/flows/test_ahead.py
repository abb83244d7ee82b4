"""flows.ahead: the FTA track record in a second process (issue 16).

That the child's rows are the rows the stage computes is checked on the whole default run
(tests/flows/test_default_run.py, byte for byte); here: when it starts, and what a failing or
dying child does.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest

from exportcast.configs import load_config
from exportcast.flows import ahead as ahead_mod
from exportcast.flows import cache_keys
from exportcast.flows.ahead import AHEAD, TrackRecordAhead, track_record_ahead, wanted
from exportcast.flows.cache_keys import data_logic_key


@pytest.mark.parametrize(
    ("env", "cores", "busy", "expected"),
    [
        ("1", 1, 9.0, True),
        ("0", 8, 0.0, False),
        ("off", 8, 0.0, False),
        ("auto", 2, 0.1, True),  # an idle two-core machine
        ("auto", 2, 0.9, False),  # the other core is busy (a test worker, another run)
        ("auto", 1, 0.0, False),  # one core: nothing to overlap
        (None, 4, 2.0, True),  # unset = auto; two of four cores free
        (None, 4, 2.6, False),
    ],
)
def test_wanted_follows_the_setting_and_the_free_cores(monkeypatch, env, cores, busy, expected):
    if env is None:
        monkeypatch.delenv("EXPORTCAST_AHEAD", raising=False)
    else:
        monkeypatch.setenv("EXPORTCAST_AHEAD", env)
    monkeypatch.setattr(ahead_mod.os, "cpu_count", lambda: cores)
    monkeypatch.setattr(ahead_mod, "busy_cores", lambda: busy)
    monkeypatch.setattr(ahead_mod.os, "getloadavg", lambda: (9.0, 9.0, 9.0))  # not used
    assert wanted() is expected


def test_without_proc_stat_the_load_average_decides(monkeypatch):
    monkeypatch.setenv("EXPORTCAST_AHEAD", "auto")
    monkeypatch.setattr(ahead_mod, "_cpu_times", lambda: None)
    assert ahead_mod.busy_cores() is None
    monkeypatch.setattr(ahead_mod.os, "cpu_count", lambda: 2)
    monkeypatch.setattr(ahead_mod.os, "getloadavg", lambda: (0.2, 0.2, 0.2))
    assert wanted() is True
    monkeypatch.setattr(ahead_mod.os, "getloadavg", lambda: (1.2, 0.2, 0.2))
    assert wanted() is False


@pytest.mark.integration  # a busy process of someone else, then one of this process
def test_busy_cores_counts_other_processes_not_this_ones_children():
    import subprocess
    import sys
    import time

    loop = "import time\nt=time.time()\nwhile time.time()-t<3: pass"
    # someone else's: started by a shell that exits at once (the spinner is not our child)
    subprocess.run(["/bin/sh", "-c", f'"{sys.executable}" -c "{loop}" >/dev/null 2>&1 &'],
                   check=True)  # fmt: skip
    time.sleep(0.3)  # past its start
    assert ahead_mod.busy_cores(0.5) >= 0.7
    # the run's own processes (Prefect's server, say) are counted as its own, not someone else's
    ours = subprocess.Popen([sys.executable, "-c", loop])
    try:
        time.sleep(0.3)
        before = ahead_mod._own_jiffies()
        time.sleep(0.5)
        assert ahead_mod._own_jiffies() - before >= 25  # >= 0.25 s of the child's CPU (1/100 s)
    finally:
        ours.kill()
        ours.wait()


def test_busy_cores_leaves_out_what_the_run_itself_used(monkeypatch):
    ticks = iter([(1000, 2000), (1150, 2200)])  # 150 busy of 200 jiffies: 1.5 of 2 cores
    own = iter([500, 560])  # 60 of them this process and its children
    monkeypatch.setattr(ahead_mod, "_cpu_times", lambda: next(ticks))
    monkeypatch.setattr(ahead_mod, "_own_jiffies", lambda: next(own))
    monkeypatch.setattr(ahead_mod.os, "cpu_count", lambda: 2)
    assert ahead_mod.busy_cores(0) == pytest.approx(0.9)


def test_needed_only_with_scenarios_and_no_cached_track_record(tmp_path):
    cfg = load_config(overrides=[f"cache.dir={tmp_path}"])
    run = SimpleNamespace(vintage="abc123", cache_key="abc123-x-y")
    assert ahead_mod.track_record_needed(cfg, run) is True
    record = cache_keys.cached_result(cfg, "fta_track_record", data_logic_key("abc123"))
    (tmp_path / record.name).write_bytes(b"cached")  # Prefect writes the result first ...
    assert ahead_mod.track_record_needed(cfg, run) is True  # ... a result without its record
    record.parent.mkdir()
    record.write_bytes(b"{}")  # ... then its record
    assert ahead_mod.track_record_needed(cfg, run) is False
    assert ahead_mod.track_record_needed(cfg, SimpleNamespace(vintage="abc123", cache_key=None))
    no_scen = load_config(overrides=[f"cache.dir={tmp_path}", "scenarios=[]"])
    assert (
        ahead_mod.track_record_needed(no_scen, SimpleNamespace(vintage="v", cache_key=None))
        is False
    )
    no_fc = load_config(overrides=["forecast.enabled=false"])
    assert (
        ahead_mod.track_record_needed(no_fc, SimpleNamespace(vintage="v", cache_key=None)) is False
    )


def test_nothing_starts_when_not_needed_or_not_wanted(monkeypatch):
    lines: list[str] = []
    monkeypatch.setenv("EXPORTCAST_AHEAD", "1")
    with track_record_ahead({}, needed=False, log=lines.append):
        assert AHEAD.get() is None
    monkeypatch.setenv("EXPORTCAST_AHEAD", "0")
    with track_record_ahead({}, needed=True, log=lines.append):
        assert AHEAD.get() is None
    assert lines == []


def _empty_tables() -> dict[str, pd.DataFrame]:
    # tables the track record cannot use: the child raises
    return {k: pd.DataFrame({"x": [1]}) for k in ahead_mod.TABLES}


@pytest.mark.integration  # a spawned child process
def test_a_child_that_fails_is_reported_and_the_stage_computes_itself():
    lines: list[str] = []
    ahead = TrackRecordAhead(_empty_tables())
    assert ahead.take(lines.append) is None
    assert len(lines) == 1 and "the second process failed (KeyError" in lines[0], lines
    assert lines[0].endswith("computing it here")
    assert not ahead._process.is_alive()


@pytest.mark.integration  # a spawned child process
def test_a_child_that_dies_is_reported_and_stopped(monkeypatch):
    lines: list[str] = []
    ahead = TrackRecordAhead(_empty_tables())
    ahead._process.kill()
    assert ahead.take(lines.append) is None
    assert "ended without a result" in lines[0] and "computing it here" in lines[0]


@pytest.mark.integration  # a spawned child process
def test_the_block_stops_a_child_nobody_took(monkeypatch):
    monkeypatch.setenv("EXPORTCAST_AHEAD", "1")
    lines: list[str] = []
    with track_record_ahead(_empty_tables(), needed=True, log=lines.append):
        started = AHEAD.get()
        assert isinstance(started, TrackRecordAhead)
    assert AHEAD.get() is None
    assert not started._process.is_alive()
    assert lines == ["  fta track record       started in a second process (a core is free)"]


def _fake_child(conn, tables_conn) -> None:
    # a child that reads its tables from the feeder thread and answers at once
    tables = tables_conn.recv()
    rows = pd.DataFrame({"n": [len(tables["dots_exports"])]})
    conn.send(("ok", rows, ["  a line"], [(("fit", 2020), {"coef": [1.5]})]))
    conn.close()


@pytest.mark.integration  # a spawned child process
def test_the_child_gets_the_tables_and_its_world_fits_serve_this_process(monkeypatch):
    from exportcast.models import memo

    monkeypatch.setattr(ahead_mod, "_child", _fake_child)
    tables = {k: pd.DataFrame({"x": range(3)}) for k in ahead_mod.TABLES}
    lines: list[str] = []
    ahead = TrackRecordAhead(tables)
    rows = ahead.take(lines.append)
    assert rows["n"].tolist() == [3] and lines == ["  a line"]
    world = (tables["dots_exports"], tables["rtas"], tables["fta"])
    assert memo.world_fit_memo(world, ("fit", 2020), lambda: {"coef": [0.0]}) == {"coef": [1.5]}
    assert not ahead._process.is_alive() and not ahead._feeder.is_alive()


def test_the_module_names_only_existing_tables():
    snapshot = Path(__file__).resolve().parents[2] / "data" / "snapshot"
    for table in ahead_mod.TABLES:
        assert (snapshot / f"{table}.parquet").is_file()
