"""IMF WEO (latest vintage): parser, connector faults on 127.0.0.1, update and the live outlook.

Bodies: the recorded October 2025 WEO answer (SDMX 2.1, SVK ``NGDP_R``) and a constructed
spring 2026 answer in the SDMX 3.0 layout of the recorded IMTS body
(``weo_sdmx30_S2026_..._constructed.xml``: the October 2025 values of KOR, CHN, USA, VNM and
Kosovo with KOR/CHN/... growth in 2026 raised by 0.1 point and GDP from 2025 by 1 %, plus World
and a group; ``SCALE`` kept on the series and never applied).
"""

from __future__ import annotations

import logging
import re

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from exportcast.features.outlook import outlook_at, vintage_at
from exportcast.features.sources._common import SourceError
from exportcast.features.sources.weo_api import parse_weo_xml
from exportcast.features.weo_release import merge_weo_vintage
from exportcast.flows.cli import app
from exportcast.flows.connectors import ConnectorError, fetch_sources
from exportcast.flows.outputs import live_weo_vintage
from exportcast.flows.snapshot import load_snapshot
from exportcast.flows.update import run_update
from exportcast.flows.vintages import active_id, resolve_vintage
from exportcast.models.demand import weo_outlook
from tests.updates.conftest import FIXTURES, SNAPSHOT
from tests.updates.server import ReplayServer
from tests.updates.test_connectors import FAST, KEY

WEO_RECORDED = FIXTURES / "imf" / "weo_sdmx21_structurespecific_SVK_NGDP_R.xml"
WEO_S2026 = FIXTURES / "imf" / "weo_sdmx30_S2026_KOR_CHN_USA_VNM_KOS_constructed.xml"
WEO_PATH = "/data/dataflow/IMF.RES/WEO/+/*.NGDP_RPCH+NGDPD+NGDPDPC+LP+TM_RPCH+PCPIPCH.A"
OK = (200, {"Content-Type": "application/xml"}, WEO_S2026.read_bytes(), 0.0)


@pytest.fixture
def server(monkeypatch):
    with ReplayServer() as srv:
        monkeypatch.setenv("EXPORTCAST_WEO_URL", srv.url)
        monkeypatch.setenv("KOSIS_API_KEY", KEY)
        monkeypatch.setenv("COMTRADE_API_KEY", KEY)
        yield srv


def _fetch(sleeps=None):
    sleeps = [] if sleeps is None else sleeps
    return fetch_sources(["weo"], reporter="KOR", years="2024", policy=FAST,
                         log=lambda _: None, sleep=sleeps.append)  # fmt: skip


def _obs(body: bytes, country: str, concept: str, year: int) -> float:
    series = re.search(
        rf'<Series COUNTRY="{country}" INDICATOR="{concept}"[^>]*>(.*?)</Series>'.encode(), body
    )
    assert series is not None
    value = re.search(rf'OBS_VALUE="([^"]+)" TIME_PERIOD="{year}"'.encode(), series.group(1))
    assert value is not None
    return float(value.group(1))


# ---- parser ------------------------------------------------------------------------------


def test_recorded_weo_obs_value_is_in_the_unit_and_scale_is_never_applied():
    rel = parse_weo_xml(WEO_RECORDED.read_bytes(), "weo", concepts=["NGDP_R"])
    # recorded OBS_VALUE 94669000000 with SCALE="9": domestic currency as is, not x 1e9
    assert rel.values.to_dict("records") == [
        {"country": "SVK", "year": 2018, "concept": "NGDP_R", "value": 94669000000.0,
         "is_projection": False}
    ]  # fmt: skip
    # PUBLICATION_DATE 2025-10-14 is the October 2025 WEO; LATEST_ACTUAL_ANNUAL_DATA 2024
    assert (rel.vintage, rel.vintage_year, rel.season) == ("F2025", 2025, "F")
    assert rel.publication_date == "2025-10-14"


def test_one_obs_without_obs_value_is_a_missing_value():
    body = WEO_S2026.read_bytes().replace(b"OBS_VALUE=", b"OBS_VAL=", 1)
    rel = parse_weo_xml(body, "weo")
    full = parse_weo_xml(WEO_S2026.read_bytes(), "weo")
    assert len(rel.values) == len(full.values) - 1
    assert rel.dropped == {"IMF group": 48, "no value": 1}


def test_constructed_s2026_world_kept_groups_dropped_kosovo_mapped():
    body = WEO_S2026.read_bytes()
    rel = parse_weo_xml(body, "weo")
    assert rel.vintage == "S2026"
    assert set(rel.values["country"]) == {"CHN", "KOR", "USA", "VNM", "WLD", "XKX"}
    assert rel.dropped == {"IMF group": 48}  # GX123: 6 concepts x 8 years
    v = rel.values.set_index(["country", "concept", "year"])["value"]
    assert v[("KOR", "NGDPD", 2026)] == _obs(body, "KOR", "NGDPD", 2026)  # SCALE 9 ignored
    assert v[("KOR", "LP", 2026)] == _obs(body, "KOR", "LP", 2026)  # SCALE 6 ignored
    flag = rel.values.set_index(["country", "concept", "year"])["is_projection"]
    assert not flag[("KOR", "NGDP_RPCH", 2025)] and flag[("KOR", "NGDP_RPCH", 2026)]


@pytest.mark.parametrize(
    ("change", "column", "words"),
    [
        (lambda b: b.replace(b"OBS_VALUE=", b"OBS_VAL="), "OBS_VALUE",
         "no Obs has OBS_VALUE"),
        (lambda b: b.replace(b"<Value>USD</Value>", b"<Value>XDC</Value>", 1), "UNIT",
         "UNIT 'XDC'; expected 'USD'"),
        (lambda b: b.replace(b'id="PUBLICATION_DATE"', b'id="PUB_DATE"'), "PUBLICATION_DATE",
         "no PUBLICATION_DATE"),
        (lambda b: b.replace(b'INDICATOR="PCPIPCH"', b'INDICATOR="PCPIEPCH"'), "INDICATOR",
         "no series for indicator(s) ['PCPIPCH']"),
        (lambda b: b.replace(b'COUNTRY="VNM"', b'COUNTRY="VNX"'), "COUNTRY",
         "unknown COUNTRY 'VNX'"),
        (lambda b: re.sub(rb'OBS_VALUE="[^"]*"', b'OBS_VALUE="n/a"', b, count=1), "OBS_VALUE",
         "OBS_VALUE 'n/a'; expected a number"),
    ],
)  # fmt: skip
def test_bad_bodies_name_request_and_field(change, column, words):
    body = change(WEO_S2026.read_bytes())
    with pytest.raises(SourceError) as err:
        parse_weo_xml(body, "weo: GET /x")
    assert err.value.path == "weo: GET /x" and err.value.column == column
    assert words in str(err.value)


# ---- connector faults against 127.0.0.1 ------------------------------------------------------


def test_weo_fetch_request_and_metadata(server):
    server.route(WEO_PATH, OK)
    [item] = _fetch()
    assert item.weo is not None and item.weo.vintage == "S2026"
    assert item.meta["source"] == "weo" and item.meta["vintage"] == "S2026"
    assert item.meta["url"].startswith(f"{server.url}{WEO_PATH}?")
    req = server.requests[0]
    assert "TIME_PERIOD" in req["query"] and req["headers"]["Accept"] == "application/xml"
    # no key goes to the IMF (it needs none), even with keys in the environment
    assert KEY not in req["query"] and KEY not in str(req["headers"])


def test_timeout_429_and_5xx_are_retried(server):
    server.route(WEO_PATH, (200, {}, b"", 2.0), (429, {"Retry-After": "0.5"}, b"", 0.0),
                 (503, {}, b"busy", 0.0), OK)  # fmt: skip
    sleeps = []
    fast4 = FAST.__class__(timeout=0.5, attempts=4, backoff=0.01, max_wait=1.0)
    [item] = fetch_sources(["weo"], reporter="KOR", years="2024", policy=fast4,
                           log=lambda _: None, sleep=sleeps.append)  # fmt: skip
    assert item.weo.vintage == "S2026"
    assert sleeps == [0.01, 0.5, 0.04]  # backoff, Retry-After, backoff (doubled twice)
    server.hits.clear()
    server.route(WEO_PATH, (500, {}, b"down", 0.0))
    with pytest.raises(ConnectorError, match=r"weo: GET .*HTTP 500 on all 3 tries"):
        _fetch()
    assert server.hits[WEO_PATH] == 3


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (WEO_S2026.read_bytes()[:5000], "truncated or malformed XML"),
        (WEO_S2026.read_bytes().replace(b"OBS_VALUE=", b"OBS_VAL="), "no Obs has OBS_VALUE"),
    ],
)
def test_truncated_or_renamed_fails_naming_source_and_request(server, body, expected):
    server.route(WEO_PATH, (200, {}, body, 0.0))
    with pytest.raises(ConnectorError, match=expected) as err:
        _fetch()
    assert str(err.value).startswith(f"weo: weo: GET {server.url}{WEO_PATH}")


# ---- update: a new vintage, the live outlook, unit change, no new data ----------------------------


def test_weo_update_makes_the_live_outlook_the_new_vintage(server, data_cfg):
    base = load_snapshot(SNAPSHOT, ["weo_vintages", "indicators"])
    assert live_weo_vintage(base.tables) == "F2025"  # the embedded October 2025 WEO
    server.route(WEO_PATH, OK)
    [item] = _fetch()
    out = run_update(data_cfg, fetched=[item], log=lambda _: None)
    assert out.status == "new", out.message
    assert any("weo_vintages: S2026 added" in x and "live outlook reads S2026" in x
               for x in out.lines)  # fmt: skip
    _, folder = resolve_vintage(None, data_cfg.vintages_dir, data_cfg.snapshot_dir)
    snap = load_snapshot(folder, ["weo_vintages", "indicators"])
    table = snap["weo_vintages"]
    assert live_weo_vintage(snap.tables) == "S2026"
    old = base["weo_vintages"].set_index(["country", "vintage", "target", "target_year"])
    new = table.set_index(["country", "vintage", "target", "target_year"])
    kor26 = old.loc[("KOR", "F2025", "ngdp_rpch", 2026), "prediction"]
    assert new.loc[("KOR", "S2026", "ngdp_rpch", 2026), "prediction"] == pytest.approx(kor26 + 0.1)
    # the live outlook (no origin) reads the new vintage; the backtest's rules do not change
    live = outlook_at(table, targets=["ngdp_rpch"]).set_index(["country", "target_year"])
    assert set(live["vintage"]) == {"S2026"}
    assert live.loc[("KOR", 2026), "prediction"] == pytest.approx(kor26 + 0.1)
    assert vintage_at(table, 2018) == vintage_at(base["weo_vintages"], 2018) == "F2018"
    assert vintage_at(table, 2025) == "F2025"  # fall_of_origin: S2026 is after 2025-12-31
    # the demand model's live outlook (as-of = newest publication) reads S2026 too
    now = weo_outlook(table, 2025, 5, table["published"].max()).loc["KOR"]
    before = weo_outlook(base["weo_vintages"], 2025, 5, table["published"].max()).loc["KOR"]
    assert now["gdp_1"] == pytest.approx(np.log1p((kor26 + 0.1) / 100))
    assert before["gdp_1"] == pytest.approx(np.log1p(kor26 / 100))
    # indicators' weo_* columns follow the release (GDP from 2025 +1 %), other columns stay
    ind = snap["indicators"].set_index(["country", "year"])
    ind0 = base["indicators"].set_index(["country", "year"])
    assert ind.loc[("KOR", 2026), "weo_gdp_usd"] == pytest.approx(
        ind0.loc[("KOR", 2026), "weo_gdp_usd"] * 1.01, rel=1e-6
    )
    assert ind.loc[("KOR", 2026), "weo_gdp_growth_pct"] == pytest.approx(kor26 + 0.1)
    assert ind.loc[("KOR", 2025), "weo_is_projection"] is False  # 2025 is now an actual
    pd.testing.assert_series_equal(ind.loc[ind0.index, "gdp_usd"], ind0["gdp_usd"])  # WDI kept
    added = ind.index.difference(ind0.index)  # the outlook's new year; never a World row
    assert sorted(set(added.get_level_values("year"))) == [2031]
    assert set(added.get_level_values("country")) == {"CHN", "KOR", "USA", "VNM", "XKX"}
    # the same answer again: no new data
    again = run_update(data_cfg, fetched=_fetch(), log=lambda _: None)
    assert again.status == "no new data", again.message


def test_scale_applied_by_mistake_fails_and_keeps_the_active_vintage(server, data_cfg):
    body = WEO_S2026.read_bytes()
    rel = parse_weo_xml(body, "x")
    levels = rel.values.loc[rel.values["concept"] == "NGDPD", "value"]
    for v in levels:  # NGDPD x 1e9, as if SCALE="9" had been applied
        body = body.replace(f'OBS_VALUE="{v:.0f}"'.encode(), f'OBS_VALUE="{v * 1e9:.0f}"'.encode())
    server.route(WEO_PATH, (200, {}, body, 0.0))
    [item] = _fetch()
    out = run_update(data_cfg, fetched=[item], log=lambda _: None)
    assert out.status == "failed" and out.exit_code == 2
    assert "NGDPD: median ratio" in out.message and "expected 0.1-10" in out.message
    assert "column 'OBS_VALUE'" in out.message
    assert active_id(data_cfg.vintages_dir) is None  # the embedded snapshot stays active
    assert (out.quarantine / item.meta["file"]).read_bytes() == body


def test_a_fall_vintage_fills_blank_outturns_only():
    base = load_snapshot(SNAPSHOT, ["weo_vintages"])["weo_vintages"]
    body = WEO_S2026.read_bytes().replace(b"2026-04-14T13:00:00Z", b"2026-10-13T13:00:00Z")
    rel = parse_weo_xml(body, "weo")
    assert rel.vintage == "F2026"
    table, rows, replaced = merge_weo_vintage(base, rel)
    assert not replaced and rows == 6 * 2 * 6  # 6 areas (World incl.), 2 targets, 2026-2031
    key = ["country", "vintage", "target", "target_year"]
    t = table.set_index(key)
    # 2025 actuals of the fall 2026 WEO are the first-release outturns of 2025
    kor25 = rel.values.set_index(["country", "concept", "year"]).loc[
        ("KOR", "NGDP_RPCH", 2025), "value"
    ]
    assert t.loc[("KOR", "F2025", "ngdp_rpch", 2025), "outturn"] == kor25
    had = base.dropna(subset=["outturn"]).set_index(key)["outturn"]
    pd.testing.assert_series_equal(t.loc[had.index, "outturn"], had)  # never overwritten
    # a spring release's actuals are not tv_1: no outturn is filled
    spring, _, _ = merge_weo_vintage(base, parse_weo_xml(WEO_S2026.read_bytes(), "weo"))
    assert spring["outturn"].notna().sum() == base["outturn"].notna().sum()
    # the same vintage again replaces its rows
    again, _, replaced = merge_weo_vintage(table, rel)
    assert replaced and len(again) == len(table)


def test_weo_update_through_the_cli_leaks_no_key(server, tmp_path, caplog):
    server.route(WEO_PATH, OK)
    caplog.set_level(logging.DEBUG)
    args = [
        "update", "--fetch", "weo", "--years", "2024",
        "--set", f"data.vintages_dir={tmp_path / 'v'}",
        "--set", f"data.inbox_dir={tmp_path / 'in'}",
        "--set", f"data.quarantine_dir={tmp_path / 'q'}",
    ]  # fmt: skip
    ok = CliRunner().invoke(app, args, env={"COLUMNS": "200"})
    assert ok.exit_code == 0, ok.output
    assert "S2026" in ok.output and "is active" in ok.output
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert any(p.name.startswith("weo_") for p in written)  # the fetched body is kept
    for path in written:
        assert KEY.encode() not in path.read_bytes(), path
    assert KEY not in ok.output and KEY not in caplog.text


def test_the_request_asks_from_the_first_year_on(server):
    server.route(WEO_PATH, OK)
    _fetch()
    query = server.requests[0]["query"]
    assert "ge%3A2024-01-01" in query or "ge:2024-01-01" in query
    assert "le" not in query.split("TIME_PERIOD", 1)[1].split("&", 1)[0]  # projections kept
