"""The outlook in the report: the noise rule of "Fastest-growing markets", open-registry flags
apart, and what drives the top partners' forecasts."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pandas as pd
import pytest

from exportcast.reports import load_bundle
from exportcast.reports.build import render_html
from exportcast.reports.outlook import growth_vs_noise, none_stands_out_sentence, total_growth_pct
from exportcast.reports.sections_partners import (
    fastest_growing,
    fastest_growing_frame,
    forecast_drivers,
    open_registry_table,
    opportunities_table,
    top_partners,
)

YEARS = 5


def _frame(rows: dict[str, tuple[float, float, float]]) -> pd.DataFrame:
    # partner -> (growth % a year to the mean, growth % a year to the lower bound, now)
    return pd.DataFrame(
        {
            "now": [now for _, _, now in rows.values()],
            "end": [now * (1 + g / 100) ** YEARS for g, _, now in rows.values()],
            "lo": [now * (1 + lo / 100) ** YEARS for _, lo, now in rows.values()],
        },
        index=list(rows),
    )


def test_noise_rule_lists_a_lead_larger_than_the_interval_and_not_one_inside():
    frame = _frame({"AAA": (10.0, 6.0, 100.0), "BBB": (5.0, -2.0, 100.0), "CCC": (9.0, 1.0, 0.0)})
    out = growth_vs_noise(frame, total_pct=3.0, years=YEARS)
    assert out.loc["AAA", "growth"] == pytest.approx(10.0)
    assert out.loc["AAA", "excess"] == pytest.approx(7.0)  # 10 - 3
    assert out.loc["AAA", "noise"] == pytest.approx(4.0)  # 10 - 6
    assert out.loc["BBB", "excess"] == pytest.approx(2.0)
    assert out.loc["BBB", "noise"] == pytest.approx(7.0)
    assert out["stands_out"].to_dict() == {"AAA": True, "BBB": False, "CCC": False}


def test_lower_bound_just_under_the_total_does_not_stand_out():
    frame = _frame({"AAA": (6.0, 2.95, 50.0), "BBB": (6.0, 3.05, 50.0)})
    out = growth_vs_noise(frame, total_pct=3.0, years=YEARS)
    assert out["stands_out"].to_dict() == {"AAA": False, "BBB": True}


def test_total_growth_counts_every_row():
    frame = _frame({"AAA": (10.0, 0.0, 100.0), "REST": (0.0, 0.0, 100.0)})
    expected = 100 * ((100 * 1.1**YEARS + 100) / 200) ** (1 / YEARS) - 100
    assert total_growth_pct(frame, YEARS) == pytest.approx(expected)
    assert np.isnan(total_growth_pct(frame.assign(now=0.0), YEARS))


def test_none_stands_out_sentence_is_plain():
    text = none_stands_out_sentence(80, 2.61, 29)
    assert text.startswith(
        "No market's forecast growth stands out from the total's (+2.6 % a year)"
    )
    assert "by more than the forecasts' typical error" in text
    assert "29 partners" in text and "80 % interval" in text


def _with_intervals(bundle, factor: float):
    # every partner's lower bounds at `factor` times its mean
    fc = bundle.forecasts.copy()
    for lv in bundle.levels:
        fc[f"lo_{lv}"] = fc["mean"] * factor
        fc[f"hi_{lv}"] = fc["mean"] / factor
    return dataclasses.replace(bundle, forecasts=fc)


def test_fastest_growing_follows_the_intervals(bundle_dir):
    bundle = load_bundle(bundle_dir)
    wide = fastest_growing(_with_intervals(bundle, 0.2))
    assert wide.rows == []
    assert wide.note.startswith("No market's forecast growth stands out from the total's")
    narrow = _with_intervals(bundle, 0.999)
    frame = fastest_growing_frame(narrow)
    assert frame.index[0] == "VNM"  # the fixture's 9 % a year
    assert frame["stands_out"].all() and (frame["excess"] > frame["noise"]).all()
    table = fastest_growing(narrow)
    assert table.rows[0][0] == "Viet Nam"
    assert table.note.startswith("A market is listed only where")
    assert "80.1 % of outcomes in the backtest" in table.note


def _fast_marshall(bundle, *, exclude: bool | None):
    fc = bundle.forecasts.copy()
    mhl = fc["partner"] == "MHL"
    base = fc.loc[mhl & (fc["year"] == fc["year"].min()), "mean"].iloc[0]
    fc.loc[mhl, "mean"] = base * 3.0 ** (fc.loc[mhl, "year"] - fc["year"].min() + 1)
    fc.loc[mhl, "lo_80"] = fc.loc[mhl, "mean"] * 0.99
    meta = json.loads(json.dumps(bundle.meta))
    if exclude is not None:
        meta["config"]["report"] = {"exclude_open_registries": exclude}
    return dataclasses.replace(bundle, forecasts=fc, meta=meta)


def test_open_registries_stay_out_of_fastest_growing_by_default(bundle_dir):
    bundle = load_bundle(bundle_dir)
    assert "MHL" not in fastest_growing_frame(_fast_marshall(bundle, exclude=None)).index
    assert "MHL" not in fastest_growing_frame(_fast_marshall(bundle, exclude=True)).index
    assert fastest_growing_frame(_fast_marshall(bundle, exclude=False)).index[0] == "MHL"
    table = open_registry_table(bundle)
    assert [r[0] for r in table.rows] == ["Marshall Islands"]
    assert "exports there can be mostly ships" in table.note


def test_opportunity_table_skips_unranked_open_registries(bundle_dir):
    bundle = load_bundle(bundle_dir)
    opp = bundle.opportunities
    assert opp.loc[opp["partner"] == "MHL", "rank"].isna().all()
    table = opportunities_table(bundle, n=100)
    assert "Marshall Islands" not in [r[1] for r in table.rows]
    assert len(table.rows) == int(opp["rank"].notna().sum())
    assert "1 open ship registry is left out of the ranking" in table.note


def test_drivers_come_from_the_bundle_numbers(bundle_dir):
    bundle = load_bundle(bundle_dir)
    _, top = top_partners(bundle)
    drivers = forecast_drivers(bundle, top)
    assert len(drivers) == len(top)
    china = drivers[top.index("CHN")]
    fc = bundle.forecasts
    end = fc.loc[(fc["partner"] == "CHN") & (fc["year"] == fc["year"].max()), "mean"].iloc[0]
    assert china.startswith("China: the model the backtest selected for it.")
    assert f"USD {end / 1e9:,.1f} bn against" in china
    # a Drift partner: the yearly step and the comparison with no change
    drift = dataclasses.replace(bundle, forecasts=fc.assign(model="Drift"))
    text = forecast_drivers(drift, ["CHN"])[0]
    assert "Drift: the average yearly change of the partner's history (1990\u2013" in text
    assert "vs 0 for no change" in text and "bn a year)" in text


def test_report_shows_the_outlook(bundle_dir):
    html = render_html(load_bundle(bundle_dir))
    assert "What drives the forecasts" in html
    assert "Open-registry flags" in html
    assert "A market is listed only where" in html or "No market&#39;s forecast growth" in html
