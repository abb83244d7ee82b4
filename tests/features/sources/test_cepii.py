import numpy as np
import pandas as pd
import pytest

from exportcast.features.sources._common import SourceError
from exportcast.features.sources.cepii import (
    combine_points,
    fill_missing_pairs,
    great_circle_km,
    load_cepii_distances,
    load_cepii_geo,
)
from exportcast.features.sources.demography import load_gapminder_geo

SEOUL = (37.5, 127.0)  # CEPII geo_cepii.csv capitals
BEIJING = (39.91667, 116.4333)

# --- real files ------------------------------------------------------------------------------


@pytest.mark.rawdata
def test_real_distances_match_published_geodist_figures(raw):
    loaded = load_cepii_distances(raw / "cepii_geodist" / "dist_cepii.csv")
    f = loaded.frame.set_index(["reporter", "partner"])
    # The published figures are `dist` (most populated cities), exposed as dist_km.
    assert f.loc[("KOR", "KHM"), "dist_km"] == pytest.approx(3629, abs=1)
    assert f.loc[("KOR", "CHN"), "dist_km"] == pytest.approx(956, abs=1)
    assert f.loc[("KOR", "USA"), "dist_km"] == pytest.approx(11066, abs=1)
    # distance_km is distw (population weighted), different from dist.
    assert f.loc[("KOR", "CHN"), "distance_km"] == pytest.approx(1168.165)
    # MAC has no distw: distance_km falls back to dist.
    assert f.loc[("KOR", "MAC"), "distance_km"] == f.loc[("KOR", "MAC"), "dist_km"]
    assert f.loc[("KOR", "USA"), "common_language"] == 0
    assert f.loc[("CHN", "MNG"), "contiguous"] == 1
    assert ("ROU", "KOR") in f.index and ("COD", "KOR") in f.index  # ROM, ZAR mapped
    assert not {"ROM", "ZAR", "TMP", "PAL", "YUG", "ANT"} & set(f.index.get_level_values(0))
    assert loaded.dropped["legacy code YUG"] > 0 and loaded.dropped["legacy code ANT"] > 0
    assert loaded.dropped["own pair (i == i)"] == 224
    assert (loaded.frame["reporter"] != loaded.frame["partner"]).all()
    assert loaded.frame["contiguous"].dtype == np.int8
    assert (loaded.frame["distance_km"] > 0).all()


@pytest.mark.rawdata
def test_real_geo_one_capital_per_country(raw):
    loaded = load_cepii_geo(raw / "cepii_geodist" / "geo_cepii.csv")
    f = loaded.frame.set_index("country")
    assert f.index.is_unique
    assert f.loc["USA", "lat"] == pytest.approx(38.867)  # Washington, not New York
    assert f.loc["AUS", "lon"] == pytest.approx(149.133)  # Canberra, not Sydney
    assert f.loc["KOR", "landlocked"] == 0 and f.loc["AFG", "landlocked"] == 1
    assert f.loc["KHM", "continent"] == "Asia"
    assert {"ROU", "COD", "TLS", "PSE"} <= set(f.index)


@pytest.mark.rawdata
def test_real_great_circle_reproduces_cepii_capital_distances(raw):
    dist = load_cepii_distances(raw / "cepii_geodist" / "dist_cepii.csv").frame
    geo = load_cepii_geo(raw / "cepii_geodist" / "geo_cepii.csv").frame.set_index("country")
    pairs = dist.set_index(["reporter", "partner"]).loc[[("KOR", "CHN"), ("KOR", "KHM")]]
    a = geo.loc[pairs.index.get_level_values(0)]
    b = geo.loc[pairs.index.get_level_values(1)]
    km = great_circle_km(a["lat"], a["lon"], b["lat"], b["lon"])
    np.testing.assert_allclose(km, pairs["distcap_km"], rtol=2e-3)


@pytest.mark.rawdata
def test_real_fill_for_countries_cepii_lacks(raw):
    dist = load_cepii_distances(raw / "cepii_geodist" / "dist_cepii.csv").frame
    geo = load_cepii_geo(raw / "cepii_geodist" / "geo_cepii.csv").frame
    points = combine_points(geo, load_gapminder_geo(raw / "gapminder_wpp").frame)
    out = fill_missing_pairs(dist, points, ["KOR"], ["SRB", "MNE", "SSD", "CUW", "CHN"])
    kor = out[out["reporter"] == "KOR"].set_index("partner")
    for p in ("SRB", "MNE", "SSD", "CUW"):
        assert kor.loc[p, "distance_source"] == "great_circle"
    assert kor.loc["CHN", "distance_source"] == "cepii"
    assert kor.loc["SRB", "distance_km"] == pytest.approx(8270, rel=0.01)  # Seoul-Belgrade


# --- small files -----------------------------------------------------------------------------


def test_good_small_distance_file(bad):
    loaded = load_cepii_distances(bad / "cepii" / "good.csv")
    f = loaded.frame
    assert list(f.columns) == [
        "reporter",
        "partner",
        "distance_km",
        "dist_km",
        "distcap_km",
        "contiguous",
        "common_language",
        "colony",
        "same_country",
    ]
    assert list(zip(f["reporter"], f["partner"], strict=True)) == [
        ("CHN", "KOR"),
        ("KOR", "CHN"),
        ("KOR", "MAC"),
        ("KOR", "ROU"),
    ]
    by = f.set_index("partner")
    assert by.loc["MAC", "distance_km"] == 2129.243  # distw blank -> dist
    assert by.loc["ROU", "distance_km"] == 8011.973
    assert loaded.dropped == {"legacy code YUG": 1, "own pair (i == i)": 1}
    assert f.index.equals(pd.RangeIndex(len(f)))


@pytest.mark.parametrize(
    ("name", "row", "column", "words"),
    [
        ("missing_column.csv", None, None, "missing column"),
        ("text_in_number.csv", 3, "distcap", "expected a number"),
        ("duplicate_rows.csv", 3, None, "duplicate key"),
        ("duplicate_after_mapping.csv", 4, None, "duplicate key"),
        ("negative_distance.csv", 3, "dist", "positive"),
        ("unknown_code.csv", 3, "iso_d", "unknown country code 'QQQ'"),
        ("dummy_not_01.csv", 3, "contig", "expected 0 or 1"),
    ],
)
def test_bad_distance_file_error_names_file_row_and_column(bad, name, row, column, words):
    with pytest.raises(SourceError) as err:
        load_cepii_distances(bad / "cepii" / name)
    e = err.value
    assert name in str(e)
    assert e.row == row
    assert e.column == column
    assert words in str(e)


def test_geo_small_prefers_capital_row(bad):
    loaded = load_cepii_geo(bad / "cepii" / "geo_good.csv")
    f = loaded.frame.set_index("country")
    assert list(f.index) == ["ATF", "BEN", "COD", "KOR", "USA"]
    assert f.loc["USA", "lat"] == 38.867
    assert f.loc["BEN", "lat"] == 6.5  # cap == 1 (Porto-Novo), not cap == 2 (Cotonou)
    assert pd.isna(f.loc["ATF", "continent"])  # "No" in the file
    assert loaded.dropped == {"legacy code YUG": 1, "second city of a country": 2}


@pytest.mark.parametrize(
    ("name", "row", "column", "words"),
    [
        ("geo_bad_latitude.csv", 3, "lat", "coordinate"),
        ("geo_two_capitals.csv", 3, None, "duplicate key"),
    ],
)
def test_bad_geo_file_error_names_file_row_and_column(bad, name, row, column, words):
    with pytest.raises(SourceError) as err:
        load_cepii_geo(bad / "cepii" / name)
    e = err.value
    assert name in str(e)
    assert (e.row, e.column) == (row, column)
    assert words in str(e)


# --- great circle and missing pairs ----------------------------------------------------------


def test_great_circle_known_values():
    assert great_circle_km(*SEOUL, *BEIJING) == pytest.approx(955, abs=3)
    assert great_circle_km(0, 0, 0, 180) == pytest.approx(np.pi * 6371.0088)
    assert great_circle_km(10, 20, 10, 20) == 0
    np.testing.assert_allclose(
        great_circle_km(np.array([0.0, 0.0]), 0, np.array([1.0, -1.0]), 0),
        [111.195, 111.195],
        rtol=1e-4,
    )


def _pairs() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "reporter": ["KOR"],
            "partner": ["KHM"],
            "distance_km": [3591.275],
            "dist_km": [3628.807],
            "distcap_km": [3628.807],
            "contiguous": np.array([0], dtype="int8"),
            "common_language": np.array([0], dtype="int8"),
            "colony": np.array([0], dtype="int8"),
            "same_country": np.array([0], dtype="int8"),
        }
    )


def _points() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "country": ["KOR", "CHN", "KHM", "SRB"],
            "lat": [SEOUL[0], BEIJING[0], 11.58333, 44.81892],
            "lon": [SEOUL[1], BEIJING[1], 104.9167, 20.45998],
        }
    )


def test_fill_missing_pairs_adds_great_circle_rows_only_where_cepii_lacks_them():
    out = fill_missing_pairs(_pairs(), _points(), ["KOR"], ["CHN", "KHM", "SRB", "KOR"])
    by = out.set_index("partner")
    assert list(out["partner"]) == ["CHN", "KHM", "SRB"]  # no KOR-KOR
    assert by.loc["KHM", "distance_source"] == "cepii"
    assert by.loc["KHM", "distance_km"] == 3591.275  # CEPII value untouched
    assert by.loc["CHN", "distance_source"] == "great_circle"
    assert by.loc["CHN", "distance_km"] == pytest.approx(955, abs=3)
    assert by.loc["CHN", "dist_km"] == by.loc["CHN", "distance_km"]
    assert by.loc["SRB", "distance_km"] == pytest.approx(8270, rel=0.01)
    assert pd.isna(by.loc["SRB", "contiguous"])
    assert str(out["contiguous"].dtype) == "Int8"
    assert out.index.equals(pd.RangeIndex(len(out)))


def test_fill_missing_pairs_without_point_warns_raises_or_skips():
    with pytest.warns(UserWarning, match="XKX"):
        out = fill_missing_pairs(_pairs(), _points(), ["KOR"], ["XKX", "CHN"])
    assert set(out["partner"]) == {"KHM", "CHN"}
    with pytest.raises(ValueError, match="XKX"):
        fill_missing_pairs(_pairs(), _points(), ["KOR"], ["XKX", "CHN"], on_missing="raise")
    out = fill_missing_pairs(_pairs(), _points(), ["KOR"], ["XKX", "CHN"], on_missing="skip")
    assert set(out["partner"]) == {"KHM", "CHN"}


def test_combine_points_first_table_wins():
    cepii = pd.DataFrame({"country": ["KOR", "CHN"], "lat": [37.5, 39.9], "lon": [127.0, 116.4]})
    other = pd.DataFrame(
        {"country": ["KOR", "SRB", "XKX"], "lat": [36.5, 44.8, np.nan], "lon": [127.75, 20.5, 21]}
    )
    out = combine_points(cepii, other)
    assert out["country"].tolist() == ["CHN", "KOR", "SRB"]
    assert out.set_index("country").loc["KOR", "lat"] == 37.5
    assert out["point_source"].tolist() == [0, 0, 1]


def test_fill_missing_pairs_rejects_duplicate_points():
    points = pd.concat([_points(), _points().iloc[[0]]])
    with pytest.raises(ValueError, match="KOR"):
        fill_missing_pairs(_pairs(), points, ["KOR"], ["CHN"])


def test_fill_missing_pairs_nothing_missing_keeps_frame():
    out = fill_missing_pairs(_pairs(), _points(), ["KOR"], ["KHM"])
    assert len(out) == 1 and out.loc[0, "distance_source"] == "cepii"


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(SourceError, match="file not found"):
        load_cepii_distances(tmp_path / "nope.csv")
