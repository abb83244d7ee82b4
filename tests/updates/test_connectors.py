"""Connectors against a local HTTP server (127.0.0.1) replaying recorded/constructed bodies.

Faults: timeout, HTTP 429 with Retry-After, 5xx (retried with backoff, bounded), truncated
bodies, errors inside HTTP 200, a renamed field, a unit change. Keys never leak.
"""

from __future__ import annotations

import json
import logging

import pytest
from typer.testing import CliRunner

from exportcast.features.sources.wdi import WDI_INDICATORS
from exportcast.flows.cli import app
from exportcast.flows.connectors import ConnectorError, HttpPolicy, fetch_sources
from exportcast.flows.snapshot import load_snapshot
from exportcast.flows.update import run_update
from exportcast.flows.vintages import active_id, resolve_vintage
from tests.updates.server import ReplayServer
from tests.updates.test_api_parsers import COMTRADE, IMTS_KOR, KOSIS, KOSIS_ERROR, WDI

KEY = "FAKE-KEY-5f3a9c-do-not-leak"
IMTS_PATH = "/data/dataflow/IMF.STA/IMTS/+/KOR.XG_FOB_USD.*.A"
KOSIS_PATH = "/Param/statisticsParameterData.do"
COMTRADE_PATH = "/data/v1/get/C/A/HS"
FAST = HttpPolicy(timeout=0.5, attempts=3, backoff=0.01, max_wait=1.0)
OK_XML = (200, {"Content-Type": "application/xml"}, IMTS_KOR.read_bytes(), 0.0)


@pytest.fixture
def server(monkeypatch):
    with ReplayServer() as srv:
        for source in ("imts", "kosis", "comtrade", "wdi"):
            monkeypatch.setenv(f"EXPORTCAST_{source.upper()}_URL", srv.url)
        monkeypatch.setenv("KOSIS_API_KEY", KEY)
        monkeypatch.setenv("COMTRADE_API_KEY", KEY)
        yield srv


def _fetch(source, sleeps=None, **kw):
    sleeps = [] if sleeps is None else sleeps
    return fetch_sources([source], reporter="KOR", years="2024", policy=FAST,
                         log=lambda _: None, sleep=sleeps.append, **kw)  # fmt: skip


def test_imts_fetch_makes_a_partial_vintage_with_provisional_rest(server, data_cfg):
    server.route(IMTS_PATH, OK_XML)
    [item] = _fetch("imts")
    assert item.meta["status"] == 200 and item.meta["url"].startswith(server.url)
    assert "TIME_PERIOD" in server.requests[0]["query"]
    out = run_update(data_cfg, fetched=[item], log=lambda _: None)
    assert out.status == "new", out.message
    _, folder = resolve_vintage(None, data_cfg.vintages_dir, data_cfg.snapshot_dir)
    snap = load_snapshot(folder)
    kor = snap["kor_exports"]
    assert sorted(kor.loc[kor["year"] == 2024, "partner"]) == ["CHN", "HKG", "JPN", "USA", "VNM"]
    rest = snap["release_rest"].set_index("year").loc[2024]
    assert bool(rest["provisional"])
    assert rest["rest_usd"] == pytest.approx(683757497000.0 - 380879000000.0)
    assert (folder / "fetched" / item.meta["file"]).read_bytes() == IMTS_KOR.read_bytes()


def test_timeout_then_success_is_retried(server):
    server.route(IMTS_PATH, (200, {}, b"", 2.0), OK_XML)
    sleeps = []
    [item] = _fetch("imts", sleeps=sleeps)
    assert len(item.release.rows) == 5 and sleeps == [0.01]
    assert server.hits[IMTS_PATH] == 2


def test_429_honours_retry_after(server):
    server.route(IMTS_PATH, (429, {"Retry-After": "0.5"}, b"slow down", 0.0), OK_XML)
    sleeps = []
    _fetch("imts", sleeps=sleeps)
    assert sleeps == [0.5]


def test_5xx_is_retried_with_backoff_then_gives_up(server):
    server.route(IMTS_PATH, (503, {}, b"busy", 0.0), (502, {}, b"", 0.0), OK_XML)
    sleeps = []
    _fetch("imts", sleeps=sleeps)
    assert sleeps == [0.01, 0.02]
    server.hits.clear()
    server.route(IMTS_PATH, (500, {}, b"down", 0.0))
    with pytest.raises(ConnectorError, match=r"imts: GET .*HTTP 500 on all 3 tries"):
        _fetch("imts")
    assert server.hits[IMTS_PATH] == 3  # bounded


def test_4xx_is_not_retried(server):
    server.route(COMTRADE_PATH, (401, {}, b"bad key", 0.0))
    with pytest.raises(ConnectorError, match=r"comtrade: GET .*HTTP 401") as err:
        _fetch("comtrade")
    assert server.hits[COMTRADE_PATH] == 1
    assert KEY not in str(err.value)


@pytest.mark.parametrize(
    ("source", "path", "body", "expected"),
    [
        ("imts", IMTS_PATH, IMTS_KOR.read_bytes()[:900], "truncated or malformed XML"),
        ("kosis", KOSIS_PATH, KOSIS_ERROR.read_bytes(), "KOSIS answered with error 30"),
        ("kosis", KOSIS_PATH, KOSIS.read_bytes()[:-60], "truncated or malformed JSON"),
        ("comtrade", COMTRADE_PATH,
         COMTRADE.read_bytes().replace(b'"partnerISO"', b'"partnerIso"'),
         r"lack field\(s\) \['partnerISO'\]"),
        ("kosis", KOSIS_PATH, KOSIS.read_bytes().replace(b'"Thousand US$"', b'"Million US$"'),
         "column 'UNIT_NM_ENG': unit 'Million US\\$'"),
    ],
)  # fmt: skip
def test_bad_bodies_fail_naming_source_request_and_field(server, source, path, body, expected):
    server.route(path, (200, {}, body, 0.0))
    with pytest.raises(ConnectorError, match=expected) as err:
        _fetch(source)
    text = str(err.value)
    assert text.startswith(f"{source}: ") and f"GET {server.url}{path}" in text
    assert KEY not in text
    if source == "kosis":
        assert "apiKey=***" in text


def test_unit_change_without_a_label_fails_the_update_and_keeps_the_active(server, data_cfg):
    body = IMTS_KOR.read_bytes()
    for v in (b"133026000000", b"127803000000", b"58390000000", b"32010000000", b"29650000000"):
        body = body.replace(v, v[:-3])  # thousands of USD under a USD label
    server.route(IMTS_PATH, (200, {}, body, 0.0))
    [item] = _fetch("imts")
    out = run_update(data_cfg, fetched=[item], log=lambda _: None)
    assert out.status == "failed" and out.exit_code == 2
    assert "look like thousands of USD" in out.message
    assert active_id(data_cfg.vintages_dir) is None
    assert (out.quarantine / item.meta["file"]).read_bytes() == body
    assert "imts" in (out.quarantine / "reason.txt").read_text()


def test_keys_come_from_the_env_and_never_leak(server, tmp_path, caplog, monkeypatch):
    server.route(KOSIS_PATH, (200, {}, KOSIS.read_bytes(), 0.0))
    server.route(COMTRADE_PATH, (200, {}, COMTRADE.read_bytes(), 0.0))
    args = [
        "update", "--fetch", "kosis", "--years", "2024",
        "--set", f"data.vintages_dir={tmp_path / 'v'}",
        "--set", f"data.inbox_dir={tmp_path / 'in'}",
        "--set", f"data.quarantine_dir={tmp_path / 'q'}",
    ]  # fmt: skip
    caplog.set_level(logging.DEBUG)
    ok = CliRunner().invoke(app, args, env={"COLUMNS": "200"})
    assert ok.exit_code == 0, ok.output
    assert "is active" in ok.output
    # the key reached the server, in the query (KOSIS) and in the header (Comtrade)
    assert f"apiKey={KEY}" in server.requests[-1]["query"]
    server.route(KOSIS_PATH, (200, {}, KOSIS_ERROR.read_bytes(), 0.0))
    bad = CliRunner().invoke(app, args, env={"COLUMNS": "200"})
    assert bad.exit_code == 2 and "error 30" in bad.output
    _fetch("comtrade")
    assert server.requests[-1]["headers"]["Ocp-Apim-Subscription-Key"] == KEY
    monkeypatch.delenv("COMTRADE_API_KEY")
    with pytest.raises(ConnectorError, match="set COMTRADE_API_KEY in the environment"):
        _fetch("comtrade")
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert written  # the vintage, its MANIFEST, release.json and the fetched body
    for path in written:
        assert KEY.encode() not in path.read_bytes(), path
    for text in (ok.output, bad.output, caplog.text):
        assert KEY not in text


def test_unknown_source_and_bad_years(server):
    with pytest.raises(ConnectorError, match="unknown source; expected"):
        _fetch("nope")
    with pytest.raises(ConnectorError, match="expected YYYY or YYYY-YYYY"):
        fetch_sources(["imts"], reporter="KOR", years="last", log=lambda _: None)


def _wdi_body(code: str, page: int = 1, pages: int = 1, year_shift: int = 0) -> bytes:
    # the recorded World Bank body with its indicator id replaced (and years shifted)
    data = json.loads(WDI.read_bytes())
    data[0].update(page=page, pages=pages)
    for o in data[1]:
        o["indicator"]["id"] = code.upper()
        o["date"] = str(int(o["date"]) + year_shift)
    return json.dumps(data).encode()


def test_wdi_fetch_pages_and_merges_into_indicators(server, data_cfg):
    for code in WDI_INDICATORS:
        server.route(f"/country/all/indicator/{code.upper()}", (200, {}, _wdi_body(code), 0.0))
    gdp = "/country/all/indicator/NY.GDP.MKTP.CD"
    server.route(gdp, (200, {}, _wdi_body("ny.gdp.mktp.cd", 1, 2), 0.0),
                 (200, {}, _wdi_body("ny.gdp.mktp.cd", 2, 2, year_shift=8), 0.0))  # fmt: skip
    fetched = _fetch("wdi")
    assert len(fetched) == len(WDI_INDICATORS) and server.hits[gdp] == 2
    [item] = [f for f in fetched if f.meta["column"] == "gdp_usd"]
    assert len(item.indicators) == 16  # both pages
    out = run_update(data_cfg, fetched=fetched, log=lambda _: None)
    assert out.status == "new", out.message
    _, folder = resolve_vintage(None, data_cfg.vintages_dir, data_cfg.snapshot_dir)
    ind = load_snapshot(folder, ["indicators"])["indicators"].set_index(["country", "year"])
    assert ind.loc[("USA", 1997), "gdp_usd"] == 31270.0
    assert ind.loc[("USA", 2005), "gdp_usd"] == 31270.0  # from page 2
    base = load_snapshot(data_cfg.snapshot_dir, ["indicators"])["indicators"]
    assert len(ind) == len(base)  # USA 1990-2005 rows existed: values revised, none added
    assert any("gdp_usd: 0 new country-years, 16 revised" in x for x in out.lines)
