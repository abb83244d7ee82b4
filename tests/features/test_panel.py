import pandas as pd
import pytest

from exportcast.features.panel import (
    PANEL_COLUMNS,
    build_export_series,
    build_trade_panel,
    series_to_panel,
    validate_trade_panel,
)
from exportcast.features.sources._common import SourceError
from exportcast.features.sources.panel_file import load_trade_panel_file

REFERENCE = pd.DataFrame({"reporter": ["KOR"], "year": [2019], "total_usd": [542.23e9]})


def test_good_panel_file_loads_with_contract_columns(bad):
    loaded = load_trade_panel_file(bad / "panel" / "good.csv", reference_totals=REFERENCE)
    assert list(loaded.frame.columns) == PANEL_COLUMNS
    assert loaded.frame["export_usd"].dtype == "float64"
    assert loaded.frame["year"].dtype == "int64"
    assert loaded.frame["partner"].tolist() == ["CHN", "USA", "VNM"]


@pytest.mark.parametrize(
    ("name", "row", "column", "words"),
    [
        ("missing_column.csv", None, None, "missing column"),
        ("text_in_number.csv", 3, "export_usd", "expected a number, found 'lots'"),
        ("duplicate_rows.csv", 4, None, "duplicate key"),
        ("negative_value.csv", 3, "export_usd", "non-negative"),
        ("aggregate_partner.csv", 3, "partner", "unknown country code 'WLD'"),
        ("unknown_code.csv", 3, "partner", "unknown country code 'ROM'"),
        ("thousands_units.csv", None, "export_usd", "thousands of USD"),
        ("year_out_of_range.csv", 3, "year", "outside the expected range"),
        ("self_trade.csv", 3, "partner", "self-trade"),
        ("empty_value.csv", 3, "export_usd", "empty cell"),
    ],
)
def test_bad_panel_file_error_names_file_row_and_column(bad, name, row, column, words):
    with pytest.raises(SourceError) as err:
        load_trade_panel_file(
            bad / "panel" / name, start=1990, end=2023, reference_totals=REFERENCE
        )
    e = err.value
    assert name in str(e)
    assert e.row == row
    assert e.column == column
    assert words in str(e)


def test_parquet_panel_reports_row_position(tmp_path):
    df = pd.DataFrame(
        {"reporter": "KOR", "partner": ["CHN", "XXX"], "year": 2019, "export_usd": [1.0, 2.0]}
    )
    path = tmp_path / "p.parquet"
    df.to_parquet(path)
    with pytest.raises(SourceError) as err:
        load_trade_panel_file(path)
    assert err.value.row == 3  # header counts as row 1, as in a CSV
    assert err.value.column == "partner"


def test_build_trade_panel_selects_reporter_and_years():
    exports = pd.DataFrame(
        {
            "reporter": ["KOR", "KOR", "KOR", "JPN"],
            "partner": ["CHN", "CHN", "USA", "CHN"],
            "year": [1989, 1990, 1990, 1990],
            "export_usd": [1.0, 2.0, 3.0, 4.0],
            "source": "kosis",
        }
    )
    panel = build_trade_panel(exports, reporter="KOR", start=1990, end=2023)
    assert panel[["partner", "year"]].values.tolist() == [["CHN", 1990], ["USA", 1990]]


def test_build_trade_panel_unknown_reporter_is_clear():
    exports = pd.DataFrame(
        {"reporter": ["KOR"], "partner": ["CHN"], "year": [2000], "export_usd": [1.0]}
    )
    with pytest.raises(SourceError, match="no exports for reporter 'JPN'"):
        build_trade_panel(exports, reporter="JPN", start=1990, end=2023)


def test_long_frame_round_trip_keeps_values():
    panel = validate_trade_panel(
        pd.DataFrame(
            {
                "reporter": "KOR",
                "partner": ["CHN", "USA"],
                "year": [2000, 2000],
                "export_usd": [1.5, 2.5],
            }
        ),
        name="t",
    )
    long = build_export_series(panel)
    assert list(long.columns) == ["unique_id", "ds", "y"]
    assert long["unique_id"].tolist() == ["KOR|CHN", "KOR|USA"]
    back = series_to_panel(long)
    pd.testing.assert_frame_equal(back, panel[["reporter", "partner", "year", "export_usd"]])


def test_validate_does_not_mutate_input():
    df = pd.DataFrame(
        {"reporter": "KOR", "partner": ["CHN"], "year": ["2000"], "export_usd": ["1"]}
    )
    before = df.copy()
    validate_trade_panel(df, name="t")
    pd.testing.assert_frame_equal(df, before)
