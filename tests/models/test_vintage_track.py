"""Track record across vintages: an earlier run's forecasts against what happened."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from exportcast.models.vintage_track import TRACK_COLUMNS, score_run, track_metrics

RUN = {"run_id": "r1", "run_date": "2026-01-01 06:00", "data_vintage": "aaa", "last_year": 2021}


def _p(rows, value="export_usd"):
    return pd.DataFrame(rows, columns=["partner", "year", value])


def _c(rows):
    return pd.DataFrame(rows, columns=["year", "kind", "dependence_share"])


@pytest.fixture
def earlier():
    forecasts = _p([("CHN", 2022, 110.0), ("USA", 2022, 55.0), ("VNM", 2022, 30.0),
                    ("REST", 2022, 10.0),
                    ("CHN", 2023, 120.0), ("USA", 2023, 60.0), ("VNM", 2023, 33.0),
                    ("REST", 2023, 11.0),
                    ("CHN", 2024, 130.0), ("USA", 2024, 65.0), ("VNM", 2024, 36.0),
                    ("REST", 2024, 12.0)], "mean")  # fmt: skip
    conc = _c([(2021, "history", 0.60), (2022, "forecast", 0.62), (2023, "forecast", 0.63),
               (2024, "forecast", 0.64)])  # fmt: skip
    seen = _p([("CHN", 2021, 100.0), ("USA", 2021, 50.0), ("VNM", 2021, 25.0),
               ("LAO", 2021, 10.0)])  # fmt: skip
    return forecasts, conc, seen


def test_scores_only_years_after_the_run_with_data_now(earlier):
    forecasts, conc, seen = earlier
    actual = _p([("CHN", 2021, 999.0),  # a revision of the run's last year: not used
                 ("CHN", 2022, 100.0), ("USA", 2022, 60.0), ("VNM", 2022, 30.0),
                 ("LAO", 2022, 10.0)])  # fmt: skip
    actual_conc = _c([(2021, "history", 0.5), (2022, "history", 0.64)])
    out = score_run(RUN, forecasts, conc, seen, actual, actual_conc)
    assert list(out.columns) == TRACK_COLUMNS
    assert sorted(set(out["year"])) == [2022]  # 2023-2024: no data yet
    total = out.set_index("measure").loc["total_usd"]
    assert total["forecast"] == pytest.approx(205.0)  # REST counts in the total
    assert total["actual"] == pytest.approx(200.0)
    assert total["error"] == pytest.approx(2.5)
    assert total["no_change"] == pytest.approx(185.0)  # the run's own 2021 data
    assert total["no_change_error"] == pytest.approx(-7.5)
    share = out.set_index("measure").loc["dependence_share"]
    assert share["error"] == pytest.approx(-2.0)  # 62 % vs 64 %
    assert share["no_change_error"] == pytest.approx(-4.0)  # 60 % vs 64 %
    mape = out.set_index("measure").loc["partner_mape"]
    # CHN +10 %, USA -8.33 %, VNM 0 % (REST is not a partner)
    assert mape["error"] == pytest.approx((10 + 100 * 5 / 60 + 0) / 3)
    assert mape["no_change_error"] == pytest.approx((0 + 100 * 10 / 60 + 100 * 5 / 30) / 3)
    assert mape["n_partners"] == 3


def test_partner_error_leaves_out_partners_below_half_a_percent(earlier):
    forecasts, conc, seen = earlier
    tiny = _p([("TUV", 2021, 0.5)])  # 0.27 % of the run's 2021 exports
    fc = pd.concat([forecasts, _p([("TUV", 2022, 5.0)], "mean")], ignore_index=True)
    actual = _p([("CHN", 2022, 100.0), ("USA", 2022, 60.0), ("VNM", 2022, 30.0),
                 ("TUV", 2022, 0.5)])  # fmt: skip
    seen2 = pd.concat([seen, tiny], ignore_index=True)
    out = score_run(RUN, fc, conc, seen2, actual, _c([(2022, "history", 0.6)]))
    mape = out.set_index("measure").loc["partner_mape"]
    assert mape["n_partners"] == 3  # TUV's +900 % is not in the mean
    assert mape["error"] == pytest.approx((10 + 100 * 5 / 60 + 0) / 3)


def test_no_scored_year_gives_an_empty_table(earlier):
    forecasts, conc, seen = earlier
    actual = _p([("CHN", 2021, 100.0)])
    out = score_run(RUN, forecasts, conc, seen, actual, _c([(2021, "history", 0.6)]))
    assert out.empty and list(out.columns) == TRACK_COLUMNS
    assert track_metrics(out) == {"vintage_track_runs": 0.0, "vintage_track_years": 0.0}


def test_a_forecast_year_the_run_had_data_for_is_never_scored(earlier):
    forecasts, conc, seen = earlier
    # a malformed artifact listing a forecast for the run's own last year
    bad = pd.concat([forecasts, _p([("CHN", 2021, 1.0)], "mean")], ignore_index=True)
    actual = _p([("CHN", 2021, 100.0), ("CHN", 2022, 100.0)])
    out = score_run(RUN, bad, conc, seen, actual, _c([(2022, "history", 0.6)]))
    assert set(out["year"]) == {2022}


def test_metrics_average_absolute_errors(earlier):
    forecasts, conc, seen = earlier
    actual = _p([("CHN", y, 100.0 + y - 2022) for y in (2022, 2023)]
                + [("USA", y, 50.0) for y in (2022, 2023)])  # fmt: skip
    actual_conc = _c([(2022, "history", 0.6), (2023, "history", 0.66)])
    out = score_run(RUN, forecasts, conc, seen, actual, actual_conc)
    m = track_metrics(out)
    assert m["vintage_track_runs"] == 1 and m["vintage_track_years"] == 2
    share = out.loc[out["measure"] == "dependence_share", "error"].abs().mean()
    assert m["vintage_track_share_mae_pp"] == pytest.approx(share)
    assert m["vintage_track_share_mae_pp"] == pytest.approx((2.0 + 3.0) / 2)
    assert np.isfinite(m["vintage_track_mape"]) and np.isfinite(m["vintage_track_mape_no_change"])
    assert "vintage_track_total_ape_no_change" in m
