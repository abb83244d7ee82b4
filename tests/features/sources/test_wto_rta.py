import pandas as pd
import pytest

from exportcast.features.sources._common import SourceError
from exportcast.features.sources.wto_rta import load_wto_rtas

HEADER = [
    "RTA ID",
    "RTA Name",
    "Type",
    "Status",
    "Date of Entry into Force (G)",
    "Inactive Date",
    "Current signatories",
    "Original signatories",
    "Specific Entry/Exit dates",
]


def _write(tmp_path, rows):
    path = tmp_path / "all_rtas.csv"
    pd.DataFrame(rows, columns=HEADER).to_csv(path, index=False)
    return path


GOOD = [
    [1, "Chile - Korea", "FTA", "In Force", "2004-04-01", "", "Chile; Korea, Republic of", "", ""],
    [2, "EFTA - Korea", "FTA", "In Force", "2006-09-01", "",
     "Korea, Republic of; European Free Trade Association (EFTA)", "", ""],
    [3, "Old", "FTA", "Inactive", "1990-01-01", "1999-12-31", "Chile; Peru", "", ""],
    [4, "Pending", "", "Early announcement-Signed", "", "", "", "", ""],
    [5, "EU - Chile", "FTA", "In Force", "2003-02-01", "", "Chile; European Union",
     "Chile; European Union; Germany; France", ""],
    [6, "Trio", "FTA", "In Force", "2010-01-01", "", "Chile; Peru; Narnia",
     "", "Peru(01-Jan-9999 - ); Chile( - 31-Dec-2015)"],
]  # fmt: skip


def test_pairs_blocs_dates_and_exits(tmp_path):
    loaded = load_wto_rtas(_write(tmp_path, GOOD))
    f = loaded.frame
    pair = f.set_index(["rta_id", "country_a", "country_b"])
    assert pair.loc[(1, "CHL", "KOR"), "start_date"] == pd.Timestamp("2004-04-01")
    # EFTA expanded: Liechtenstein joined 1991, Austria left in 1994 (before this agreement)
    efta = set(f.loc[f["rta_id"] == 2, ["country_a", "country_b"]].stack()) - {"KOR"}
    assert efta == {"CHE", "ISL", "LIE", "NOR"}
    assert pair.loc[(3, "CHL", "PER"), "end_date"] == pd.Timestamp("1999-12-31")
    # EU members listed beside the EU are folded into it: no DEU-FRA pair from "EU - Chile"
    eu = f.loc[f["rta_id"] == 5]
    assert len(eu) == 28 and (eu["country_a"] == "CHL").sum() + (eu["country_b"] == "CHL").sum()
    gbr = pair.loc[(5, "CHL", "GBR")]
    assert gbr["end_date"] == pd.Timestamp("2020-12-31")  # the UK left the EU's agreements
    assert pair.loc[(5, "CHL", "HRV"), "start_date"] == pd.Timestamp("2013-07-01")
    # Peru never in force (01-Jan-9999); Narnia unmapped -> no pair left for agreement 6
    assert (f["rta_id"] == 6).sum() == 0
    assert loaded.unmapped == {"Narnia": 1}
    assert loaded.dropped == {"status not in force": 1, "no goods entry into force": 0}
    assert f["end_date"].dtype == "datetime64[ns]"


def test_bad_dates_name_row_and_column(tmp_path):
    rows = [*GOOD[:2], [9, "X", "FTA", "In Force", "2004-13-01", "", "Chile; Peru", "", ""]]
    with pytest.raises(SourceError, match=r"row 4, column 'Date of Entry into Force \(G\)'"):
        load_wto_rtas(_write(tmp_path, rows))
    rows = [[9, "X", "FTA", "In Force", "2004-01-01", "", "Chile; Peru", "", "Peru(2004 - )"]]
    with pytest.raises(SourceError, match=r"row 2, column 'Specific Entry/Exit dates'"):
        load_wto_rtas(_write(tmp_path, rows))
    rows = [["x", "X", "FTA", "In Force", "2004-01-01", "", "Chile; Peru", "", ""]]
    with pytest.raises(SourceError, match=r"row 2, column 'RTA ID'.*integer"):
        load_wto_rtas(_write(tmp_path, rows))


def test_missing_column(tmp_path):
    path = tmp_path / "all_rtas.csv"
    pd.DataFrame([GOOD[0][:-1]], columns=HEADER[:-1]).to_csv(path, index=False)
    with pytest.raises(SourceError, match="Specific Entry/Exit dates"):
        load_wto_rtas(path)


@pytest.mark.rawdata
def test_real_file(raw):
    loaded = load_wto_rtas(raw / "wto_rta" / "all_rtas.csv")
    f = loaded.frame
    assert (f["country_a"] < f["country_b"]).all()
    kor = f.loc[(f["country_a"] == "DEU") & (f["country_b"] == "KOR")]
    assert kor["start_date"].min() == pd.Timestamp("2011-07-01")
    assert set(loaded.unmapped) <= {
        "Netherlands Antilles",
        "Yugoslavia, Socialist Federal Republic of",
    }
