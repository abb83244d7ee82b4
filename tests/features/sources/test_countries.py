import pandas as pd
import pytest

from exportcast.features.sources._common import SourceError
from exportcast.features.sources.countries import (
    INCOME_GROUPS,
    load_countries,
    load_income_history,
    load_wb_economies,
)

# --- real files ------------------------------------------------------------------------------


@pytest.mark.rawdata
def test_real_country_reference(raw):
    f = load_countries(raw / "country_ref" / "countries.csv").frame
    assert len(f) == 251
    assert list(f.columns) == [
        "country",
        "name",
        "continent",
        "un_subregion",
        "wb_region",
        "income_group",
        "oecd_since",
        "eu_member",
        "g20_member",
        "apec_member",
    ]
    by = f.set_index("country")
    assert by.loc["KOR", "income_group"] == "High income"
    assert by.loc["KHM", "income_group"] == "Lower middle income"
    assert by.loc["KOR", "oecd_since"] == 1996
    assert pd.isna(by.loc["KHM", "oecd_since"])
    assert str(f["oecd_since"].dtype) == "Int64"
    assert by.loc["KOR", "apec_member"] and not by.loc["KOR", "eu_member"]
    assert f["eu_member"].sum() == 27
    assert by.loc["DEU", "g20_member"] and by.loc["MLT", "g20_member"]  # EU states flagged
    assert {"CHI", "XKX"} <= set(f["country"])
    assert f["eu_member"].dtype == bool and f["g20_member"].dtype == bool


@pytest.mark.rawdata
def test_real_income_history(raw):
    loaded = load_income_history(raw / "wb_class" / "class_historical_fy1988_2026.csv")
    f = loaded.frame
    assert len(f) == 8284
    assert not f.duplicated(["country", "year"]).any()
    assert (f["fiscal_year"] - f["year"] == 2).all()
    by = f.set_index(["country", "year"])["income_group"]
    assert by["KOR", 2024] == "High income"
    assert by["KHM", 2024] == "Lower middle income"
    assert set(f["income_group"].dropna()) <= set(INCOME_GROUPS)


@pytest.mark.rawdata
def test_real_wb_economies(raw):
    loaded = load_wb_economies(raw / "wb_class" / "class_fy2026_economies.csv")
    f = loaded.frame
    assert len(f) == 218
    assert loaded.dropped == {"aggregate (blank Region)": 48, "blank row": 1}
    by = f.set_index("country")
    assert by.loc["KHM", "income_group"] == "Lower middle income"
    assert by.loc["KOR", "income_group"] == "High income"
    assert pd.isna(by.loc["VEN", "income_group"])
    assert {"XKX", "CHI"} <= set(f["country"])


# --- small files -----------------------------------------------------------------------------


def test_countries_good_small_file(bad):
    f = load_countries(bad / "countries" / "countries_good.csv").frame
    assert f["country"].tolist() == ["AIA", "DEU", "KHM", "KOR", "NAM", "XKX"]
    by = f.set_index("country")
    assert by.loc["DEU", "eu_member"] and by.loc["DEU", "oecd_since"] == 1961
    assert not by.loc["KHM", "g20_member"]
    assert pd.isna(by.loc["AIA", "income_group"])
    assert pd.isna(by.loc["XKX", "continent"])
    assert f.index.equals(pd.RangeIndex(len(f)))
    assert "_row" not in f.columns


def test_history_good_small_file(bad):
    f = load_income_history(bad / "countries" / "history_good.csv").frame
    assert list(f.columns) == ["country", "year", "fiscal_year", "income_group"]
    assert list(zip(f["country"], f["year"], strict=True)) == [
        ("KHM", 2023),
        ("KHM", 2024),
        ("KOR", 2024),
    ]


def test_economies_good_small_file(bad):
    loaded = load_wb_economies(bad / "countries" / "economies_good.csv")
    assert loaded.frame["country"].tolist() == ["ETH", "KHM", "KOR", "XKX"]
    assert loaded.dropped == {"aggregate (blank Region)": 2, "blank row": 1}
    assert pd.isna(loaded.frame.set_index("country").loc["ETH", "income_group"])


@pytest.mark.parametrize(
    ("loader", "name", "row", "column", "words"),
    [
        (load_countries, "countries_missing_column.csv", None, None, "missing column"),
        (load_countries, "countries_text_in_number.csv", 3, "oecd_since", "expected a number"),
        (load_countries, "countries_duplicate_rows.csv", 4, None, "duplicate key"),
        (load_countries, "countries_unknown_code.csv", 3, "iso3", "unknown country code 'QQQ'"),
        (load_countries, "countries_bad_flag.csv", 3, "eu_member", "expected 'EU' or blank"),
        (load_countries, "countries_bad_income.csv", 3, "wb_income_group_fy2026", "income"),
        (load_income_history, "history_missing_column.csv", None, None, "missing column"),
        (load_income_history, "history_text_in_number.csv", 3, "year_data", "expected a number"),
        (load_income_history, "history_duplicate_rows.csv", 4, None, "duplicate key"),
        (load_income_history, "history_unknown_code.csv", 3, "code", "unknown country code"),
        (load_income_history, "history_bad_income.csv", 3, "incgroup_historical", "'Rich'"),
        (load_wb_economies, "economies_missing_column.csv", None, None, "missing column"),
        (load_wb_economies, "economies_duplicate_rows.csv", 3, None, "duplicate key"),
        (load_wb_economies, "economies_unknown_code.csv", 3, "Code", "'QQQ'"),
    ],
)
def test_bad_file_error_names_file_row_and_column(bad, loader, name, row, column, words):
    with pytest.raises(SourceError) as err:
        loader(bad / "countries" / name)
    e = err.value
    assert name in str(e)
    assert e.row == row
    assert e.column == column
    assert words in str(e)


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(SourceError, match="file not found"):
        load_countries(tmp_path / "nope.csv")
