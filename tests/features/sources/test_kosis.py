import pytest

from exportcast.features.sources._common import SourceError
from exportcast.features.sources.kosis import load_kosis_exports


@pytest.mark.rawdata
def test_real_file_matches_published_2019_shares(raw):
    exports, totals = load_kosis_exports(raw / "kdiplo_kosis" / "trade_data.csv")
    f = exports.frame
    y2019 = f[f["year"] == 2019].set_index("partner")["export_usd"]
    assert y2019["CHN"] / 1e9 == pytest.approx(136.20, abs=0.01)
    assert y2019["USA"] / 1e9 == pytest.approx(73.34, abs=0.01)
    assert y2019.sum() / 1e9 == pytest.approx(542.23, abs=0.01)
    assert set(f["year"]) == set(range(1990, 2024))
    assert not f.duplicated(["partner", "year"]).any()
    assert set(f["source"]) <= {"kosis", "cow"}
    assert totals.set_index("year").loc[2019, "total_export_usd"] / 1e9 == pytest.approx(
        542.23, abs=0.01
    )


@pytest.mark.rawdata
def test_real_file_reports_dropped_legacy_codes(raw):
    exports, _ = load_kosis_exports(raw / "kdiplo_kosis" / "trade_data.csv")
    assert exports.dropped["legacy code ANT"] > 0
    assert "ANT" not in set(exports.frame["partner"])


def test_good_small_file_loads(bad):
    exports, totals = load_kosis_exports(bad / "kosis" / "good.csv", start=2019, end=2019)
    assert exports.frame.set_index("partner")["export_usd"].to_dict() == {
        "CHN": 1000.0,
        "USA": 500.0,
    }
    assert totals["total_export_usd"].tolist() == [1500.0]


@pytest.mark.parametrize(
    ("name", "row", "column", "words"),
    [
        ("missing_column.csv", None, None, "missing column"),
        ("text_in_number.csv", 3, "export", "expected a number"),
        ("duplicate_rows.csv", 3, None, "duplicate key"),
        ("negative_value.csv", 3, "export", "non-negative"),
        ("thousands_units.csv", None, "export", "thousands"),
        ("unknown_code.csv", 3, "iso3c", "unknown country code 'QQQ'"),
    ],
)
def test_bad_file_error_names_file_row_and_column(bad, name, row, column, words):
    with pytest.raises(SourceError) as err:
        load_kosis_exports(bad / "kosis" / name, start=2019, end=2019)
    e = err.value
    assert name in str(e)
    assert e.row == row
    assert e.column == column
    assert words in str(e)


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(SourceError, match="file not found"):
        load_kosis_exports(tmp_path / "nope.csv")
