"""A partial release in a run: REST carries the remainder, unknown is not zero, never scored.

The 2024 here is a synthetic test release (Korea's 2023 partners x 1.05, only the top 40
listed, plus the total): test data, not a forecast and not a published figure.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from exportcast.features.concentration import concentration_index
from exportcast.features.panel import build_trade_panel
from exportcast.features.provisional import (
    REMAINDER,
    drop_provisional_actuals,
    listed_partner_counts,
    provisional_of_run,
    with_remainder_rows,
    with_rest_remainder,
)
from exportcast.features.release import merge_release
from exportcast.features.series import origin_histories, split_series
from exportcast.flows.io import CODE_ROOT
from exportcast.reports.provisional import provisional_sentences

SNAPSHOT = CODE_ROOT / "data" / "snapshot"


@pytest.fixture(scope="module")
def partial() -> dict:
    kor = pd.read_parquet(SNAPSHOT / "kor_exports.parquet")
    y23 = kor.loc[kor["year"] == 2023]
    full = y23.assign(year=2024, export_usd=y23["export_usd"] * 1.05)
    top = full.nlargest(40, "export_usd")
    total = float(full["export_usd"].sum())
    totals = pd.read_parquet(SNAPSHOT / "kor_totals.parquet")
    merged = merge_release(
        kor, totals, None, top[["reporter", "partner", "year", "export_usd"]].assign(source="t"),
        pd.DataFrame({"reporter": ["KOR"], "year": [2024], "total_usd": [total]}),
        source="synthetic test release", name="kor_2024_top40_synthetic_test_release.csv",
    )  # fmt: skip
    exports = merged.exports
    prov, records = provisional_of_run(merged.rest, exports, "KOR", 1990, 2024)
    panel = build_trade_panel(exports, reporter="KOR", start=1990, end=2024)
    return {"full": full, "top": top, "total": total, "exports": exports, "prov": prov,
            "records": records, "panel": panel}  # fmt: skip


def test_the_remainder_and_the_unknown_partners_are_recorded(partial):
    [rec] = partial["records"]
    rest = partial["total"] - partial["top"]["export_usd"].sum()
    assert rec["year"] == 2024 and rec["n_listed"] == 40
    assert rec["rest_usd"] == pytest.approx(rest, rel=1e-12)
    assert rec["rest_share"] == pytest.approx(rest / partial["total"], rel=1e-12)
    y23 = partial["full"]
    missing = y23.loc[~y23["partner"].isin(partial["top"]["partner"]) & (y23["export_usd"] > 0)]
    assert set(rec["unknown_partners"]) == set(missing["partner"])
    # largest (in 2023) first; none of them got a 2024 row (unknown, not zero)
    assert rec["unknown_partners"][0] == missing.nlargest(1, "export_usd")["partner"].iloc[0]
    ex = partial["exports"]
    assert not ex.loc[(ex["year"] == 2024) & ex["partner"].isin(missing["partner"])].size


def test_no_partial_release_changes_nothing(partial):
    prov, records = provisional_of_run(None, partial["exports"], "KOR", 1990, 2023)
    assert prov.empty and records == []
    fs = split_series(partial["panel"].loc[partial["panel"]["year"] <= 2023], min_years=20)
    assert with_rest_remainder(fs, prov) is fs
    assert with_remainder_rows(partial["panel"], prov) is partial["panel"]


def test_rest_carries_the_remainder_so_the_series_add_up_to_the_total(partial):
    fs = split_series(partial["panel"], min_years=20)
    out = with_rest_remainder(fs, partial["prov"])
    assert out.provisional_years == (2024,)
    last = out.series.loc[out.series["ds"] == 2024, "y"].sum()
    assert last == pytest.approx(partial["total"], rel=1e-9)
    before = fs.series.loc[fs.series["ds"] == 2024, "y"].sum()
    assert before < partial["total"] * 0.999  # without the remainder the total would drop
    # earlier years untouched
    a = fs.series.loc[fs.series["ds"] < 2024].reset_index(drop=True)
    b = out.series.loc[out.series["ds"] < 2024].reset_index(drop=True)
    pd.testing.assert_frame_equal(a, b)
    # a partner unknown in 2024 is not forecast on its own (it would be a zero)
    unknown = set(partial["records"][0]["unknown_partners"])
    assert not unknown & set(out.partners)


def test_a_provisional_year_is_never_scored(partial):
    hist = origin_histories(partial["panel"], [2018, 2019, 2020], min_years=20, h=5)
    assert ((hist["ds"] == 2024) & (hist["cutoff"] == 2019)).any()
    kept = drop_provisional_actuals(hist, (2024,))
    assert not ((kept["ds"] == 2024) & (kept["ds"] > kept["cutoff"])).any()
    assert len(kept) == len(hist) - int((hist["ds"] == 2024).sum())
    assert drop_provisional_actuals(hist, ()) is hist


def test_history_shares_are_of_the_published_total(partial):
    panel = with_remainder_rows(partial["panel"], partial["prov"])
    idx = concentration_index(panel, dependence_set=("CHN", "USA"))
    idx = idx.assign(kind="history", n_partners=idx["n_partners"].astype("int64"))
    row = idx.loc[idx["year"] == 2024].iloc[0]
    top = partial["top"].set_index("partner")["export_usd"]
    expected = (top["CHN"] + top["USA"]) / partial["total"]
    assert row["dependence_share"] == pytest.approx(expected, rel=1e-12)
    # listed-only shares would overstate it
    assert expected < (top["CHN"] + top["USA"]) / top.sum()
    counted = listed_partner_counts(idx, partial["prov"])
    assert counted.loc[counted["year"] == 2024, "n_partners"].iloc[0] == 40
    assert (counted.loc[counted["year"] < 2024, "n_partners"]
            == idx.loc[idx["year"] < 2024, "n_partners"]).all()  # fmt: skip
    assert REMAINDER not in set(partial["panel"]["partner"])


def test_the_report_names_the_provisional_partner_years(partial):
    [rec] = partial["records"]
    names = {rec["unknown_partners"][0]: "Firstland"}
    [text] = provisional_sentences({"provisional": partial["records"]}, names)
    assert text.startswith("Provisional partner-years in 2024: the release lists 40 partners")
    n = len(rec["unknown_partners"])
    assert f"{n} partners that bought in 2023 have no 2024 value yet" in text
    assert "largest in 2023: Firstland, " in text and f"and {n - 8} more" in text
    assert f"({100 * rec['rest_share']:.1f} %)" in text
    assert "2024 is not scored in the backtest." in text
    assert (
        provisional_sentences({}, {}) == [] and provisional_sentences({"provisional": []}, {}) == []
    )
    assert np.isfinite(rec["rest_share"])


def test_opportunities_start_from_the_published_total(partial):
    from exportcast.models.opportunities import opportunities

    fs = with_rest_remainder(split_series(partial["panel"], min_years=20), partial["prov"])
    last = fs.series.loc[fs.series["ds"] == 2024]
    fc = pd.concat([last.assign(ds=y) for y in range(2025, 2030)], ignore_index=True)
    fc = fc.assign(partner=fc["unique_id"].str.split("|").str[1], year=fc["ds"], mean=fc["y"])
    tables = {t: pd.read_parquet(SNAPSHOT / f"{t}.parquet") for t in ("countries", "fta", "pairs")}
    table = opportunities(
        fc[["partner", "year", "mean"]], with_remainder_rows(partial["panel"], partial["prov"]),
        dependence_set=("CHN", "USA"), horizon=5, countries=tables["countries"],
        fta_status=tables["fta"], distances=tables["pairs"],
    )  # fmt: skip
    vnm = table.set_index("partner").loc["VNM", "current_share"]
    top = partial["top"].set_index("partner")["export_usd"]
    assert vnm == pytest.approx(top["VNM"] / partial["total"], rel=1e-9)
