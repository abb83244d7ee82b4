import pandas as pd
import pytest

from exportcast.features.sources._common import SourceError
from exportcast.features.sources.fta import STATUSES, load_korea_fta

COLUMNS = [
    "reporter",
    "partner",
    "agreement",
    "agreement_short",
    "bloc",
    "agreement_type",
    "status",
    "signed_date",
    "in_force_date",
    "exit_date",
]


@pytest.mark.rawdata
def test_real_file_matches_documented_facts(raw):
    loaded = load_korea_fta(raw / "fta" / "korea_fta.csv")
    f = loaded.frame
    assert len(f) == 94
    assert list(f.columns) == COLUMNS
    assert (f["reporter"] == "KOR").all()
    assert set(f["status"]) <= STATUSES
    kkfta = f[(f["partner"] == "KHM") & (f["agreement_short"] == "KKFTA")].iloc[0]
    assert kkfta["in_force_date"] == pd.Timestamp("2022-12-01")
    uae = f[(f["partner"] == "ARE") & (f["agreement_short"] == "KUAECEPA")].iloc[0]
    assert uae["status"] == "signed_pending"
    assert pd.isna(uae["in_force_date"])
    uk_eu = f[(f["partner"] == "GBR") & (f["agreement_short"] == "KOREU")].iloc[0]
    assert (uk_eu["status"], uk_eu["exit_date"]) == ("exited", pd.Timestamp("2020-12-31"))
    assert f[f["agreement_short"] == "KOREU"]["partner"].nunique() == 28  # 26 + HRV + GBR
    for c in ("signed_date", "in_force_date", "exit_date"):
        assert f[c].dtype == "datetime64[ns]"
    assert loaded.dropped == {}


def test_good_small_file(bad):
    loaded = load_korea_fta(bad / "fta" / "good.csv")
    f = loaded.frame
    assert list(f.columns) == COLUMNS
    assert len(f) == 11
    khm = f[f["partner"] == "KHM"]
    assert khm["agreement_short"].tolist() == ["AKFTA", "RCEP", "KKFTA"]  # by in_force_date
    assert pd.isna(khm["bloc"].iloc[2])
    mng = f[f["partner"] == "MNG"].iloc[0]
    assert mng["status"] == "in_force_date_unknown" and pd.isna(mng["in_force_date"])
    assert f.index.equals(pd.RangeIndex(len(f)))
    assert "_row" not in f.columns


@pytest.mark.parametrize(
    ("name", "row", "column", "words"),
    [
        ("missing_column.csv", None, None, "missing column"),
        ("bad_date.csv", 4, "in_force_date", "expected a date YYYY-MM-DD, found '2022-13-01'"),
        ("bad_date_text.csv", 3, "signed_date", "'15 Nov 2020'"),
        ("unknown_status.csv", 4, "status", "unknown status 'ratified'"),
        ("in_force_without_date.csv", 4, "in_force_date", "needs an in_force_date"),
        ("exit_before_entry.csv", 2, "exit_date", "before in_force_date"),
        ("exited_without_exit_date.csv", 2, "exit_date", "needs an exit_date"),
        ("unknown_code.csv", 4, "partner_iso3", "unknown country code 'QQQ'"),
        ("duplicate_rows.csv", 5, None, "duplicate key"),
    ],
)
def test_bad_file_error_names_file_row_and_column(bad, name, row, column, words):
    with pytest.raises(SourceError) as err:
        load_korea_fta(bad / "fta" / name)
    e = err.value
    assert name in str(e)
    assert e.row == row
    assert e.column == column
    assert words in str(e)


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(SourceError, match="file not found"):
        load_korea_fta(tmp_path / "nope.csv")
