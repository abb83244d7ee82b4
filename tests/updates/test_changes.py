"""What changed between vintages: new years, revisions beyond both thresholds, headline move."""

from __future__ import annotations

import pandas as pd
import pytest

from exportcast.features.changes import headline_move, what_changed


def _t(rows):
    return pd.DataFrame(rows, columns=["reporter", "partner", "year", "export_usd"])


def test_new_years_and_revisions_need_both_thresholds():
    old = _t([
        ("KOR", "CHN", 2023, 1_000e6),   # +10 %, +100 m: a revision
        ("KOR", "USA", 2023, 2_000e6),   # +2 %, +40 m: neither
        ("KOR", "VNM", 2023, 100e6),     # +60 %, +60 m: a revision
        ("KOR", "LAO", 2023, 10e6),      # +100 %, +10 m: below 50 m
        ("KOR", "JPN", 2023, 5_000e6),   # -4 %, -200 m: below 5 %
    ])  # fmt: skip
    new = _t([
        ("KOR", "CHN", 2023, 1_100e6),
        ("KOR", "USA", 2023, 2_040e6),
        ("KOR", "VNM", 2023, 160e6),
        ("KOR", "LAO", 2023, 20e6),
        ("KOR", "JPN", 2023, 4_800e6),
        ("KOR", "CHN", 2024, 1_200e6),
        ("KOR", "USA", 2024, 2_100e6),
    ])  # fmt: skip
    out = what_changed(old, new)
    assert out["kind"].tolist() == ["new year", "revision", "revision"]
    year = out.iloc[0]
    assert (year["year"], year["partner"], year["new_usd"]) == (2024, "*", 3_300e6)
    rev = out.loc[out["kind"] == "revision"].set_index("partner")
    assert list(rev.index) == ["CHN", "VNM"]  # largest change first
    assert rev.loc["CHN", "change_pct"] == pytest.approx(10.0)
    assert rev.loc["VNM", "change_usd"] == pytest.approx(60e6)


def test_same_tables_have_no_changes():
    t = _t([("KOR", "CHN", 2023, 1e9)])
    assert what_changed(t, t).empty


def test_headline_move_in_percentage_points():
    prev = pd.DataFrame({"kind": ["history", "forecast"], "year": [2023, 2028],
                         "dependence_share": [0.38, 0.36]})  # fmt: skip
    cur = pd.DataFrame({"kind": ["history", "forecast"], "year": [2024, 2029],
                        "dependence_share": [0.38, 0.381]})  # fmt: skip
    move = headline_move(prev, cur)
    assert (move["previous_year"], move["current_year"]) == (2028, 2029)
    assert move["change_pp"] == pytest.approx(2.1)
