import shutil

import pandas as pd
import pytest

from exportcast.features.sources._common import SourceError
from exportcast.features.sources.demography import (
    load_gapminder,
    load_gapminder_geo,
    load_wpp_population,
)

# --- real files ------------------------------------------------------------------------------


@pytest.mark.rawdata
def test_gapminder_real_cambodia_median_age_matches_published(raw):
    loaded = load_gapminder(raw / "gapminder_wpp")
    f = loaded.frame
    khm = f[f["country"] == "KHM"].set_index("year")
    assert khm.loc[2019, "median_age"] == pytest.approx(24.8, abs=0.05)
    assert khm.loc[2024, "median_age"] == pytest.approx(26.0, abs=0.05)
    assert khm.loc[2030, "median_age"] == pytest.approx(27.1, abs=0.05)
    assert not khm.loc[2023, "is_projection"]
    assert khm.loc[2024, "is_projection"]
    assert list(f.columns) == [
        "country",
        "year",
        "median_age",
        "dependency_per_100",
        "pop_growth_pct",
        "is_projection",
    ]
    assert (f["year"].min(), f["year"].max()) == (1980, 2030)
    assert not f.duplicated(["country", "year"]).any()
    assert f[["median_age", "dependency_per_100", "pop_growth_pct"]].notna().all().all()
    assert "KOR" in set(f["country"]) and "XKX" in set(f["country"])  # kos -> XKX
    assert isinstance(f.index, pd.RangeIndex) and "_row" not in f.columns


@pytest.mark.rawdata
def test_wpp_real_population_in_persons_matches_published(raw):
    loaded = load_wpp_population(raw / "wpp2024" / "population_projections_2024_2100.csv")
    pop = loaded.frame.set_index(["country", "year"])["pop"]
    assert pop["KHM", 2024] / 1e6 == pytest.approx(17.74, abs=0.005)
    assert pop["KHM", 2030] / 1e6 == pytest.approx(18.92, abs=0.005)
    assert pop["KOR", 2024] / 1e6 == pytest.approx(51.70, abs=0.005)
    assert pop["KOR", 2030] / 1e6 == pytest.approx(51.12, abs=0.005)
    assert loaded.dropped["aggregate (location_type != 4)"] > 0
    f = loaded.frame
    assert set(f["year"]) == set(range(2024, 2031))
    assert (f["pop_95l"] <= f["pop_80l"]).all() and (f["pop_80u"] <= f["pop_95u"]).all()
    assert "XKX" in set(f["country"])


@pytest.mark.rawdata
def test_gapminder_geo_real_has_points_cepii_lacks(raw):
    pts = load_gapminder_geo(raw / "gapminder_wpp").frame.set_index("country")
    assert {"SRB", "MNE", "SSD", "CUW"} <= set(pts.index)
    assert pts.loc["KOR", "lat"] == pytest.approx(36.5)


# --- small files -----------------------------------------------------------------------------


def test_gapminder_small_folder_maps_geo_keys_and_flags_projection(bad):
    loaded = load_gapminder(bad / "demography" / "gapminder", start=2023, end=2024)
    f = loaded.frame
    assert f["country"].tolist() == ["KHM", "KHM", "KOR", "KOR", "XKX", "XKX"]
    assert f["is_projection"].tolist() == [False, True] * 3
    khm = f[f["country"] == "KHM"].set_index("year")
    assert khm.loc[2024, "dependency_per_100"] == 56.1
    assert khm.loc[2024, "pop_growth_pct"] == 1.2
    assert loaded.dropped == {"no ISO3 (geo abkh)": 2}
    assert f.index.equals(pd.RangeIndex(len(f)))


def test_gapminder_year_window(bad):
    f = load_gapminder(bad / "demography" / "gapminder", start=2024, end=2030).frame
    assert set(f["year"]) == {2024}


def test_gapminder_geo_small(bad):
    loaded = load_gapminder_geo(bad / "demography" / "gapminder")
    assert loaded.frame["country"].tolist() == ["KHM", "KOR"]
    assert loaded.dropped == {"no ISO3": 1, "no coordinates": 1}  # abkh; kos (XKX) no lat/lon


@pytest.mark.parametrize(
    ("name", "row", "column", "words"),
    [
        ("missing_column.csv", None, None, "missing column"),
        ("text_in_number.csv", 3, "median_age_years", "expected a number"),
        ("duplicate_rows.csv", 3, None, "duplicate key"),
        ("negative_value.csv", 3, "median_age_years", "non-negative"),
        ("unknown_code.csv", 3, "geo", "'qqq' is not in geo_entities.csv"),
    ],
)
def test_gapminder_bad_file_error_names_file_row_and_column(
    bad, tmp_path, name, row, column, words
):
    folder = tmp_path / "gapminder"
    shutil.copytree(bad / "demography" / "gapminder", folder)
    shutil.copy(bad / "demography" / "gapminder_bad" / name, folder / "median_age_years.csv")
    with pytest.raises(SourceError) as err:
        load_gapminder(folder, start=2023, end=2024)
    e = err.value
    assert "median_age_years.csv" in str(e)
    assert e.row == row
    assert e.column == column
    assert words in str(e)


def test_wpp_small_file_converts_thousands_to_persons(bad):
    loaded = load_wpp_population(bad / "demography" / "wpp" / "good.csv")
    f = loaded.frame
    assert list(f.columns) == ["country", "year", "pop", "pop_80l", "pop_80u", "pop_95l", "pop_95u"]
    assert f["country"].tolist() == ["KHM", "KOR", "XKX"]
    assert f.loc[0, "pop"] == pytest.approx(17_744_518.0)
    assert f.loc[0, "pop_95u"] == pytest.approx(18_092_829.0)
    assert loaded.dropped == {"aggregate (location_type != 4)": 1}


@pytest.mark.parametrize(
    ("name", "row", "column", "words"),
    [
        ("missing_column.csv", None, None, "missing column"),
        ("text_in_number.csv", 3, "pop", "expected a number"),
        ("duplicate_rows.csv", 3, None, "duplicate key"),
        ("negative_value.csv", 3, "pop_80l", "non-negative"),
        ("unknown_code.csv", 3, "iso3", "unknown country code 'QQQ'"),
        ("persons_units.csv", 2, "pop", "thousands"),
        ("bounds_out_of_order.csv", 2, "pop_80l", "out of order"),
    ],
)
def test_wpp_bad_file_error_names_file_row_and_column(bad, name, row, column, words):
    with pytest.raises(SourceError) as err:
        load_wpp_population(bad / "demography" / "wpp" / name)
    e = err.value
    assert name in str(e)
    assert e.row == row
    assert e.column == column
    assert words in str(e)


def test_missing_files_are_clear_errors(tmp_path):
    with pytest.raises(SourceError, match="file not found"):
        load_wpp_population(tmp_path / "nope.csv")
    with pytest.raises(SourceError, match="file not found"):
        load_gapminder(tmp_path)
