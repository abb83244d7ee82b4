"""The speed-ups of issue 16 give the results of the plain computation, to the last digit.

Each fast function is compared with the formula it replaced (written out here as the
reference), and the memos of :mod:`models.memo` with a fresh computation.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from exportcast.features.panel import series_to_panel
from exportcast.models import memo
from exportcast.models.backtest import cross_validate_by_origin
from exportcast.models.histories import known_at_cutoffs
from exportcast.models.metrics import cutoff_scales
from exportcast.models.scenarios import apply_multipliers
from exportcast.models.timeseries import Drift, Naive, Theta
from tests.conftest import make_origin_histories


@pytest.fixture(autouse=True)
def _fresh_memo():
    memo.clear()
    yield
    memo.clear()


def _paths(n_series: int = 7, n_paths: int = 40, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    ids = [f"KOR|P{i:02d}" for i in range(n_series)] + ["KOR|REST"]
    years = np.arange(2024, 2029)
    n = len(ids) * n_paths * len(years)
    return pd.DataFrame(
        {
            "unique_id": np.repeat(ids, n_paths * len(years)),
            "ds": np.tile(years, len(ids) * n_paths),
            "path": np.tile(np.repeat(np.arange(n_paths), len(years)), len(ids)),
            "y": rng.lognormal(3, 1, n),
        }
    ).sample(frac=1.0, random_state=1)  # any order, any index


def _series_to_panel_reference(frame: pd.DataFrame, value: str = "y") -> pd.DataFrame:
    parts = frame["unique_id"].astype(str).str.split("|", n=1, expand=True)
    rest = frame.drop(columns=["unique_id", "ds"])
    if value in rest.columns:
        rest = rest.rename(columns={value: "export_usd"})
    ids = pd.DataFrame(
        {"reporter": parts[0], "partner": parts[1], "year": frame["ds"].astype("int64")},
        index=frame.index,
    )
    return pd.concat([ids, rest], axis=1).reset_index(drop=True)


@pytest.mark.parametrize("dtype", ["object", "category"])
def test_series_to_panel_equals_the_per_row_split(dtype: str) -> None:
    paths = _paths().astype({"unique_id": dtype})
    pd.testing.assert_frame_equal(
        series_to_panel(paths), _series_to_panel_reference(paths), check_exact=True
    )


def test_series_to_panel_still_refuses_ids_without_a_partner() -> None:
    bad = pd.DataFrame({"unique_id": ["KOR|CHN", "KOR"], "ds": [2024, 2024], "y": [1.0, 2.0]})
    with pytest.raises(ValueError, match="REPORTER\\|PARTNER"):
        series_to_panel(bad)


def _apply_multipliers_reference(paths: pd.DataFrame, multipliers: pd.DataFrame) -> pd.DataFrame:
    partner = paths["unique_id"].astype(str).str.split("|", n=1).str[1]
    key = pd.MultiIndex.from_arrays([partner, paths["ds"].astype("int64"), paths["path"]])
    m = multipliers.set_index(["partner", "year", "path"])["multiplier"]
    factor = m.reindex(key).fillna(1.0).to_numpy()
    return paths.assign(y=paths["y"].to_numpy() * factor)


@pytest.mark.parametrize("partners", [["P03"], ["P01", "P05"], []])
def test_apply_multipliers_equals_the_full_lookup(partners: list[str]) -> None:
    paths = _paths()
    rng = np.random.default_rng(2)
    grid = pd.MultiIndex.from_product(
        [partners, range(2025, 2029), range(40)], names=["partner", "year", "path"]
    )  # 2024 not moved: those rows keep factor 1
    mult = grid.to_frame(index=False).assign(multiplier=rng.uniform(0.8, 1.3, len(grid)))
    pd.testing.assert_frame_equal(
        apply_multipliers(paths, mult), _apply_multipliers_reference(paths, mult), check_exact=True
    )


def test_known_at_cutoffs_holds_each_history_to_its_cutoff() -> None:
    train = make_origin_histories(shuffle=True)
    got = known_at_cutoffs(train)
    known = train.loc[train["ds"] <= train["cutoff"]].sort_values(["unique_id", "cutoff", "ds"])
    expected = {
        (uid, int(c)): (int(g["ds"].iat[0]), g["y"].to_numpy())
        for (uid, c), g in known.groupby(["unique_id", "cutoff"])
    }
    assert got.keys() == expected.keys()
    for key, (first, y) in expected.items():
        assert got[key][0] == first
        np.testing.assert_array_equal(got[key][1], y)
    cv = train.loc[train["ds"] > train["cutoff"], ["unique_id", "cutoff"]].drop_duplicates()
    scales = cutoff_scales(cv, train)
    assert scales["scale1"].notna().all() and len(scales) == len(cv)


def test_backtest_forecasts_are_reused_only_for_identical_histories() -> None:
    train = make_origin_histories(shuffle=True)
    models = [Naive(), Drift(), Theta()]
    fresh = cross_validate_by_origin(train, models, 3, fallback=Naive())
    assert memo.stats()["forecast_misses"] == 3 and memo.stats()["forecast_hits"] == 0
    again = cross_validate_by_origin(train, models, 3, fallback=Naive())
    assert memo.stats()["forecast_hits"] == 3
    pd.testing.assert_frame_equal(again, fresh, check_exact=True)
    # one value changed at the 2006 origin: that origin is refitted, the others are reused
    changed = train.copy()
    row = changed.index[(changed["cutoff"] == 2006) & (changed["ds"] == 2000)][0]
    changed.loc[row, "y"] *= 1.5
    with memo.disabled():
        reference = cross_validate_by_origin(changed, models, 3, fallback=Naive())
    hits = memo.stats()["forecast_hits"]
    got = cross_validate_by_origin(changed, models, 3, fallback=Naive())
    assert memo.stats()["forecast_hits"] == hits + 2
    pd.testing.assert_frame_equal(got, reference, check_exact=True)
    assert not got.equals(fresh)
    # other settings of a model are another key
    cross_validate_by_origin(train, [Naive(), Drift(), Theta(theta=3.0)], 3, fallback=Naive())
    assert memo.stats()["forecast_hits"] == hits + 2


def test_world_fit_memo_is_per_table_object_and_arguments() -> None:
    a, b = pd.DataFrame({"x": [1.0]}), pd.DataFrame({"x": [1.0]})
    calls = []

    def compute() -> dict:
        calls.append(1)
        return {"coef": [len(calls)]}

    first = memo.world_fit_memo((a,), ("fit", 2020), compute)
    first["coef"].append(99)  # a caller changing its copy does not reach the memo
    assert memo.world_fit_memo((a,), ("fit", 2020), compute) == {"coef": [1]}
    assert memo.world_fit_memo((b,), ("fit", 2020), compute) == {"coef": [2]}
    assert memo.world_fit_memo((a,), ("fit", 2016), compute) == {"coef": [3]}
    with memo.disabled():
        assert memo.world_fit_memo((a,), ("fit", 2020), compute) == {"coef": [4]}
    assert len(calls) == 4


def test_world_fits_travel_to_another_process_s_equal_tables() -> None:
    # what the FTA track record's process fitted (flows/ahead.py) serves this process's tables
    theirs, ours = pd.DataFrame({"x": [1.0]}), pd.DataFrame({"x": [1.0]})
    other = pd.DataFrame({"x": [1.0, 2.0]})
    memo.world_fit_memo((theirs,), ("fit", 2020), lambda: {"coef": [7]})
    memo.world_fit_memo((other,), ("fit", 2016), lambda: {"coef": [8]})
    sent = memo.world_fits((theirs,))
    assert sent == [(("fit", 2020), {"coef": [7]})]  # only the fits of these tables
    assert memo.prime_world_fits((ours,), sent) == 1

    def refit() -> dict:
        raise AssertionError("primed: not fitted again")

    assert memo.world_fit_memo((ours,), ("fit", 2020), refit) == {"coef": [7]}
    assert memo.world_fit_memo((ours,), ("fit", 2016), lambda: {"coef": [9]}) == {"coef": [9]}
    with memo.disabled():  # the reference path takes nothing from elsewhere
        assert memo.world_fits((theirs,)) == []
        assert memo.prime_world_fits((other,), sent) == 0
    assert memo.world_fit_memo((other,), ("fit", 2020), lambda: {"coef": [10]}) == {"coef": [10]}


def test_origin_histories_actuals_equal_the_stacked_wide_table() -> None:
    from exportcast.features.series import origin_histories, split_series

    rng = np.random.default_rng(4)
    partners = [f"P{i}" for i in range(6)]
    years = np.arange(1990, 2011)
    panel = pd.DataFrame(
        [(p, int(y), float(rng.lognormal(4, 1))) for p in partners for y in years],
        columns=["partner", "year", "export_usd"],
    ).assign(reporter="KOR")
    panel.loc[(panel["partner"] == "P5") & (panel["year"] == 2001), "export_usd"] = 0.0
    got = origin_histories(panel, range(2000, 2009), min_years=8, h=3)
    wide = panel.pivot_table(index="year", columns="partner", values="export_usd", aggfunc="sum")
    for origin in range(2000, 2009):
        fs = split_series(panel.loc[panel["year"] <= origin], min_years=8)
        own = wide.loc[origin + 1 : min(origin + 3, 2010), list(fs.partners)]
        own.columns = [f"KOR|{p}" for p in own.columns]
        expected = (
            own.stack(future_stack=True).rename("y").rename_axis(["ds", "unique_id"])
            .reset_index().sort_values(["unique_id", "ds"], ignore_index=True)
        )  # fmt: skip
        rows = got.loc[(got["cutoff"] == origin) & (got["ds"] > origin)]
        rows = rows.loc[rows["unique_id"] != "KOR|REST", ["ds", "unique_id", "y"]]
        pd.testing.assert_frame_equal(
            rows.sort_values(["unique_id", "ds"], ignore_index=True), expected, check_exact=True
        )
