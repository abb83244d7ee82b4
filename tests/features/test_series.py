import numpy as np
import pandas as pd
import pytest

from exportcast.features.concentration import concentration_from_paths, concentration_index
from exportcast.features.series import split_series


def _panel():
    out = []
    for year in range(2000, 2010):
        out += [("KOR", "CHN", year, 50.0), ("KOR", "USA", year, 30.0), ("KOR", "VNM", year, 10.0)]
        if year % 2:
            out.append(("KOR", "NPL", year, 1.0))
        if year >= 2008:
            out.append(("KOR", "TLS", year, 3.0))
    return pd.DataFrame(out, columns=["reporter", "partner", "year", "export_usd"])


def test_split_series_models_regular_partners_and_sums_the_rest():
    fs = split_series(_panel(), min_years=5)
    assert fs.partners == ("CHN", "USA", "VNM")
    rest = fs.series[fs.series["unique_id"] == "KOR|REST"].set_index("ds")["y"]
    assert rest.to_dict() == {2007: 1.0, 2008: 3.0, 2009: 4.0}  # trailing positive run
    assert fs.n_partners == 5
    assert fs.rest_hhi == pytest.approx((1 / 4) ** 2 + (3 / 4) ** 2)
    assert fs.rest_shares == pytest.approx((3 / 4, 1 / 4))
    totals = fs.series.groupby("ds")["y"].sum()
    panel_totals = _panel().groupby("year")["export_usd"].sum()
    assert np.allclose(totals.loc[2007:], panel_totals.loc[2007:])


def test_concentration_from_paths_matches_frame_indices_without_rest():
    paths = pd.DataFrame(
        {
            "path": [0, 0, 0, 1, 1, 1],
            "year": 2024,
            "partner": ["CHN", "USA", "VNM"] * 2,
            "export_usd": [50.0, 30.0, 20.0, 10.0, 10.0, 80.0],
        }
    )
    out = concentration_from_paths(paths).set_index("path")
    ref = concentration_index(paths.rename(columns={"path": "reporter"})).set_index("reporter")
    for col in ("hhi", "hhi_norm", "n_effective", "cr1", "cr3", "theil", "dependence_share"):
        assert np.allclose(out[col], ref[col])


def test_rest_counts_as_many_small_partners():
    paths = pd.DataFrame(
        {"path": 0, "year": 2024, "partner": ["CHN", "REST"], "export_usd": [50.0, 50.0]}
    )
    plain = concentration_from_paths(paths)["hhi"].iloc[0]
    members = (0.6, 0.2, 0.1, 0.1)
    spread = concentration_from_paths(paths, rest="REST", rest_shares=members)["hhi"].iloc[0]
    assert plain == pytest.approx(0.5)
    assert spread == pytest.approx(0.25 + 0.25 * (0.36 + 0.04 + 0.01 + 0.01))


@pytest.mark.parametrize("members", [(1.0,), (0.5, 0.5), (0.7, 0.1, 0.1, 0.05, 0.03, 0.02)])
def test_rest_members_enter_every_index_as_if_each_had_its_own_path(members):
    # REST = members with fixed relative sizes: the indices must equal those of the panel
    # with every member as its own partner (HHI, Theil, CR-k ranks them with the others)
    rng = np.random.default_rng(3)
    named = {"CHN": 40.0, "USA": 25.0, "VNM": 9.0, "JPN": 3.0}
    rows, full = [], []
    for path in range(4):
        rest = float(rng.uniform(5, 80))
        values = {k: v * float(rng.uniform(0.5, 1.5)) for k, v in named.items()}
        for k, v in [*values.items(), ("REST", rest)]:
            rows.append({"path": path, "year": 2025, "partner": k, "export_usd": v})
        for k, v in values.items():
            full.append({"reporter": str(path), "year": 2025, "partner": k, "export_usd": v})
        for j, r in enumerate(members):
            full.append(
                {"reporter": str(path), "year": 2025, "partner": f"M{j}", "export_usd": rest * r}
            )
    n = len(named) + len(members)
    got = concentration_from_paths(
        pd.DataFrame(rows), rest="REST", rest_shares=members, n_partners=n
    ).set_index("path")
    ref = concentration_index(pd.DataFrame(full)).assign(path=lambda f: f["reporter"].astype(int))
    ref = ref.set_index("path")
    for col in ("hhi", "hhi_norm", "n_effective", "cr1", "cr3", "cr5", "theil", "dependence_share"):
        assert np.allclose(got[col], ref.loc[got.index, col]), col


def test_rest_shares_must_be_shares():
    paths = pd.DataFrame(
        {"path": 0, "year": 2024, "partner": ["CHN", "REST"], "export_usd": [50.0, 50.0]}
    )
    for bad in [(0.5, 0.4), (1.2, -0.2)]:
        with pytest.raises(ValueError, match="rest_shares"):
            concentration_from_paths(paths, rest="REST", rest_shares=bad)


def test_partners_that_cannot_be_forecast_are_coverage_errors_naming_the_keys():
    from exportcast.features.series import CoverageError, check_dependence_modelled

    fs = split_series(_panel(), min_years=5)
    check_dependence_modelled(fs, ("CHN", "USA"), reporter="KOR", min_years=5)  # fine
    # NPL trades every other year: in REST, so its share cannot be forecast
    with pytest.raises(CoverageError) as err:
        check_dependence_modelled(fs, ("CHN", "NPL"), reporter="KOR", min_years=5)
    text = str(err.value)
    assert "dependence partner(s) NPL of KOR" in text and "2005-2009" in text
    assert "forecast.min_years=5" in text and "forecast.enabled=false" in text
    # nobody trades every year of the window
    gappy = _panel().query("partner in ['NPL', 'TLS']")
    with pytest.raises(CoverageError, match=r"no partner of KOR has exports in every year"):
        split_series(gappy, min_years=5)
