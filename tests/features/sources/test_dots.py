import pandas as pd
import pytest

from exportcast.features.sources._common import SourceError
from exportcast.features.sources.codes import known_iso3
from exportcast.features.sources.dots import load_dots_exports
from exportcast.features.sources.wdi import load_wdi_indicator

KOR_FILE = "kor_exports_by_partner_imf_dots_1960_2020.csv"
ALL_FILE = "dots_exports_by_partner_all_reporters_1960_2020.csv.gz"
COLUMNS = ["reporter", "partner", "year", "export_usd", "estimated", "source"]
KOR_2019 = pd.DataFrame({"reporter": ["KOR"], "year": [2019], "total_usd": [542.6e9]})


@pytest.fixture(scope="module")
def all_reporters(raw):
    # how long this takes is a benchmark (benchmarks/dots_load.py), not an assert here
    return load_dots_exports(raw / "imf_dots" / ALL_FILE)


@pytest.mark.rawdata
def test_real_korea_file_matches_published_2019_values(raw):
    loaded = load_dots_exports(raw / "imf_dots" / KOR_FILE)
    f = loaded.frame
    assert list(f.columns) == COLUMNS
    assert f.dtypes.astype(str).tolist() == [
        "object",
        "object",
        "int64",
        "float64",
        "int8",
        "object",
    ]
    assert f.index.equals(pd.RangeIndex(len(f)))
    y2019 = f[f["year"] == 2019].set_index("partner")["export_usd"]
    assert y2019["CHN"] / 1e9 == pytest.approx(136.27, abs=0.01)
    assert y2019["USA"] / 1e9 == pytest.approx(73.89, abs=0.01)
    assert y2019["KHM"] / 1e9 == pytest.approx(0.697, abs=0.001)
    assert y2019.sum() / 1e9 == pytest.approx(542.4, abs=0.1)  # countries only, not "World"
    assert set(f["reporter"]) == {"KOR"}
    assert set(f["partner"]) <= known_iso3()
    assert set(f["year"]) == set(range(1990, 2021))
    assert set(f["source"]) == {"imf_dots"}
    assert f["estimated"].sum() == 0  # no "e" flags for Korea since 1990 (SOURCES.md)
    assert not f.duplicated(["reporter", "partner", "year"]).any()
    assert loaded.dropped["partner aggregate"] > 0
    assert loaded.dropped["partner not_specified"] > 0


@pytest.mark.rawdata
def test_real_korea_values_are_in_usd_against_wdi_merchandise_exports(raw):
    wdi = load_wdi_indicator(raw / "wdi" / "tx.val.mrch.cd.wt.csv", "total_usd").frame
    reference = wdi.rename(columns={"country": "reporter"})
    loaded = load_dots_exports(raw / "imf_dots" / KOR_FILE, reference_totals=reference)
    sums = loaded.frame.groupby("year")["export_usd"].sum()
    ratio = sums / reference[reference["reporter"] == "KOR"].set_index("year")["total_usd"]
    assert ratio.dropna().median() == pytest.approx(1.0, abs=0.05)
    with pytest.raises(SourceError, match=r"in USD \(not millions\)"):
        load_dots_exports(
            raw / "imf_dots" / KOR_FILE,
            reference_totals=reference.assign(total_usd=reference["total_usd"] / 1e6),
        )


@pytest.mark.rawdata
def test_real_all_reporter_file_is_a_country_panel(all_reporters):
    loaded = all_reporters
    f = loaded.frame
    assert len(f) > 600_000
    assert list(f.columns) == COLUMNS
    assert set(f["reporter"]) <= known_iso3()
    assert set(f["partner"]) <= known_iso3()
    assert not (f["reporter"] == f["partner"]).any()
    assert f["export_usd"].min() >= 0
    reporters_per_year = f.groupby("year")["reporter"].nunique()
    assert reporters_per_year[2000] > 150
    assert reporters_per_year.min() > 150
    for reason in ["reporter aggregate", "reporter historical_country", "partner aggregate"]:
        assert loaded.dropped[reason] > 0
    assert 0 < f["estimated"].mean() < 0.2
    kor = f[f["reporter"] == "KOR"].set_index(["partner", "year"])["export_usd"]
    assert kor[("CHN", 2019)] / 1e9 == pytest.approx(136.27, abs=0.01)
    assert kor[("USA", 2019)] / 1e9 == pytest.approx(73.89, abs=0.01)


@pytest.mark.rawdata
def test_real_files_agree_and_reporter_filter_works(raw):
    korea = load_dots_exports(raw / "imf_dots" / KOR_FILE)
    subset = load_dots_exports(raw / "imf_dots" / ALL_FILE, reporters=["kor"])
    pd.testing.assert_frame_equal(subset.frame, korea.frame)
    assert subset.dropped == korea.dropped


def test_good_small_file_loads_and_counts_drops(bad):
    loaded = load_dots_exports(bad / "dots" / "good.csv", start=1990, end=2019)
    f = loaded.frame
    assert list(f.columns) == COLUMNS
    assert f[["reporter", "partner", "year"]].values.tolist() == [
        ["KOR", "CHN", 2019],
        ["KOR", "KHM", 2019],
        ["KOR", "USA", 2019],
        ["XKX", "KOR", 2019],
    ]
    assert f["export_usd"].tolist() == pytest.approx([136272.85e6, 697.28e6, 73891.81e6, 0.5e6])
    assert f["estimated"].tolist() == [0, 1, 0, 0]
    assert str(f["estimated"].dtype) == "int8"
    assert loaded.dropped == {
        "legacy code ANT": 1,
        "partner aggregate": 1,
        "partner historical_country": 1,
        "partner not_specified": 1,
        "reporter aggregate": 2,
        "reporter historical_country": 1,
        "self-trade": 1,
    }


def test_year_window_and_reporter_filter(bad):
    f = load_dots_exports(bad / "dots" / "good.csv", start=1985, end=1985).frame
    assert f[["reporter", "partner", "year"]].values.tolist() == [["KOR", "USA", 1985]]
    xkx = load_dots_exports(bad / "dots" / "good.csv", end=2019, reporters=["XKX"])
    assert xkx.frame["reporter"].tolist() == ["XKX"]
    assert xkx.dropped == {}
    with pytest.raises(ValueError, match="ISO3"):
        load_dots_exports(bad / "dots" / "good.csv", reporters=["Korea"])


def test_reference_totals_in_the_right_unit_pass(bad):
    loaded = load_dots_exports(bad / "dots" / "good.csv", end=2019, reference_totals=KOR_2019)
    assert len(loaded.frame) == 4
    # reporter-years missing from the reference are not checked
    other = KOR_2019.assign(reporter="JPN")
    assert len(load_dots_exports(bad / "dots" / "good.csv", reference_totals=other).frame) == 4


@pytest.mark.parametrize(
    ("name", "scale", "words"),
    [
        ("usd_units.csv", 1.0, "in USD (not millions)"),
        ("thousands_units.csv", 1.0, "in thousands of USD (not millions)"),
        ("billions_units.csv", 1.0, "in billions (not millions)"),
        ("good.csv", 1e-3, "reference totals are in thousands of USD"),
        ("good.csv", 1e-6, "reference totals are in millions of USD"),
    ],
)
def test_unit_problems_are_errors(bad, name, scale, words):
    reference = KOR_2019.assign(total_usd=KOR_2019["total_usd"] * scale)
    with pytest.raises(SourceError) as err:
        load_dots_exports(bad / "dots" / name, end=2019, reference_totals=reference)
    e = err.value
    assert name in str(e)
    assert e.row is None
    assert e.column == "value_usd_millions"
    assert words in str(e)


@pytest.mark.parametrize(
    ("name", "row", "column", "words"),
    [
        ("missing_column.csv", None, None, "missing column"),
        ("text_in_number.csv", 3, "value_usd_millions", "expected a number, found '73,891.81'"),
        ("duplicate_rows.csv", 3, None, "duplicate key"),
        ("negative_value.csv", 3, "value_usd_millions", "non-negative"),
        ("unknown_code.csv", 3, "partner_iso3", "unknown country code 'QQQ'"),
        ("unknown_reporter.csv", 3, "reporter_iso3", "unknown country code 'KR'"),
        ("missing_code.csv", 3, "partner_iso3", "code is empty"),
        ("unknown_type.csv", 3, "partner_type", "unexpected type 'region'"),
        ("bad_flag.csv", 3, "estimated", "expected a number, found 'e'"),
        ("flag_not_01.csv", 3, "estimated", "expected 0 or 1"),
    ],
)
def test_bad_file_error_names_file_row_and_column(bad, name, row, column, words):
    with pytest.raises(SourceError) as err:
        load_dots_exports(bad / "dots" / name, start=2019, end=2019)
    e = err.value
    assert name in str(e)
    assert e.row == row
    assert e.column == column
    assert words in str(e)


def test_negative_value_in_an_aggregate_row_is_not_an_error(bad):
    # The real file has small negative values in aggregate rows (1960-63); they are dropped.
    loaded = load_dots_exports(bad / "dots" / "good.csv", start=2019, end=2019)
    assert loaded.dropped["reporter aggregate"] == 2
    assert loaded.frame["export_usd"].min() > 0


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(SourceError, match="file not found"):
        load_dots_exports(tmp_path / "nope.csv")
