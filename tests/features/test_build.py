from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from exportcast.features.build import (
    DEMAND_SOURCES,
    FEATURE_COLUMNS,
    KEY_COLUMNS,
    MAX_STALE_YEARS,
    build_features,
    build_gravity_frame,
)

SNAPSHOT = Path(__file__).resolve().parents[2] / "data" / "snapshot"
PARTNERS = ["AAA", "BBB", "CCC", "DDD", "EEE"]
YEARS = range(1995, 2016)
COMPARED = [*KEY_COLUMNS, "export_usd_origin", "demand_source", *FEATURE_COLUMNS]


# ---------------------------------------------------------------- synthetic tables


def _tables(seed: int = 0) -> dict[str, pd.DataFrame]:
    """Tiny seeded world: KOR exports to five partners, indicators with WEO/WPP flags, FTAs."""
    rng = np.random.default_rng(seed)
    panel = pd.DataFrame(
        [
            (p, y, float(np.exp(rng.normal(10 + i, 0.3))))
            for i, p in enumerate(PARTNERS)
            for y in YEARS
        ],
        columns=["partner", "year", "export_usd"],
    ).assign(reporter="KOR", source="test")
    totals = (
        panel.groupby("year", as_index=False)["export_usd"]
        .sum()
        .rename(columns={"export_usd": "total_export_usd"})
        .assign(reporter="KOR", total_export_usd=lambda d: d["total_export_usd"] * 1.5)
    )
    ind_years = np.arange(1985, 2021)
    rows = []
    for i, c in enumerate([*PARTNERS, "KOR"]):
        n = len(ind_years)
        rows.append(
            pd.DataFrame(
                {
                    "country": c,
                    "year": ind_years,
                    "gdp_usd": np.exp(20 + i + 0.03 * np.arange(n)),
                    "gdp_growth_pct": rng.normal(3, 2, n),
                    "gdp_pc_usd": np.exp(8 + 0.02 * np.arange(n)),
                    "pop_growth_pct": rng.normal(1, 0.3, n),
                    "pop_0_14_pct": 30 - 0.2 * np.arange(n),
                    "dependency_ratio_pct": 50 + rng.normal(0, 1, n),
                    "weo_gdp_growth_pct": rng.normal(3, 2, n),
                    "weo_gdp_usd": np.exp(20.5 + i + 0.03 * np.arange(n)),
                    "weo_gdp_pc_usd": np.exp(8.1 + 0.02 * np.arange(n)),
                    "weo_is_projection": pd.Series(ind_years >= 2016, dtype=object),
                    "wpp_median_age": 25 + 0.3 * np.arange(n),
                    "wpp_dependency_per_100": 51 + rng.normal(0, 1, n),
                    "wpp_pop_growth_pct": rng.normal(1, 0.3, n),
                    "wpp_is_projection": pd.Series(ind_years >= 2016, dtype=object),
                }
            )
        )
    indicators = pd.concat(rows, ignore_index=True)
    pairs = pd.DataFrame(
        {
            "reporter": "KOR",
            "partner": PARTNERS,
            "distance_km": [1000.0, 2000.0, 5000.0, 9000.0, 12000.0],
            "dist_km": [1000.0, 2000.0, 5000.0, 9000.0, 12000.0],
            "contiguous": [1.0, 0.0, 0.0, 0.0, np.nan],
            "common_language": [0.0, 1.0, 0.0, 0.0, np.nan],
        }
    )
    ts = pd.Timestamp
    fta = pd.DataFrame(
        [
            ("BBB", "B1", "bilateral FTA", "in_force", ts("2003-05-01"), ts("2005-03-01"), None),
            (
                "CCC",
                "C1",
                "bilateral FTA",
                "exited",
                ts("2008-01-10"),
                ts("2011-07-01"),
                ts("2013-06-30"),
            ),
            ("DDD", "D1", "FTA with bloc", "in_force", None, ts("2009-01-01"), None),
            (
                "EEE",
                "E1",
                "partial scope (PSA)",
                "in_force",
                ts("1990-01-01"),
                ts("1991-01-01"),
                None,
            ),
            ("EEE", "E2", "bilateral FTA", "signed_pending", ts("2012-01-01"), None, None),
        ],
        columns=[
            "partner",
            "agreement_short",
            "agreement_type",
            "status",
            "signed_date",
            "in_force_date",
            "exit_date",
        ],
    ).assign(reporter="KOR")
    for col in ("signed_date", "in_force_date", "exit_date"):
        fta[col] = pd.to_datetime(fta[col])
    return {"panel": panel, "indicators": indicators, "pairs": pairs, "fta": fta, "totals": totals}


def _build(tables: dict[str, pd.DataFrame], **kwargs) -> pd.DataFrame:
    kwargs.setdefault("origins", range(1999, 2016))
    kwargs.setdefault("horizon", 3)
    return build_features(
        tables["panel"],
        tables["indicators"],
        tables["pairs"],
        tables["fta"],
        tables["totals"],
        **kwargs,
    )


def _row(out: pd.DataFrame, partner: str, origin: int, h: int = 1) -> pd.Series:
    sel = out[(out["partner"] == partner) & (out["origin"] == origin) & (out["h"] == h)]
    assert len(sel) == 1
    return sel.iloc[0]


# ---------------------------------------------------------------- the leakage test


def _random_dates(rng: np.random.Generator, n: int, after_year: int) -> pd.Series:
    days = rng.integers(0, 80 * 365, n)
    return pd.Series(pd.Timestamp(f"{after_year + 1}-01-01") + pd.to_timedelta(days, "D"))


def _garble(tables: dict[str, pd.DataFrame], origin: int, seed: int) -> dict[str, pd.DataFrame]:
    """Every value dated after ``origin`` replaced by shuffled garbage; all row orders shuffled."""
    rng = np.random.default_rng(seed)

    def shuffle(df: pd.DataFrame) -> pd.DataFrame:
        return df.sample(frac=1.0, random_state=int(rng.integers(1 << 31)), ignore_index=True)

    def garble_years(df: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
        df = df.copy()
        late = (df["year"] > origin).to_numpy()
        for col in df.columns.difference(keys):
            if df[col].dtype == object:
                df.loc[late, col] = rng.choice(
                    np.array([True, False, None, "junk"], dtype=object), late.sum()
                )
            else:
                df.loc[late, col] = rng.choice([np.nan, -1.0, 0.0, 1e15], late.sum()) * rng.random(
                    late.sum()
                )
        return shuffle(df)

    panel = tables["panel"]
    # Also add garbage rows for years nobody has seen yet.
    extra = panel[panel["year"] == panel["year"].max()].assign(year=panel["year"].max() + 3)
    out = {
        "panel": garble_years(
            pd.concat([panel, extra], ignore_index=True), ["reporter", "partner", "year"]
        ),
        "totals": garble_years(tables["totals"], ["reporter", "year"]),
        "indicators": garble_years(tables["indicators"], ["country", "year"]),
        "pairs": shuffle(tables["pairs"]),
    }
    fta = tables["fta"].copy()
    signed = fta["signed_date"].fillna(fta["in_force_date"])
    late = (signed.dt.year > origin).to_numpy()
    n = int(late.sum())
    if n:
        fta.loc[late, "signed_date"] = _random_dates(rng, n, origin).to_numpy()
        fta.loc[late, "in_force_date"] = (
            pd.Timestamp("1950-01-01") + pd.to_timedelta(rng.integers(0, 40000, n), "D")
        ).to_numpy()
        fta.loc[late, "status"] = rng.choice(["in_force", "exited", "signed_pending"], n)
        fta.loc[late, "agreement_type"] = rng.choice(["bilateral FTA", "partial scope (PSA)"], n)
        fta.loc[late, "agreement_short"] = [f"JUNK{i}" for i in range(n)]
    late_exit = (fta["exit_date"].dt.year > origin).to_numpy()
    fta.loc[late_exit, "exit_date"] = _random_dates(rng, int(late_exit.sum()), origin).to_numpy()
    out["fta"] = shuffle(fta)
    return out


def _features_at(out: pd.DataFrame, origin: int) -> pd.DataFrame:
    return out.loc[out["origin"] == origin, COMPARED].reset_index(drop=True)


@pytest.fixture(scope="module")
def clean() -> pd.DataFrame:
    """The features of the ungarbled tables (default arguments), built once for the leakage
    checks below; each reads its own origin's rows through ``_features_at`` (a copy)."""
    return _build(_tables())


@pytest.mark.parametrize("origin", [1999, 2004, 2008, 2010, 2012])
def test_features_of_origin_use_no_data_after_origin(origin, clean):
    dirty = _build(_garble(_tables(), origin, seed=origin))
    expected = _features_at(clean, origin)
    assert len(expected) == len(PARTNERS) * 3
    pd.testing.assert_frame_equal(_features_at(dirty, origin), expected)


def test_leakage_check_catches_oracle_demand():
    # The same check must fail for the oracle, or it could not fail at all.
    tables = _tables()
    clean = _build(tables, demand="oracle")
    dirty = _build(_garble(tables, 2008, seed=1), demand="oracle")
    a = _features_at(clean, 2008)["partner_gdp_growth_expected"]
    b = _features_at(dirty, 2008)["partner_gdp_growth_expected"]
    assert a.notna().all()
    assert not np.allclose(a, b, equal_nan=True)


def test_leakage_check_catches_target(clean):
    target = clean.query("origin == 2008")["y_log_growth"].to_numpy()
    dirty = _build(_garble(_tables(), 2008, seed=2)).query("origin == 2008")["y_log_growth"]
    assert not np.allclose(target, dirty.to_numpy(), equal_nan=True)


@pytest.fixture(scope="module")
def korea() -> dict[str, pd.DataFrame]:
    from exportcast.flows.snapshot import SnapshotError, load_snapshot

    try:
        snap = load_snapshot(SNAPSHOT)
    except (SnapshotError, OSError) as err:
        pytest.skip(f"embedded snapshot not loadable: {err}")
    return {
        "panel": snap["kor_exports"],
        "indicators": snap["indicators"],
        "pairs": snap["pairs"][snap["pairs"]["reporter"] == "KOR"],
        "fta": snap["fta"],
        "totals": snap["kor_totals"],
    }


@pytest.mark.parametrize("origin", [2001, 2010, 2018])
def test_korea_snapshot_features_use_no_data_after_origin(korea, origin):
    tables = korea
    kwargs = {"origins": [origin - 1, origin, origin + 1], "horizon": 5}
    clean = _features_at(_build(tables, **kwargs), origin)
    dirty = _features_at(_build(_garble(tables, origin, seed=origin), **kwargs), origin)
    assert len(clean) > 500
    pd.testing.assert_frame_equal(dirty, clean)


# ---------------------------------------------------------------- shape and contract


def test_columns_keys_and_order():
    out = _build(_tables(), origins=[2005, 2003], horizon=2)
    assert list(out.columns[:5]) == KEY_COLUMNS
    assert set(FEATURE_COLUMNS) <= set(out.columns)
    assert len(out) == 2 * len(PARTNERS) * 2
    assert out[["origin", "h", "target_year"]].dtypes.eq("int64").all()
    assert (out["target_year"] == out["origin"] + out["h"]).all()
    assert out.equals(out.sort_values(["reporter", "partner", "origin", "h"], ignore_index=True))


def test_inputs_are_not_mutated():
    tables = _tables()
    before = {k: v.copy() for k, v in tables.items()}
    _build(tables, demand="oracle")
    for k, v in tables.items():
        pd.testing.assert_frame_equal(v, before[k])


def test_target_is_log_growth_and_nan_beyond_data_rows_kept():
    tables = _tables()
    out = _build(tables, origins=[2010, 2014], horizon=3)
    x = tables["panel"].set_index(["partner", "year"])["export_usd"]
    r = _row(out, "CCC", 2010, 3)
    assert r["y_log_growth"] == pytest.approx(np.log(x["CCC", 2013] / x["CCC", 2010]))
    live = out[(out["origin"] == 2014) & (out["h"] >= 2)]
    assert len(live) == 2 * len(PARTNERS) and live["y_log_growth"].isna().all()


def test_min_history_and_zero_at_origin_exclude_pairs():
    tables = _tables()
    panel = tables["panel"]
    panel = panel[~((panel["partner"] == "AAA") & (panel["year"] < 2006))]
    panel.loc[(panel["partner"] == "BBB") & (panel["year"] == 2008), "export_usd"] = 0.0
    tables["panel"] = panel
    out = _build(tables, origins=[2008, 2009], horizon=1, min_history=4)
    assert "AAA" not in set(out.loc[out["origin"] == 2008, "partner"])  # 3 years of history
    assert "AAA" in set(out.loc[out["origin"] == 2009, "partner"])  # 4 years
    assert "BBB" not in set(out.loc[out["origin"] == 2008, "partner"])  # zero at T
    assert np.isnan(_row(out, "BBB", 2009)["growth_1"])  # log of zero is not a number


# ---------------------------------------------------------------- each feature by hand


def test_lagged_level_growth_and_share():
    tables = _tables()
    out = _build(tables, origins=[2006], horizon=1)
    x = tables["panel"].set_index(["partner", "year"])["export_usd"]
    tot = tables["totals"].set_index("year")["total_export_usd"]
    r = _row(out, "DDD", 2006)
    assert r["log_export"] == pytest.approx(np.log(x["DDD", 2006]))
    for k in (1, 2, 3):
        assert r[f"growth_{k}"] == pytest.approx(np.log(x["DDD", 2006] / x["DDD", 2006 - k]))
    assert r["partner_share"] == pytest.approx(x["DDD", 2006] / tot[2006])
    assert r["reporter_growth_1"] == pytest.approx(np.log(tot[2006] / tot[2005]))
    assert r["export_usd_origin"] == x["DDD", 2006]


def test_growth_is_nan_when_lag_year_missing():
    tables = _tables()
    panel = tables["panel"]
    tables["panel"] = panel[~((panel["partner"] == "EEE") & (panel["year"] == 2004))]
    r = _row(_build(tables, origins=[2006], horizon=1), "EEE", 2006)
    assert np.isnan(r["growth_2"]) and not np.isnan(r["growth_1"]) and not np.isnan(r["growth_3"])


def test_indicators_at_origin_and_latest_available_before_it():
    tables = _tables()
    ind = tables["indicators"]
    at = ind.set_index(["country", "year"])
    out = _build(tables, origins=[2007], horizon=1)
    r = _row(out, "CCC", 2007)
    assert r["partner_log_gdp"] == pytest.approx(np.log(at.loc[("CCC", 2007), "gdp_usd"]))
    assert r["partner_log_gdp_pc"] == pytest.approx(np.log(at.loc[("CCC", 2007), "gdp_pc_usd"]))
    assert r["partner_pop_growth"] == pytest.approx(at.loc[("CCC", 2007), "pop_growth_pct"])
    assert r["partner_pop_0_14"] == pytest.approx(at.loc[("CCC", 2007), "pop_0_14_pct"])
    assert r["partner_median_age"] == pytest.approx(at.loc[("CCC", 2007), "wpp_median_age"])
    assert r["partner_dependency"] == pytest.approx(at.loc[("CCC", 2007), "dependency_ratio_pct"])
    # CCC's 2006-2007 age structure missing -> the 2005 value (latest at or before T).
    gone = ind["country"].eq("CCC") & ind["year"].isin([2006, 2007])
    tables["indicators"] = ind.assign(pop_0_14_pct=ind["pop_0_14_pct"].mask(gone))
    r = _row(_build(tables, origins=[2007], horizon=1), "CCC", 2007)
    assert r["partner_pop_0_14"] == pytest.approx(at.loc[("CCC", 2005), "pop_0_14_pct"])


def test_stale_indicator_becomes_nan_not_a_future_value():
    tables = _tables()
    ind = tables["indicators"]
    gone = ind["country"].eq("BBB") & ind["year"].between(2000, 2010)
    tables["indicators"] = ind.assign(pop_0_14_pct=ind["pop_0_14_pct"].mask(gone))
    out = _build(tables, origins=[2000 + MAX_STALE_YEARS - 1, 2000 + MAX_STALE_YEARS], horizon=1)
    assert not np.isnan(_row(out, "BBB", 2000 + MAX_STALE_YEARS - 1)["partner_pop_0_14"])
    assert np.isnan(_row(out, "BBB", 2000 + MAX_STALE_YEARS)["partner_pop_0_14"])


def test_gdp_falls_back_to_weo_when_wdi_missing():
    tables = _tables()
    ind = tables["indicators"]
    tables["indicators"] = ind.assign(gdp_usd=ind["gdp_usd"].mask(ind["country"] == "EEE"))
    r = _row(_build(tables, origins=[2007], horizon=1), "EEE", 2007)
    weo = ind.set_index(["country", "year"]).loc[("EEE", 2007), "weo_gdp_usd"]
    assert r["partner_log_gdp"] == pytest.approx(np.log(weo))


def test_pair_variables():
    out = _build(_tables(), origins=[2007], horizon=1)
    r = _row(out, "AAA", 2007)
    assert r["log_distance"] == pytest.approx(np.log(1000.0))
    assert r["contiguous"] == 1.0 and r["common_language"] == 0.0
    assert np.isnan(_row(out, "EEE", 2007)["contiguous"])


def test_fta_measured_at_target_year_known_only_if_signed_by_origin():
    out = _build(_tables(), origins=[2002, 2003, 2007, 2010], horizon=3)
    # BBB signed 2003, in force 2005: unknown at 2002, scheduled at 2003.
    assert _row(out, "BBB", 2002, 3)["fta_in_force"] == 0
    r = _row(out, "BBB", 2003, 3)
    assert r["fta_in_force"] == 1 and r["years_since_fta"] == 1 and r["fta_new"] == 1
    assert _row(out, "BBB", 2003, 1)["fta_in_force"] == 0
    assert np.isnan(_row(out, "BBB", 2003, 1)["years_since_fta"])
    # Already in force at the origin: not new.
    r = _row(out, "BBB", 2007, 2)
    assert r["fta_in_force"] == 1 and r["fta_new"] == 0 and r["years_since_fta"] == 4
    # CCC signed 2008 (unknown at 2007); exit in 2013 is unknown at 2010, so it goes on.
    assert _row(out, "CCC", 2007, 3)["fta_in_force"] == 0
    assert _row(out, "CCC", 2010, 3)["fta_in_force"] == 1
    # DDD has no signing date: known from its entry (2009) on.
    assert _row(out, "DDD", 2007, 2)["fta_in_force"] == 0
    # Partial-scope and not-in-force agreements never count.
    assert _row(out, "EEE", 2010, 3)["fta_in_force"] == 0


def test_fta_exit_known_once_it_happened():
    out = _build(_tables(), origins=[2014], horizon=1)
    r = _row(out, "CCC", 2014)
    assert r["fta_in_force"] == 0 and np.isnan(r["years_since_fta"])


def test_expected_demand_known_is_h_times_mean_of_last_five_years():
    tables = _tables()
    out = _build(tables, origins=[2009], horizon=3)
    g = tables["indicators"].set_index(["country", "year"])["gdp_growth_pct"]
    mean = np.mean([np.log1p(g["AAA", y] / 100) for y in range(2005, 2010)])
    for h in (1, 2, 3):
        r = _row(out, "AAA", 2009, h)
        assert r["partner_gdp_growth_expected"] == pytest.approx(h * mean)
        assert r["demand_source"] == DEMAND_SOURCES["known"]


def test_expected_demand_oracle_is_realised_growth():
    tables = _tables()
    out = _build(tables, origins=[2009], horizon=3, demand="oracle")
    g = tables["indicators"].set_index(["country", "year"])["gdp_growth_pct"]
    r = _row(out, "AAA", 2009, 3)
    assert r["partner_gdp_growth_expected"] == pytest.approx(
        sum(np.log1p(g["AAA", y] / 100) for y in (2010, 2011, 2012))
    )
    assert "ORACLE" in r["demand_source"]


def test_expected_demand_oracle_never_uses_weo_projections():
    tables = _tables()
    ind = tables["indicators"]
    tables["indicators"] = ind.assign(
        gdp_growth_pct=ind["gdp_growth_pct"].where(ind["year"] < 2014)
    )
    out = _build(tables, origins=[2012], horizon=3, demand="oracle")
    weo = ind.set_index(["country", "year"])["weo_gdp_growth_pct"]
    # 2014-2015 fall back to WEO actuals; 2016 is a WEO projection -> NaN, not a realisation.
    assert _row(out, "AAA", 2012, 3)["partner_gdp_growth_expected"] == pytest.approx(
        np.log1p(ind.set_index(["country", "year"])["gdp_growth_pct"]["AAA", 2013] / 100)
        + np.log1p(weo["AAA", 2014] / 100)
        + np.log1p(weo["AAA", 2015] / 100)
    )
    assert np.isnan(
        _row(_build(tables, origins=[2013], horizon=3, demand="oracle"), "AAA", 2013, 3)[
            "partner_gdp_growth_expected"
        ]
    )


def test_expected_demand_weo_sums_weo_growth_for_live_origin():
    tables = _tables()
    out = _build(tables, origins=[2015], horizon=3, demand="weo")
    weo = tables["indicators"].set_index(["country", "year"])["weo_gdp_growth_pct"]
    r = _row(out, "BBB", 2015, 3)
    assert r["partner_gdp_growth_expected"] == pytest.approx(
        sum(np.log1p(weo["BBB", y] / 100) for y in (2016, 2017, 2018))
    )
    assert r["demand_source"] == DEMAND_SOURCES["weo"]


def test_expected_demand_weo_refuses_backtest_origins():
    with pytest.raises(ValueError, match="live forecasts"):
        _build(_tables(), origins=[2008, 2015], horizon=3, demand="weo")


def test_bad_arguments_raise():
    tables = _tables()
    with pytest.raises(ValueError, match="demand"):
        _build(tables, demand="future")
    with pytest.raises(ValueError, match="horizon"):
        _build(tables, horizon=0)
    with pytest.raises(ValueError, match="panel lacks"):
        tables["panel"] = tables["panel"].drop(columns="export_usd")
        _build(tables)


def test_gravity_frame_has_realised_fta_and_log_gdp():
    tables = _tables()
    out = build_gravity_frame(tables["panel"], tables["indicators"], tables["pairs"], tables["fta"])
    assert len(out) == len(tables["panel"])
    bbb = out[out["partner"] == "BBB"].set_index("year")
    assert bbb.loc[2004, "fta_in_force"] == 0 and bbb.loc[2005, "fta_in_force"] == 1
    gdp = tables["indicators"].set_index(["country", "year"])["gdp_usd"]
    assert bbb.loc[2004, "log_partner_gdp"] == pytest.approx(np.log(gdp["BBB", 2004]))
    assert bbb.loc[2004, "log_distance"] == pytest.approx(np.log(2000.0))


def test_origin_without_data_gives_empty_frame_with_columns():
    out = _build(_tables(), origins=[2050], horizon=2)
    assert out.empty and list(out.columns[:5]) == KEY_COLUMNS


def test_duplicate_keys_raise():
    tables = _tables()
    tables["panel"] = pd.concat([tables["panel"], tables["panel"].iloc[:1]])
    with pytest.raises(ValueError, match="duplicate"):
        _build(tables)
