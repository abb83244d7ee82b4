"""Parsers of the API bodies, on the recorded (and constructed) bodies in tests/data/fixtures/api."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from exportcast.features.sources._common import SourceError
from exportcast.features.sources.api import (
    parse_comtrade_json,
    parse_imts_xml,
    parse_kosis_json,
    parse_wdi_json,
)
from tests.updates.conftest import FIXTURES, SNAPSHOT

IMTS_USA = FIXTURES / "imf" / "imts_sdmx30_USA_XG_FOB_USD_G001_G998_A.xml"
IMTS_KOR = FIXTURES / "imf" / "imts_sdmx30_KOR_XG_FOB_USD_2024_constructed.xml"
WDI = FIXTURES / "worldbank" / "v2_countries_US_indicators_NY.GNP.PCAP.CD_1990-1997.json"
WDI_ERROR = FIXTURES / "worldbank" / "v2_error_message_constructed.json"
COMTRADE = FIXTURES / "comtrade" / "data_v1_get_C_A_HS_CHN_2010.json"
COMTRADE_EMPTY = FIXTURES / "comtrade" / "bulk_v1_get_C_A_HS_empty.json"
KOSIS = FIXTURES / "kosis" / "statisticsParameterData_DT_1R11006_FRM101_2024_constructed.json"
KOSIS_ERROR = FIXTURES / "kosis" / "error_err30_constructed.json"


@pytest.fixture(scope="module")
def names() -> dict[str, str]:
    c = pd.read_parquet(SNAPSHOT / "countries.parquet")
    return dict(zip(c["name"], c["country"], strict=True))


def test_imts_recorded_obs_value_is_usd_and_scale_is_never_applied():
    rel = parse_imts_xml(IMTS_USA.read_bytes(), "imts")
    totals = rel.totals.set_index("year")["total_usd"]
    # recorded OBS_VALUE 2019551635133 with SCALE="6": USD as is, not x 1e6
    assert totals[2023] == 2019551635133.0
    assert totals[2024] == 2065411250609.0
    assert rel.rows.empty  # G001 is the World total, G998 (EU) a group
    assert rel.dropped == {"IMTS group G998": 1}


def test_imts_partners_and_total():
    rel = parse_imts_xml(IMTS_KOR.read_bytes(), "imts")
    got = rel.rows.set_index("partner")["export_usd"]
    assert sorted(got.index) == ["CHN", "HKG", "JPN", "USA", "VNM"]
    assert got["CHN"] == 133026000000.0
    assert rel.totals["total_usd"].tolist() == [683757497000.0]


def test_imts_truncated_xml_and_unit_change_are_errors():
    body = IMTS_KOR.read_bytes()
    with pytest.raises(SourceError, match="truncated or malformed XML"):
        parse_imts_xml(body[: len(body) // 2], "imts: GET /x")
    changed = body.replace(b"<Value>USD</Value>", b"<Value>USD_THOUSANDS</Value>")
    with pytest.raises(SourceError, match="UNIT 'USD_THOUSANDS'; expected one of") as err:
        parse_imts_xml(changed, "imts: GET /x")
    assert err.value.column == "UNIT" and err.value.path == "imts: GET /x"


def test_wdi_recorded_page_metadata_first_and_null_values():
    frame, page = parse_wdi_json(WDI.read_bytes(), "wdi", "NY.GNP.PCAP.CD")
    assert page["total"] == 8 and page["pages"] == 1
    assert len(frame) == 8 and set(frame["country"]) == {"USA"}
    assert frame.set_index("year")["value"][1997] == 31270
    data = json.loads(WDI.read_bytes())
    data[1][0]["value"] = None
    frame, _ = parse_wdi_json(json.dumps(data).encode(), "wdi", "NY.GNP.PCAP.CD")
    assert len(frame) == 7 and 1997 not in set(frame["year"])


def test_wdi_error_inside_http_200_and_wrong_indicator():
    with pytest.raises(SourceError, match=r"World Bank API answered with an error.*Invalid value"):
        parse_wdi_json(WDI_ERROR.read_bytes(), "wdi", "NY.GNP.PCAP.CD")
    with pytest.raises(SourceError, match=r"expected 'TX.VAL.MRCH.CD.WT'"):
        parse_wdi_json(WDI.read_bytes(), "wdi", "TX.VAL.MRCH.CD.WT")


def test_comtrade_recorded_exports_only_in_usd():
    rel = parse_comtrade_json(COMTRADE.read_bytes(), "comtrade")
    got = rel.rows.set_index("partner")["export_usd"]
    assert got.to_dict() == {"ARG": 6115764185.0, "DEU": 68047133397.0}  # flowCode X only
    assert set(rel.rows["reporter"]) == {"CHN"} and set(rel.rows["year"]) == {2010}


def test_comtrade_renamed_field_truncated_body_empty_answer():
    body = COMTRADE.read_bytes()
    with pytest.raises(SourceError, match=r"lack field\(s\) \['primaryValue'\]") as err:
        parse_comtrade_json(body.replace(b'"primaryValue"', b'"primary_value"'), "comtrade")
    assert err.value.column == "primaryValue"
    with pytest.raises(SourceError, match="truncated or malformed JSON"):
        parse_comtrade_json(body[:-40], "comtrade")
    data = json.loads(body)
    data["data"] = data["data"][:2]
    with pytest.raises(SourceError, match="count says 4 records but data holds 2"):
        parse_comtrade_json(json.dumps(data).encode(), "comtrade")
    with pytest.raises(SourceError, match="no records"):
        parse_comtrade_json(COMTRADE_EMPTY.read_bytes(), "comtrade")


def test_kosis_thousands_are_scaled_and_counts_ignored(names):
    rel = parse_kosis_json(KOSIS.read_bytes(), "kosis", names)
    got = rel.rows.set_index("partner")["export_usd"]
    assert got["CHN"] == 133026000000.0 and got["VNM"] == 58390000000.0
    assert len(got) == 5
    assert rel.totals["total_usd"].tolist() == [683757497000.0]


def test_kosis_error_inside_http_200_and_unit_change(names):
    with pytest.raises(SourceError, match="KOSIS answered with error 30"):
        parse_kosis_json(KOSIS_ERROR.read_bytes(), "kosis", names)
    body = KOSIS.read_bytes().replace(b'"Thousand US$"', b'"Million US$"')
    with pytest.raises(SourceError, match="unit 'Million US\\$'") as err:
        parse_kosis_json(body, "kosis: GET /x", names)
    assert err.value.column == "UNIT_NM_ENG" and err.value.row == 1
