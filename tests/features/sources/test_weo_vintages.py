import numpy as np
import pandas as pd
import pytest

from exportcast.features.sources._common import SourceError
from exportcast.features.sources.weo_vintages import (
    VINTAGE_COLUMNS,
    load_weo_latest_vintage,
    load_weo_vintages,
    published_date,
    weo_vintages_table,
)
from exportcast.flows.io import CODE_ROOT
from exportcast.flows.snapshot import load_snapshot


def _frame(loaded):
    return loaded.frame.drop(columns=["_row"], errors="ignore")


def test_good_file_keeps_iso3_and_world_and_merges_two_spellings(bad):
    loaded = load_weo_vintages(bad / "weo_vintages" / "good.parquet")
    f = _frame(loaded)
    assert list(f.columns) == VINTAGE_COLUMNS
    assert sorted(set(f["country"])) == ["KOR", "TUR", "WLD"]
    assert loaded.dropped == {
        "IMF group Euro area": 4,
        "second spelling of a country, merged": 1,
    }
    tur = f.set_index(["country", "vintage", "target_year"]).loc[("TUR", "F2008", 2009)]
    assert tur["prediction"] == 5.0  # from the second spelling
    assert tur["outturn"] == -0.5  # from the first
    kor = f.loc[(f["country"] == "KOR") & (f["vintage"] == "S2008")]
    assert kor["published"].tolist() == [pd.Timestamp("2008-04-15")] * 2
    assert kor["season"].tolist() == ["S", "S"]
    assert kor["vintage_year"].tolist() == [2008, 2008]


def test_publication_dates_follow_the_documented_rule():
    got = published_date([1995, 2001, 2002, 2008, 2025], ["S", "S", "S", "F", "F"])
    assert got.dt.strftime("%Y-%m-%d").tolist() == [
        "1995-05-15",
        "2001-05-15",
        "2002-04-15",
        "2008-10-15",
        "2025-10-15",
    ]


@pytest.mark.parametrize(
    ("name", "row", "column", "expected"),
    [
        ("missing_column", None, None, r"missing column\(s\) \['tv_1'\]"),
        ("text_in_number", 3, "prediction", "expected a number, found 'n/a'"),
        ("unknown_target", 4, "target", r"expected one of \['ngdp_rpch', 'pcpi_pch'\]"),
        ("bad_season", 5, "forecast_season", r"expected one of \['S', 'F'\], found 'W'"),
        ("target_too_far", 6, "target_year", "not 0-5 years after the vintage year 2008"),
        ("bad_horizon", 2, "horizon", "horizon 3.0 disagrees with the vintage S2008"),
        ("unknown_code", 7, "ISOAlpha_3Code", "unknown country code 'XYZ'"),
        ("blank_code_not_group", 8, "country", "blank ISOAlpha_3Code for 'Atlantis'"),
        ("conflicting_duplicate", 16, None, "duplicate key .*'TUR'.* with different values"),
        (
            "below_minus_100",
            9,
            "tv_1",
            r"above -100, found -100.0 \(Euro area, ngdp_rpch, S2008, 2008\)",
        ),
        ("not_parquet", None, None, "not a readable Parquet file"),
    ],
)
def test_bad_files_name_file_row_and_expectation(bad, name, row, column, expected):
    path = bad / "weo_vintages" / f"{name}.parquet"
    with pytest.raises(SourceError, match=expected) as err:
        load_weo_vintages(path)
    assert err.value.path == str(path)
    assert str(path) in str(err.value)
    assert err.value.row == row
    assert err.value.column == column


def test_missing_file_is_named(tmp_path):
    with pytest.raises(SourceError, match="file not found"):
        load_weo_vintages(tmp_path / "nope.parquet")


def test_latest_vintage_rows_and_2024_outturns(bad):
    loaded, outturns = load_weo_latest_vintage(bad / "weo_vintages" / "latest_good.csv")
    f = _frame(loaded).set_index(["country", "target", "target_year"])
    assert set(f["vintage"]) == {"F2025"}
    assert set(f["published"]) == {pd.Timestamp("2025-10-15")}
    assert f.loc[("WLD", "ngdp_rpch", 2025), "prediction"] == 3.2
    assert f.loc[("XKX", "ngdp_rpch", 2026), "prediction"] == 4.0
    assert f["outturn"].isna().all()
    assert 2024 not in f.index.get_level_values("target_year")
    assert loaded.dropped == {"IMF group": 1}
    assert outturns.sort_values("country").to_dict("records") == [
        {"country": "KOR", "target": "ngdp_rpch", "target_year": 2024, "outturn": 2.0},
        {"country": "WLD", "target": "pcpi_pch", "target_year": 2024, "outturn": 5.8},
    ]


@pytest.mark.parametrize(
    ("name", "row", "column", "expected"),
    [
        ("latest_unknown_code", 8, "ref_area", "unknown country code 'XYZ'"),
        ("latest_duplicate", 10, None, "duplicate key"),
        ("latest_below_minus_100", 4, "value", r"above -100, found -120 \(KOR, PCPIPCH, 2025\)"),
    ],
)
def test_bad_latest_files_name_file_row_and_expectation(bad, name, row, column, expected):
    path = bad / "weo_vintages" / f"{name}.csv"
    with pytest.raises(SourceError, match=expected) as err:
        load_weo_latest_vintage(path)
    assert str(path) in str(err.value)
    assert err.value.row == row
    assert err.value.column == column


def test_table_fills_only_missing_outturns_and_refuses_a_clash(bad):
    hist = _frame(load_weo_vintages(bad / "weo_vintages" / "good.parquet"))
    hist = hist.assign(outturn=hist["outturn"].where(hist["target_year"] != 2009))
    latest, _ = load_weo_latest_vintage(bad / "weo_vintages" / "latest_good.csv")
    outturns = pd.DataFrame(
        {
            "country": ["KOR", "KOR"],
            "target": ["ngdp_rpch"] * 2,
            "target_year": [2009, 2008],
            "outturn": [-0.7, 99.0],
        }
    )
    table = weo_vintages_table(hist, _frame(latest), outturns)
    kor = table.loc[(table["country"] == "KOR") & (table["vintage"] != "F2025")]
    assert kor.groupby("target_year")["outturn"].unique().to_dict() == {2008: [2.0], 2009: [-0.7]}
    first = table.groupby(["country", "target"])["published"].apply(
        lambda s: s.is_monotonic_increasing
    )
    assert first.all()
    with pytest.raises(ValueError, match="in both inputs"):
        weo_vintages_table(hist, hist, outturns)


@pytest.mark.rawdata
def test_real_file_matches_the_documented_checks(raw):
    loaded = load_weo_vintages(raw / "imf_weo_vintages" / "weo_historical_forecasts.parquet")
    f = _frame(loaded).set_index(["country", "target", "vintage", "target_year"])
    assert len(set(f.index.get_level_values("vintage"))) == 70
    assert len(set(f.index.get_level_values("country"))) == 197  # 196 economies + WLD
    g = "ngdp_rpch"
    assert f.loc[("KOR", g, "S1998", 1998), "prediction"] == pytest.approx(-0.8, abs=0.05)
    assert f.loc[("KOR", g, "S1998", 1998), "outturn"] == pytest.approx(-5.8, abs=0.05)
    assert f.loc[("KOR", g, "S2009", 2009), "prediction"] == pytest.approx(-4.0, abs=0.05)
    assert f.loc[("USA", g, "F2008", 2009), "prediction"] == pytest.approx(0.05, abs=0.05)
    assert f.loc[("WLD", g, "F2008", 2009), "prediction"] == pytest.approx(3.0, abs=0.05)
    assert f.loc[("KHM", g, "F2018", 2019), "prediction"] == pytest.approx(6.8, abs=0.05)
    assert f.loc[("KHM", g, "F2018", 2019), "outturn"] == pytest.approx(7.0, abs=0.05)


def test_committed_snapshot_table_has_the_agreed_schema():
    t = load_snapshot(CODE_ROOT / "data" / "snapshot", ["weo_vintages"])["weo_vintages"]
    assert list(t.columns) == VINTAGE_COLUMNS
    assert t.dtypes.astype(str).tolist() == [
        "object", "object", "int64", "object", "datetime64[ns]", "object", "int64", "float64",
        "float64",
    ]  # fmt: skip
    assert set(t["target"]) == {"ngdp_rpch", "pcpi_pch"}
    assert t["vintage"].nunique() == 71  # S1990-F2024 and F2025
    assert "WLD" in set(t["country"])
    newest = t.loc[t["vintage"] == "F2025"]
    assert sorted(set(newest["target_year"])) == list(range(2025, 2031))
    assert newest["outturn"].isna().all()
    # every fall vintage has horizons 0-5, every spring one as well
    span = t.groupby("vintage")["target_year"].agg(["min", "max"])
    years = t.groupby("vintage")["vintage_year"].first()
    assert ((span["min"] - years) == 0).all() and ((span["max"] - years) == 5).all()
    assert not t.duplicated(["country", "vintage", "target", "target_year"]).any()
    assert np.isfinite(t["prediction"].dropna()).all()
