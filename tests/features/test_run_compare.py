"""The previous run (definition) and what changed since it: pure functions."""

from __future__ import annotations

import pandas as pd
import pytest

from exportcast.features.run_compare import changes_since, headline_comparison, pick_previous


def _run(run_id, start, vintage="v1", config="c1", status="FINISHED", forecast=True):
    return {"run_id": run_id, "start_ms": start, "status": status, "data_vintage": vintage,
            "config_hash": config, "last_year": 2023, "has_forecast": forecast}  # fmt: skip


def test_previous_is_newest_finished_earlier_run_on_other_vintage_or_config():
    runs = [
        _run("now", 100, "v2"),
        _run("same", 90, "v2"),  # same vintage and config as this run: skipped, counted
        _run("failed", 80, "v1", status="FAILED"),
        _run("noforecast", 70, "v1", forecast=False),
        _run("config", 60, "v2", config="c2"),  # same data, another config: a previous run
        _run("older", 50, "v1"),
        _run("later", 200, "v1"),  # started after this run
    ]
    prev, same = pick_previous(runs, current_id="now", started_ms=100, vintage="v2",
                               config_hash="c1")  # fmt: skip
    assert prev["run_id"] == "config"
    assert same == 1


def test_no_previous_run_on_record():
    runs = [_run("now", 100), _run("same", 90)]
    prev, same = pick_previous(runs, current_id="now", started_ms=100, vintage="v1",
                               config_hash="c1")  # fmt: skip
    assert prev is None and same == 1
    assert pick_previous([], current_id="x", started_ms=1, vintage="v", config_hash="c") == (
        None,
        0,
    )


def _t(rows):
    return pd.DataFrame(rows, columns=["reporter", "partner", "year", "export_usd"])


def test_changes_since_new_year_and_revisions_beyond_both_thresholds():
    prev = _t([("KOR", "CHN", 2022, 100e9), ("KOR", "USA", 2022, 90e9),
               ("KOR", "VNM", 2022, 500e6), ("KOR", "LAO", 2022, 100e6)])  # fmt: skip
    cur = _t([("KOR", "CHN", 2020, 1e9),  # before the previous data's first year: not "new"
              ("KOR", "CHN", 2022, 104e9),  # +4 %: below 5 % although USD 4 bn
              ("KOR", "USA", 2022, 95e9),  # +5.6 % and USD 5 bn: a revision
              ("KOR", "VNM", 2022, 540e6),  # +8 % but only USD 40 m: not one
              ("KOR", "LAO", 2022, 100e6),
              ("KOR", "CHN", 2023, 120e9), ("KOR", "USA", 2023, 110e9)])  # fmt: skip
    out = changes_since(prev, cur)
    assert list(out["kind"]) == ["new year", "revision"]
    assert out.iloc[0]["year"] == 2023 and out.iloc[0]["new_usd"] == pytest.approx(230e9)
    rev = out.iloc[1]
    assert (rev["partner"], rev["year"]) == ("USA", 2022)
    assert rev["change_pct"] == pytest.approx(100 * 5 / 90)
    # thresholds from the config: 3 % and USD 30 m make CHN and VNM revisions too
    loose = changes_since(prev, cur, rel=0.03, abs_usd=30e6)
    assert set(loose.loc[loose["kind"] == "revision", "partner"]) == {"CHN", "USA", "VNM"}


def test_changes_since_refuses_empty_previous_data():
    with pytest.raises(ValueError, match="empty"):
        changes_since(_t([]), _t([("KOR", "CHN", 2023, 1.0)]))


def _conc(rows):
    return pd.DataFrame(rows, columns=["year", "kind", "dependence_share"])


def test_headline_comparison_last_forecast_years_and_the_same_year():
    prev = _conc([(2021, "history", 0.40), (2022, "forecast", 0.41), (2026, "forecast", 0.42)])
    cur = _conc([(2023, "history", 0.38), (2026, "forecast", 0.37), (2028, "forecast", 0.36)])
    move = headline_comparison(prev, cur)
    assert (move["previous_year"], move["current_year"]) == (2026, 2028)
    assert move["change_pp"] == pytest.approx(-6.0)
    assert move["same_year_kind"] == "forecast"
    assert move["same_year_share"] == pytest.approx(0.37)
    assert move["same_year_change_pp"] == pytest.approx(-5.0)
    # the data now reach the previous run's last forecast year: the actual value
    cur2 = _conc([(2026, "history", 0.39), (2031, "forecast", 0.35)])
    move2 = headline_comparison(prev, cur2)
    assert move2["same_year_kind"] == "history"
    assert move2["same_year_change_pp"] == pytest.approx(-3.0)
    # outside this run's years
    assert headline_comparison(prev, _conc([(2031, "forecast", 0.3)]))["same_year_share"] is None
