import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from exportcast.features.fta import agreements_in_force_on, fta_by_year
from exportcast.features.sources.fta import load_korea_fta


@pytest.fixture
def fta(bad) -> pd.DataFrame:
    return load_korea_fta(bad / "fta" / "good.csv").frame


def _series(df: pd.DataFrame, partner: str, column: str) -> dict[int, object]:
    return df[df["partner"] == partner].set_index("year")[column].to_dict()


def test_columns_dtypes_and_grid(fta):
    out = fta_by_year(fta, range(2020, 2023), ["KHM", "USA"])
    assert list(out.columns) == [
        "partner",
        "year",
        "fta_in_force",
        "years_since_fta",
        "fta_agreement",
    ]
    assert out["fta_in_force"].dtype == np.int8
    assert out["years_since_fta"].dtype == np.float64
    assert out["year"].dtype == np.int64
    assert list(zip(out["partner"], out["year"], strict=True)) == [
        ("KHM", 2020),
        ("KHM", 2021),
        ("KHM", 2022),
        ("USA", 2020),
        ("USA", 2021),
        ("USA", 2022),
    ]
    usa = out[out["partner"] == "USA"]  # no agreement in the table
    assert (usa["fta_in_force"] == 0).all()
    assert usa["years_since_fta"].isna().all() and usa["fta_agreement"].isna().all()
    assert out.index.equals(pd.RangeIndex(len(out)))


def test_cambodia_bilateral_fta_counts_in_entry_year_dec31_rule(fta):
    # KKFTA entered into force 2022-12-01: in force for one month of 2022 -> 2022 counts.
    out = fta_by_year(fta, range(2020, 2025), ["KHM"], agreements=["KKFTA"])
    assert _series(out, "KHM", "fta_in_force") == {2020: 0, 2021: 0, 2022: 1, 2023: 1, 2024: 1}
    since = _series(out, "KHM", "years_since_fta")
    assert np.isnan(since[2021]) and since[2022] == 0 and since[2024] == 2


def test_cambodia_any_fta_starts_with_akfta_2007(fta):
    # "Any FTA": Cambodia is an AKFTA member since 2007, so 2021 is already covered.
    out = fta_by_year(fta, [2006, 2007, 2021, 2022], ["KHM"])
    assert _series(out, "KHM", "fta_in_force") == {2006: 0, 2007: 1, 2021: 1, 2022: 1}
    assert _series(out, "KHM", "fta_agreement")[2022] == "AKFTA+RCEP+KKFTA"
    assert _series(out, "KHM", "years_since_fta")[2022] == 15


def test_uk_eu_exit_then_uk_fta_is_continuous(fta):
    out = fta_by_year(fta, range(2010, 2024), ["GBR"])
    flags = _series(out, "GBR", "fta_in_force")
    assert flags[2010] == 0
    assert all(flags[y] == 1 for y in range(2011, 2024))
    names = _series(out, "GBR", "fta_agreement")
    assert (names[2020], names[2021]) == ("KOREU", "KUKFTA")
    since = _series(out, "GBR", "years_since_fta")
    assert (since[2011], since[2020], since[2021]) == (0, 9, 10)  # one spell from 2011


def test_vietnam_earliest_agreement_is_asean_2007(fta):
    out = fta_by_year(fta, range(2005, 2017), ["VNM"])
    flags = _series(out, "VNM", "fta_in_force")
    first = min(y for y, v in flags.items() if v == 1)
    assert first == 2007
    names = _series(out, "VNM", "fta_agreement")
    assert names[2014] == "AKFTA" and names[2016] == "AKFTA+KVFTA"
    assert _series(out, "VNM", "years_since_fta")[2016] == 9


def test_psa_excluded_by_default_included_on_request(fta):
    default = fta_by_year(fta, [2010, 2016], ["CHN"])
    assert _series(default, "CHN", "fta_in_force") == {2010: 0, 2016: 1}
    with_psa = fta_by_year(fta, [2010, 2016], ["CHN"], include_psa=True)
    assert _series(with_psa, "CHN", "fta_in_force") == {2010: 1, 2016: 1}
    assert _series(with_psa, "CHN", "years_since_fta")[2016] == 14
    assert _series(with_psa, "CHN", "fta_agreement")[2016] == "APTA+KCNFTA"


def test_signed_pending_and_unknown_dates_do_not_count(fta):
    out = fta_by_year(fta, [2025], ["ARE", "MNG"], include_psa=True)
    assert out["fta_in_force"].tolist() == [0, 0]


def test_default_partners_are_those_in_the_table(fta):
    out = fta_by_year(fta, [2023])
    assert out["partner"].tolist() == ["ARE", "CHN", "GBR", "KHM", "MNG", "VNM"]


def test_gap_between_agreements_restarts_years_since():
    fta = pd.DataFrame(
        {
            "partner": ["XXX", "XXX"],
            "agreement_short": ["A", "B"],
            "agreement_type": ["bilateral FTA"] * 2,
            "status": ["exited", "in_force"],
            "in_force_date": pd.to_datetime(["2000-03-01", "2005-06-01"]),
            "exit_date": pd.to_datetime(["2002-06-30", None]),
        }
    )
    out = fta_by_year(fta, range(2000, 2007))
    assert _series(out, "XXX", "fta_in_force") == dict(
        zip(range(2000, 2007), [1, 1, 1, 0, 0, 1, 1], strict=True)
    )
    since = _series(out, "XXX", "years_since_fta")
    assert since[2002] == 2 and np.isnan(since[2003]) and since[2005] == 0


def test_empty_table_gives_all_zero(fta):
    out = fta_by_year(fta.iloc[:0], [2020], ["KOR"])
    assert out["fta_in_force"].tolist() == [0]


def test_missing_column_is_a_clear_error(fta):
    with pytest.raises(ValueError, match="exit_date"):
        fta_by_year(fta.drop(columns="exit_date"), [2020])


def test_agreements_in_force_on_exact_dates(fta):
    assert agreements_in_force_on(fta, "2020-12-31", "GBR")["agreement_short"].tolist() == ["KOREU"]
    assert agreements_in_force_on(fta, "2021-01-01", "GBR")["agreement_short"].tolist() == [
        "KUKFTA"
    ]
    khm = agreements_in_force_on(fta, "2022-11-30", "KHM")["agreement_short"].tolist()
    assert khm == ["AKFTA", "RCEP"]


@pytest.mark.rawdata
def test_real_table_facts(raw):
    fta = load_korea_fta(raw / "fta" / "korea_fta.csv").frame
    out = fta_by_year(fta, range(2000, 2026))
    flags = out.set_index(["partner", "year"])["fta_in_force"]
    assert flags["VNM", 2006] == 0 and flags["VNM", 2007] == 1
    assert all(flags["GBR", y] == 1 for y in range(2011, 2026))
    assert flags["JPN", 2021] == 0 and flags["JPN", 2022] == 1  # RCEP
    assert flags["CHN", 2014] == 0 and flags["CHN", 2015] == 1  # KCFTA, APTA not counted
    assert flags["ARE", 2025] == 0
    assert flags["THA", 2009] == 0 and flags["THA", 2010] == 1
    kh = fta_by_year(fta, [2021, 2022], ["KHM"], agreements=["KKFTA"])
    assert kh["fta_in_force"].tolist() == [0, 1]


@st.composite
def _agreements(draw):
    n = draw(st.integers(1, 4))
    rows = []
    for i in range(n):
        start = draw(st.dates(pd.Timestamp("1995-01-01").date(), pd.Timestamp("2025-12-31").date()))
        exited = draw(st.booleans())
        end = draw(st.dates(start, pd.Timestamp("2026-12-31").date())) if exited else None
        rows.append(
            {
                "partner": "XXX",
                "agreement_short": f"A{i}",
                "agreement_type": "bilateral FTA",
                "status": "exited" if exited else "in_force",
                "in_force_date": pd.Timestamp(start),
                "exit_date": pd.Timestamp(end) if end else pd.NaT,
            }
        )
    return pd.DataFrame(rows)


@settings(max_examples=60, deadline=None)
@given(_agreements())
def test_property_flag_is_any_day_in_year_and_spells_restart(fta):
    years = list(range(1994, 2028))
    out = fta_by_year(fta, years).set_index("year")
    for t in years:
        jan1, dec31 = pd.Timestamp(t, 1, 1), pd.Timestamp(t, 12, 31)
        applies = (fta["in_force_date"] <= dec31) & (
            fta["exit_date"].isna() | (fta["exit_date"] >= jan1)
        )
        assert out.loc[t, "fta_in_force"] == int(applies.any())
        since = out.loc[t, "years_since_fta"]
        assert np.isnan(since) == (not applies.any())
        if t > years[0] and applies.any():
            before = out.loc[t - 1, "fta_in_force"]
            assert (since == 0) == (before == 0)
            if before:
                assert since == out.loc[t - 1, "years_since_fta"] + 1
