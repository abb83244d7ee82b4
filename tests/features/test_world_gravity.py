import pandas as pd
import pytest

from exportcast.features.world_gravity import (
    interval_years,
    pair_agreements,
    pair_year_counts,
    select_countries,
    world_panel,
)

T = pd.Timestamp
RTAS = pd.DataFrame(
    {
        "rta_id": [1, 2, 3, 4],
        "rta_name": ["AB", "AB deep", "psa", "KOR-WTO"],
        "rta_type": ["FTA", "FTA & EIA", "PSA", "FTA"],
        "country_a": ["AAA", "AAA", "AAA", "CCC"],
        "country_b": ["BBB", "BBB", "CCC", "KOR"],
        "start_date": [T("2001-12-31"), T("2009-06-01"), T("1990-01-01"), T("2005-01-01")],
        "end_date": [pd.NaT, T("2012-01-01"), pd.NaT, pd.NaT],
    }
)
FTA = pd.DataFrame(
    {
        "partner": ["CCC", "AAA"],
        "agreement_short": ["KCFTA", "KAPSA"],
        "agreement_type": ["bilateral FTA", "partial scope (PSA)"],
        "status": ["in_force", "in_force"],
        "in_force_date": [T("2007-03-01"), T("2000-01-01")],
        "exit_date": [pd.NaT, pd.NaT],
    }
)


def test_agreements_korea_from_its_own_table_and_no_psa():
    ag = pair_agreements(RTAS, FTA)
    assert set(ag["agreement"]) == {"WTO1", "WTO2", "KCFTA"}  # PSA rows and WTO KOR row gone
    kor = ag.loc[ag["agreement"] == "KCFTA"].iloc[0]
    assert (kor["country_a"], kor["country_b"], kor["first"], kor["last"]) == (
        "CCC", "KOR", 2007, 9999
    )  # fmt: skip
    assert len(pair_agreements(RTAS, FTA, include_psa=True)) == 5


def test_counts_follow_the_at_least_one_day_rule():
    n = pair_year_counts(pair_agreements(RTAS, FTA), range(2000, 2014)).set_index(
        ["country_a", "country_b", "year"]
    )["n_rta"]
    assert ("AAA", "BBB", 2000) not in n.index
    assert n.loc[("AAA", "BBB", 2001)] == 1  # entered on Dec 31
    assert n.loc[("AAA", "BBB", 2009)] == 2 and n.loc[("AAA", "BBB", 2012)] == 2
    assert n.loc[("AAA", "BBB", 2013)] == 1


def test_panel_lags_leads_and_depth():
    rows = [
        (e, i, y, 100.0)
        for y in (2004, 2008, 2012)
        for e, i in (("AAA", "BBB"), ("BBB", "AAA"), ("KOR", "CCC"))
    ]
    dots = pd.DataFrame(rows, columns=["reporter", "partner", "year", "export_usd"])
    p = world_panel(dots, pair_agreements(RTAS, FTA), years=[2004, 2008, 2012])
    p = p.set_index(["exporter", "importer", "year"])
    ab = p.loc[("AAA", "BBB")]
    assert ab["rta"].tolist() == [1, 1, 1]
    assert ab["deep"].tolist() == [0, 0, 1]  # second agreement 2009-2012
    assert ab["rta_lag4"].tolist() == [0, 1, 1] and ab["rta_lag8"].tolist() == [0, 0, 1]
    kc = p.loc[("KOR", "CCC")]
    assert kc["rta"].tolist() == [0, 1, 1] and kc["rta_lead4"].tolist() == [1, 1, 1]
    assert p.loc[("BBB", "AAA", 2012), "pair"] == "BBB>AAA"
    bad = dots.assign(export_usd=-1.0)
    with pytest.raises(ValueError, match=r"export_usd must be >= 0.*AAA->BBB in 2004"):
        world_panel(bad, pair_agreements(RTAS, FTA), years=[2004])
    assert select_countries(dots, [2004], top_n=1, always=["KOR"]) == ["AAA", "KOR"]
    assert interval_years(2020, 1990, 4) == [1992, 1996, 2000, 2004, 2008, 2012, 2016, 2020]


def test_income_interaction_marks_non_high_income_importers():
    from exportcast.features.world_gravity import add_income_interaction

    panel = pd.DataFrame(
        {"exporter": ["AAA", "AAA", "AAA"], "importer": ["BBB", "BBB", "CCC"],
         "year": [2004, 2008, 2008], "rta": [1, 1, 1]}
    )  # fmt: skip
    groups = pd.DataFrame(
        {"country": ["BBB", "BBB"], "year": [2004, 2008],
         "income_group": ["Upper middle income", "High income"]}
    )  # fmt: skip
    out = add_income_interaction(panel, groups)
    assert out["rta_nonhigh"].tolist() == [1, 0, 1]  # CCC unclassified: not high income
