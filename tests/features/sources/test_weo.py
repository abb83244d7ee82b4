import shutil

import pandas as pd
import pytest

from exportcast.features.sources._common import SourceError
from exportcast.features.sources.codes import known_iso3
from exportcast.features.sources.weo import (
    DEFAULT_CONCEPTS,
    WEO_COLUMNS,
    WEO_SCALES,
    is_imf_group,
    load_weo,
    read_weo_scales,
    weo_wide,
)

VALUES = "weo_2025oct_values.csv"
SMALL = ("NGDP_RPCH", "NGDPD", "LP", "PCPIPCH")
WIDE_COLUMNS = [
    "country",
    "year",
    "gdp_growth_pct",
    "gdp_usd",
    "gdp_pc_usd",
    "pop",
    "imports_volume_growth_pct",
    "inflation_pct",
    "is_projection",
]


@pytest.fixture(scope="module")
def weo(raw):
    return load_weo(raw / "imf_weo" / VALUES)


@pytest.mark.rawdata
def test_real_file_matches_published_values(weo):
    f = weo.frame
    assert list(f.columns) == ["country", "year", "concept", "value", "is_projection"]
    assert f.dtypes.astype(str).tolist() == ["object", "int64", "object", "float64", "bool"]
    assert f.index.equals(pd.RangeIndex(len(f)))
    assert set(f["concept"]) == set(DEFAULT_CONCEPTS)
    x = f.set_index(["country", "concept", "year"]).sort_index()
    khm = x.loc[("KHM", "NGDP_RPCH")]
    assert khm.loc[2024, "value"] == pytest.approx(6.0, abs=0.05)
    assert not khm.loc[2024, "is_projection"]
    assert khm.loc[2026:2030, "value"].round(1).tolist() == [4.0, 4.5, 5.0, 5.3, 5.5]
    assert khm.loc[2025:2030, "is_projection"].all()
    assert x.loc[("KOR", "NGDPD", 2019), "value"] == pytest.approx(1751.0e9, rel=1e-3)
    assert x.loc[("KOR", "LP", 2019), "value"] == pytest.approx(51.8e6, rel=0.01)  # persons
    assert x.loc[("KOR", "NGDP_RPCH", 2025), "value"] == pytest.approx(0.9, abs=0.05)


@pytest.mark.rawdata
def test_real_file_codes_are_iso3_and_groups_are_dropped(weo):
    codes = set(weo.frame["country"])
    assert codes <= known_iso3()
    assert {"XKX", "PSE", "TWN"} <= codes
    assert not codes & {"KOS", "WBG"}
    assert len(codes) == 197
    assert weo.dropped == {"IMF group": weo.dropped["IMF group"]}
    assert weo.dropped["IMF group"] > 0


@pytest.mark.rawdata
def test_real_concepts_file_agrees_with_built_in_scales(raw, tmp_path):
    assert read_weo_scales(raw / "imf_weo" / "weo_concepts.csv") == WEO_SCALES
    # the same values file without the lookup files beside it loads to the same frame
    shutil.copy(raw / "imf_weo" / VALUES, tmp_path / VALUES)
    alone = load_weo(tmp_path / VALUES)
    pd.testing.assert_frame_equal(alone.frame, load_weo(raw / "imf_weo" / VALUES).frame)


@pytest.mark.rawdata
def test_real_ppp_concepts_have_underivable_blank_flags(raw):
    # PPPGDP/PPPPC have blank is_projection and no last_actual_year in weo_series_meta.csv.
    with pytest.raises(SourceError) as err:
        load_weo(raw / "imf_weo" / VALUES, concepts=["PPPGDP"])
    assert err.value.column == "is_projection"
    assert err.value.row is not None


@pytest.mark.rawdata
def test_real_wide_frame(weo):
    w = weo_wide(weo.frame)
    assert list(w.columns) == WIDE_COLUMNS
    assert str(w["is_projection"].dtype) == "boolean"
    assert not w.duplicated(["country", "year"]).any()
    khm = w[w["country"] == "KHM"].set_index("year")
    assert khm.loc[2024, "gdp_growth_pct"] == pytest.approx(6.0, abs=0.05)
    assert not khm.loc[2024, "is_projection"]
    assert khm.loc[2030, "is_projection"]
    kor = w[w["country"] == "KOR"].set_index("year")
    assert kor.loc[2019, "gdp_usd"] == pytest.approx(1751.0e9, rel=1e-3)


def test_small_concepts_file_agrees_with_built_in_scales(bad):
    scales = read_weo_scales(bad / "weo" / "weo_concepts.csv")
    assert scales == {k: WEO_SCALES[k] for k in scales}
    assert set(DEFAULT_CONCEPTS) <= set(scales)
    assert set(WEO_COLUMNS) == set(DEFAULT_CONCEPTS)


def test_good_small_file_loads(bad):
    loaded = load_weo(bad / "weo" / "good.csv", concepts=SMALL)
    f = loaded.frame
    assert list(f.columns) == ["country", "year", "concept", "value", "is_projection"]
    assert f[["country", "year", "concept"]].values.tolist() == [
        ["KHM", 2023, "PCPIPCH"],
        ["KHM", 2024, "LP"],
        ["KHM", 2024, "NGDPD"],
        ["KHM", 2024, "NGDP_RPCH"],
        ["KHM", 2024, "PCPIPCH"],
        ["KHM", 2025, "NGDP_RPCH"],
        ["PSE", 2024, "NGDP_RPCH"],
        ["XKX", 2024, "NGDP_RPCH"],
    ]
    assert f["value"].tolist() == pytest.approx(
        [2.1, 17.4e6, 46.35e9, 6.02, 0.873, 4.774, -26.6, 4.4]
    )
    # PCPIPCH flags were blank: derived from last_actual_year 2023 in weo_series_meta.csv
    assert f["is_projection"].tolist() == [False, False, False, False, True, True, False, False]
    assert loaded.dropped == {"IMF group": 2}


def test_group_codes():
    assert all(is_imf_group(c) for c in ["G001", "G110", "G998", "GX123", "g163"])
    assert not any(is_imf_group(c) for c in ["GBR", "GEO", "G", "GX", "KOS"])


def test_built_in_scales_are_used_without_a_concepts_file(bad):
    f = load_weo(bad / "weo" / "no_lookups" / "values.csv", concepts=SMALL[:3]).frame
    x = f.set_index(["country", "concept", "year"])["value"]
    assert x[("KHM", "NGDPD", 2024)] == pytest.approx(46.35e9)
    assert x[("KHM", "LP", 2024)] == pytest.approx(17.4e6)
    assert x[("XKX", "NGDP_RPCH", 2024)] == 4.4


def test_same_result_with_and_without_the_concepts_file(bad, tmp_path):
    src = bad / "weo" / "no_lookups" / "values.csv"
    shutil.copy(src, tmp_path / "values.csv")
    shutil.copy(bad / "weo" / "weo_concepts.csv", tmp_path / "weo_concepts.csv")
    with_file = load_weo(tmp_path / "values.csv", concepts=SMALL[:3])
    without = load_weo(src, concepts=SMALL[:3])
    pd.testing.assert_frame_equal(with_file.frame, without.frame)


def test_weo_wide_pivots_and_takes_the_growth_flag(bad):
    frame = load_weo(bad / "weo" / "good.csv", concepts=SMALL).frame
    before = frame.copy()
    w = weo_wide(frame)
    pd.testing.assert_frame_equal(frame, before)  # pure
    assert list(w.columns) == WIDE_COLUMNS
    assert w.index.equals(pd.RangeIndex(len(w)))
    khm = w[w["country"] == "KHM"].set_index("year")
    assert khm.loc[2024, "gdp_usd"] == pytest.approx(46.35e9)
    assert khm.loc[2024, "pop"] == pytest.approx(17.4e6)
    assert khm["gdp_pc_usd"].isna().all()  # concept not loaded
    # 2024 inflation is a projection but the row follows NGDP_RPCH (actual)
    assert not khm.loc[2024, "is_projection"]
    assert bool(khm.loc[2025, "is_projection"])
    assert pd.isna(khm.loc[2023, "is_projection"])  # no NGDP_RPCH in 2023


@pytest.mark.parametrize(
    ("name", "row", "column", "words"),
    [
        ("missing_column.csv", None, None, "missing column"),
        ("text_in_number.csv", 3, "value", "expected a number, found 'n.a.'"),
        ("duplicate_rows.csv", 3, None, "duplicate key"),
        ("duplicate_after_mapping.csv", 3, None, "duplicate key"),
        ("negative_value.csv", 3, "value", "non-negative"),
        ("unknown_code.csv", 3, "ref_area", "unknown country code 'KHX'"),
        ("bad_flag.csv", 3, "is_projection", "expected 0, 1 or blank"),
        ("blank_flag_no_meta.csv", 3, "is_projection", "no last_actual_year for (KHM, NGDPD)"),
        ("no_lookups/blank_flag.csv", 3, "is_projection", "has no last_actual_year"),
    ],
)
def test_bad_file_error_names_file_row_and_column(bad, name, row, column, words):
    with pytest.raises(SourceError) as err:
        load_weo(bad / "weo" / name, concepts=("NGDP_RPCH", "NGDPD"))
    e = err.value
    assert name.split("/")[-1] in str(e)
    assert e.row == row
    assert e.column == column
    assert words in str(e)


def test_bad_scale_in_concepts_file(bad):
    with pytest.raises(SourceError) as err:
        load_weo(bad / "weo" / "bad_scale" / "values.csv", concepts=["NGDP_RPCH"])
    e = err.value
    assert "weo_concepts.csv" in str(e)
    assert (e.row, e.column) == (3, "scale_label")
    assert "unknown scale 'bn'" in str(e)


def test_unknown_and_absent_concepts(bad):
    with pytest.raises(ValueError, match="unknown WEO concept"):
        load_weo(bad / "weo" / "good.csv", concepts=["NGDP_XYZ"])
    with pytest.raises(SourceError) as err:
        load_weo(bad / "weo" / "good.csv", concepts=["NGDP_RPCH", "TM_RPCH"])
    assert err.value.column == "concept"
    assert "TM_RPCH" in str(err.value)


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(SourceError, match="file not found"):
        load_weo(tmp_path / "nope.csv")
