"""The partner split decided at each backtest origin: no knowledge of later years."""

import numpy as np
import pandas as pd
import pytest

from exportcast.features.series import REST, origin_histories, split_series
from exportcast.models.backtest import cross_validate_by_origin, rolling_select
from exportcast.models.engine import run_engine
from exportcast.models.forecasting import cross_validate
from exportcast.models.timeseries import Drift, Naive, Theta

YEARS = range(1990, 2024)


def _panel() -> pd.DataFrame:
    """Six regular partners, one newcomer (from 2001), one that fades (none after 2012)."""
    rng = np.random.default_rng(3)
    rows = []
    for k, partner in enumerate(["AAA", "BBB", "CCC", "DDD", "EEE", "FFF", "NEW", "OLD"]):
        level = 100.0 * (k + 1) * np.exp(rng.normal(0.04, 0.1, len(YEARS)).cumsum())
        for year, value in zip(YEARS, level, strict=True):
            if partner == "NEW" and year < 2001:
                continue
            if partner == "OLD" and year > 2012:
                continue
            rows.append({"reporter": "KOR", "partner": partner, "year": year, "export_usd": value})
    return pd.DataFrame(rows)


def _corrupt_after(panel: pd.DataFrame, origin: int) -> pd.DataFrame:
    """Every value after ``origin`` x 1000, and partner CCC gone after it."""
    after = panel["year"] > origin
    out = panel.assign(export_usd=panel["export_usd"].where(~after, panel["export_usd"] * 1000))
    return out.loc[~(after & (out["partner"] == "CCC"))].reset_index(drop=True)


def test_split_at_each_origin_uses_data_to_the_origin_only():
    panel = _panel()
    hist = origin_histories(panel, [2000, 2005, 2010, 2020], min_years=10, h=3)
    at = {t: set(g.loc[g["ds"] <= t, "unique_id"]) for t, g in hist.groupby("cutoff")}
    rest = f"KOR|{REST}"
    # the newcomer is in REST until it has 10 years of exports; the faded partner is
    # modelled while it is regular, whatever happens later
    assert "KOR|NEW" not in at[2005] and "KOR|NEW" in at[2010]
    assert "KOR|OLD" in at[2010] and "KOR|OLD" not in at[2020]
    assert rest in at[2005] and rest not in at[2000]  # no REST member with exports in 2000
    g = hist.loc[hist["cutoff"] == 2010].set_index(["unique_id", "ds"])["y"]
    # actuals after the origin follow the origin's split: OLD's exports are 0 after 2012
    assert g.loc[("KOR|OLD", 2013)] == 0.0
    # the split of the last year would model NEW at 2005 already (the leak this fixes)
    assert "NEW" in split_series(panel, min_years=10).partners
    # histories and actuals add up to the reporter's total (from REST's first year; at 2000
    # there is no REST, so NEW's first exports after it are in no series, as before)
    total = panel.groupby("year")["export_usd"].sum()
    for t, frame in hist.groupby("cutoff"):
        by_year = frame.groupby("ds")["y"].sum()
        first = frame.loc[frame["unique_id"] == rest, "ds"].min() if t > 2000 else 1990
        years = [y for y in by_year.index if y >= first and (t > 2000 or y <= t)]
        np.testing.assert_allclose(by_year.loc[years], total.loc[years], rtol=1e-12)


def test_by_origin_backtest_equals_cross_validate_on_one_history():
    panel = _panel()
    fs = split_series(panel.loc[panel["partner"] != "OLD"], min_years=20)
    series = fs.series
    origins = [2005, 2010, 2018]
    hist = pd.concat([series.assign(cutoff=t) for t in origins], ignore_index=True)
    models = [Naive(), Drift(), Theta()]
    a = cross_validate(series, models, 5, origins=origins, fallback=Naive())
    b = cross_validate_by_origin(hist, models, 5, fallback=Naive())
    pd.testing.assert_frame_equal(a, b, check_dtype=False)


def _engine_backtest(panel: pd.DataFrame) -> pd.DataFrame:
    fs = split_series(panel, min_years=10)
    scored, history = range(2006, 2019), range(1996, 2006)
    hist = origin_histories(panel, [*history, *scored], min_years=10, h=5)
    engine = run_engine(
        fs.series,
        h=5,
        models=["Naive", "Drift"],
        scored_origins=scored,
        history_origins=history,
        levels=(80,),
        n_paths=50,
        history=hist,
    )
    return engine.backtest


@pytest.mark.parametrize("origin", [2008, 2013])
def test_backtest_forecasts_at_an_origin_ignore_every_later_trade_value(origin):
    panel = _panel()
    clean = _engine_backtest(panel)
    dirty = _engine_backtest(_corrupt_after(panel, origin))
    forecasts = [c for c in clean.columns if c not in ("y", "fallback")]
    a = clean.loc[clean["cutoff"] == origin, forecasts].reset_index(drop=True)
    b = dirty.loc[dirty["cutoff"] == origin, forecasts].reset_index(drop=True)
    assert len(a) > 0 and "Selected-lo-80" in a.columns
    pd.testing.assert_frame_equal(a, b)
    # the corruption is real: the actuals (and later origins) differ
    assert not clean.loc[clean["cutoff"] == origin, "y"].equals(
        dirty.loc[dirty["cutoff"] == origin, "y"]
    )


@pytest.mark.parametrize("weighted", [True, False])
def test_rolling_select_over_all_origins_equals_one_call_per_origin(weighted):
    # rolling_select computes the past windows' scales, levels and size classes once for every
    # origin: each origin's choice, intervals and past-unit count must be exactly those of a
    # call that sees that origin alone (which computes them from its own past rows)
    panel = _panel()
    scored, history = list(range(2006, 2019)), list(range(1996, 2006))
    hist = origin_histories(panel, [*history, *scored], min_years=10, h=5)
    cv = cross_validate_by_origin(hist, [Naive(), Drift(), Theta()], 5, fallback=Naive())
    cands = ["Naive", "Drift", "Theta"]
    together = rolling_select(cv, hist, cands, scored, levels=(80, 95), weighted=weighted)
    alone = [
        rolling_select(cv, hist, cands, [t], levels=(80, 95), weighted=weighted) for t in scored
    ]
    pd.testing.assert_frame_equal(
        together.cv, pd.concat([r.cv for r in alone], ignore_index=True), check_exact=True
    )
    pd.testing.assert_frame_equal(
        together.choices, pd.concat([r.choices for r in alone], ignore_index=True)
    )
    assert together.choices["model"].nunique() >= 1 and len(together.cv) > 0
