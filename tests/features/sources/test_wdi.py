import math

import pandas as pd
import pytest

from exportcast.features.sources._common import SourceError
from exportcast.features.sources.codes import known_iso3
from exportcast.features.sources.wdi import (
    WB_AGGREGATES,
    WDI_INDICATORS,
    is_level_column,
    load_wdi,
    load_wdi_indicator,
)

REQUIRED_COLUMNS = {
    "ny.gdp.mktp.cd": "gdp_usd",
    "ny.gdp.mktp.kd.zg": "gdp_growth_pct",
    "ny.gdp.pcap.cd": "gdp_pc_usd",
    "ny.gdp.pcap.kd.zg": "gdp_pc_growth_pct",
    "sp.pop.totl": "pop",
    "sp.pop.grow": "pop_growth_pct",
    "sp.pop.0014.to.zs": "pop_0_14_pct",
    "sp.pop.65up.to.zs": "pop_65_up_pct",
    "sp.pop.dpnd": "dependency_ratio_pct",
    "sp.urb.totl.in.zs": "urban_pct",
    "tx.val.mrch.cd.wt": "merch_exports_usd",
    "tm.val.mrch.cd.wt": "merch_imports_usd",
    "ne.imp.gnfs.zs": "imports_gdp_pct",
    "fp.cpi.totl.zg": "inflation_pct",
    "pa.nus.fcrf": "fx_lcu_per_usd",
}


@pytest.fixture(scope="module")
def wdi(raw):
    return load_wdi(raw / "wdi")


def test_indicator_table_and_aggregate_list():
    assert REQUIRED_COLUMNS.items() <= WDI_INDICATORS.items()
    assert len(WB_AGGREGATES) == 48  # 47 from INDICATORS.md plus FCS
    assert not WB_AGGREGATES & known_iso3()
    levels = {c for c in WDI_INDICATORS.values() if is_level_column(c)}
    assert levels == {
        "gdp_usd",
        "gdp_pc_usd",
        "pop",
        "merch_exports_usd",
        "merch_imports_usd",
        "fx_lcu_per_usd",
    }


@pytest.mark.rawdata
def test_real_files_match_published_values(wdi):
    f = wdi.frame
    assert list(f.columns) == ["country", "year", *WDI_INDICATORS.values()]
    assert f.index.equals(pd.RangeIndex(len(f)))
    assert str(f["year"].dtype) == "int64"
    assert (f.drop(columns=["country", "year"]).dtypes == "float64").all()
    x = f.set_index(["country", "year"])
    growth = x.loc["KHM"].loc[2011:2019, "gdp_growth_pct"].round(2).tolist()
    assert growth == [7.29, 7.65, 7.86, 8.00, 7.21, 7.91, 8.08, 8.78, 7.94]
    assert x.loc[("KHM", 2019), "pop"] == 16_481_304
    assert x.loc[("KOR", 2019), "gdp_usd"] == pytest.approx(1.751e12, rel=1e-3)
    assert x.loc[("KOR", 2019), "merch_exports_usd"] / 1e9 == pytest.approx(542.2, abs=1)
    assert (x["gdp_growth_pct"] < 0).any()  # negative growth is allowed
    assert not f.duplicated(["country", "year"]).any()
    assert f["year"].between(1980, 2030).all()


@pytest.mark.rawdata
def test_real_files_have_no_aggregates(wdi):
    codes = set(wdi.frame["country"])
    assert not codes & {"WLD", "EAS", "FCS", "EUU", "HIC"}
    assert codes <= known_iso3()
    assert {"XKX", "CHI", "KOR", "KHM"} <= codes
    assert wdi.dropped["ny.gdp.mktp.cd: aggregate"] > 1000
    assert wdi.dropped["ny.gdp.pcap.kd.zg: aggregate"] > 1000  # includes FCS
    assert all(k.split(": ")[0] in WDI_INDICATORS for k in wdi.dropped)


def test_good_small_file_loads(bad):
    loaded = load_wdi_indicator(bad / "wdi" / "good.csv", "pop")
    f = loaded.frame
    assert list(f.columns) == ["country", "year", "pop"]
    assert f.values.tolist() == [
        ["KHM", 2019, 16481304.0],
        ["KOR", 2019, 51764822.0],
        ["XKX", 2019, 1788891.0],
    ]
    assert loaded.dropped == {"aggregate": 3}


def test_year_window(bad):
    f = load_wdi_indicator(bad / "wdi" / "good.csv", "pop", start=1960, end=1979).frame
    assert f.values.tolist() == [["KHM", 1975, 7000000.0]]


def test_negative_growth_is_allowed_but_negative_level_is_not(bad):
    f = load_wdi_indicator(bad / "wdi" / "growth.csv", "gdp_growth_pct").frame
    assert f["gdp_growth_pct"].tolist() == [7.94, -3.62]
    with pytest.raises(SourceError, match="non-negative"):
        load_wdi_indicator(bad / "wdi" / "growth.csv", "gdp_usd")


def test_load_wdi_joins_files_outer(bad):
    loaded = load_wdi(
        bad / "wdi" / "two_indicators", {"sp.pop.totl": "pop", "ny.gdp.mktp.kd.zg": "growth_pct"}
    )
    f = loaded.frame
    assert list(f.columns) == ["country", "year", "pop", "growth_pct"]
    assert f[["country", "year"]].values.tolist() == [
        ["KHM", 2019],
        ["KHM", 2020],
        ["KOR", 2019],
        ["XKX", 2020],
    ]
    assert f["pop"].tolist()[:3] == [16481304.0, 16725474.0, 51764822.0]
    assert math.isnan(f["pop"].iloc[3])
    assert math.isnan(f["growth_pct"].iloc[2])
    assert f["growth_pct"].iloc[3] == -5.34
    assert loaded.dropped == {"sp.pop.totl: aggregate": 1, "ny.gdp.mktp.kd.zg: aggregate": 2}
    assert loaded.path.endswith("two_indicators")


def test_load_wdi_rejects_clashing_columns_and_missing_files(bad):
    folder = bad / "wdi" / "two_indicators"
    with pytest.raises(ValueError, match="distinct"):
        load_wdi(folder, {"sp.pop.totl": "x", "ny.gdp.mktp.kd.zg": "x"})
    with pytest.raises(SourceError) as err:
        load_wdi(folder, {"sp.pop.totl": "pop", "sp.urb.totl.in.zs": "urban_pct"})
    assert "sp.urb.totl.in.zs.csv" in str(err.value)
    assert "file not found" in str(err.value)


@pytest.mark.parametrize(
    ("name", "row", "column", "words"),
    [
        ("missing_column.csv", None, None, "missing column"),
        ("text_in_number.csv", 3, "Value", "expected a number, found '51.8 million'"),
        ("duplicate_rows.csv", 3, None, "duplicate key"),
        ("negative_value.csv", 3, "Value", "non-negative"),
        ("unknown_code.csv", 3, "Country Code", "unknown country code 'CIX'"),
    ],
)
def test_bad_file_error_names_file_row_and_column(bad, name, row, column, words):
    with pytest.raises(SourceError) as err:
        load_wdi_indicator(bad / "wdi" / name, "pop")
    e = err.value
    assert name in str(e)
    assert e.row == row
    assert e.column == column
    assert words in str(e)


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(SourceError, match="file not found"):
        load_wdi_indicator(tmp_path / "nope.csv", "pop")
