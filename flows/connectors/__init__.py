"""Connectors: fetch a release from a statistics API, behind one interface.

``fetch_sources(["imts", "kosis"], reporter="KOR", years="2023-2025")`` returns one
:class:`~flows.update.Fetched` per source (the parsed release, the raw body and fetch metadata
without any key). Each connector is a function ``(reporter, years, context) -> Fetched``
registered in :data:`CONNECTORS`; parsing lives in ``features/sources/api.py``.

Base URLs come from ``EXPORTCAST_<SOURCE>_URL`` (so tests point them at 127.0.0.1), keys from
``COMTRADE_API_KEY`` and ``KOSIS_API_KEY`` only (never from configs or arguments).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pandas as pd
import pycountry

from exportcast.features.sources._common import SourceError
from exportcast.features.sources.api import (
    parse_comtrade_json,
    parse_imts_xml,
    parse_kosis_json,
    parse_wdi_json,
)
from exportcast.features.sources.inbox import Release
from exportcast.features.sources.wdi import WDI_INDICATORS
from exportcast.flows.connectors.http import (
    DEFAULT_POLICY,
    ConnectorError,
    HttpPolicy,
    Response,
    get,
)
from exportcast.flows.update import Fetched

__all__ = [
    "BASE_URLS",
    "CONNECTORS",
    "ConnectorError",
    "FetchContext",
    "HttpPolicy",
    "base_url",
    "fetch_sources",
    "parse_years",
]

BASE_URLS = {
    "imts": "https://api.imf.org/external/sdmx/3.0",
    "comtrade": "https://comtradeapi.un.org",
    "kosis": "https://kosis.kr/openapi",
    "wdi": "https://api.worldbank.org/v2",
}
KEY_VARS = {"comtrade": "COMTRADE_API_KEY", "kosis": "KOSIS_API_KEY"}


@dataclass(frozen=True)
class FetchContext:
    """What every connector gets besides reporter and years."""

    policy: HttpPolicy = DEFAULT_POLICY
    names: Mapping[str, str] = field(default_factory=dict)  # English country name -> ISO3
    log: Callable[[str], None] = lambda _: None
    sleep: Callable[[float], None] | None = None


def base_url(source: str) -> str:
    """``EXPORTCAST_<SOURCE>_URL`` or the public default."""
    return os.environ.get(f"EXPORTCAST_{source.upper()}_URL", BASE_URLS[source]).rstrip("/")


def _key(source: str) -> str:
    var = KEY_VARS[source]
    value = os.environ.get(var, "").strip()
    if not value:
        raise ConnectorError(f"{source}: no API key; set {var} in the environment")
    return value


def parse_years(text: str | None, *, today: datetime | None = None) -> tuple[int, int]:
    """``"2023-2025"`` or ``"2024"`` -> (first, last); None: the last three years.

    Raises:
        ConnectorError: Not a year or a range of years.
    """
    if text is None:
        year = (today or datetime.now(UTC)).year
        return year - 3, year - 1
    first, _, last = text.partition("-")
    try:
        a, b = int(first), int(last or first)
    except ValueError:
        raise ConnectorError(f"--years {text!r}: expected YYYY or YYYY-YYYY") from None
    if not 1950 <= a <= b <= 2100:
        raise ConnectorError(f"--years {text!r}: expected YYYY-YYYY with first <= last")
    return a, b


def _fetched(
    source: str, response: Response, release: Release | None, suffix: str, *, part: str = ""
) -> Fetched:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    meta = {
        "source": source,
        "url": response.url,
        "fetched": stamp,
        "status": response.status,
        "sha256": hashlib.sha256(response.body).hexdigest(),
        "bytes": len(response.body),
        "file": f"{source}{part}_{stamp}.{suffix}",
    }
    return Fetched(release=release, meta=meta, body=response.body)


def _get(source: str, url: str, ctx: FetchContext, **kwargs: object) -> Response:
    extra = {"sleep": ctx.sleep} if ctx.sleep is not None else {}
    return get(source, url, policy=ctx.policy, log=ctx.log, **kwargs, **extra)


def fetch_imts(reporter: str, years: tuple[int, int], ctx: FetchContext) -> Fetched:
    """IMF IMTS exports FOB in USD by partner (SDMX 3.0 XML; OBS_VALUE in USD, SCALE ignored)."""
    url = f"{base_url('imts')}/data/dataflow/IMF.STA/IMTS/+/{reporter}.XG_FOB_USD.*.A"
    params = {
        "c[TIME_PERIOD]": f"ge:{years[0]}-01-01+le:{years[1]}-12-31",
        "dimensionAtObservation": "TIME_PERIOD",
        "detail": "full",
        "includeHistory": "false",
    }
    r = _get("imts", url, ctx, params=params, headers={"Accept": "application/xml"})
    return _fetched("imts", r, parse_imts_xml(r.body, f"imts: GET {r.url}"), "xml")


def _m49(reporter: str) -> int:
    country = pycountry.countries.get(alpha_3=reporter)
    if country is None:
        raise ConnectorError(f"comtrade: reporter {reporter!r} has no UN M49 code")
    return int(country.numeric)


def fetch_comtrade(reporter: str, years: tuple[int, int], ctx: FetchContext) -> Fetched:
    """UN Comtrade annual exports (all commodities) by partner; key header from the env."""
    url = f"{base_url('comtrade')}/data/v1/get/C/A/HS"
    params = {
        "reporterCode": _m49(reporter),
        "period": ",".join(str(y) for y in range(years[0], years[1] + 1)),
        "flowCode": "X",
        "cmdCode": "TOTAL",
        "motCode": 0,
        "partner2Code": 0,
        "customsCode": "C00",
        "includeDesc": "TRUE",
    }
    headers = {"Ocp-Apim-Subscription-Key": _key("comtrade")}
    r = _get("comtrade", url, ctx, params=params, headers=headers)
    return _fetched("comtrade", r, parse_comtrade_json(r.body, f"comtrade: GET {r.url}"), "json")


def fetch_kosis(reporter: str, years: tuple[int, int], ctx: FetchContext) -> Fetched:
    """KOSIS DT_1R11006_FRM101 (Korea's exports by country); key as a query parameter."""
    if reporter != "KOR":
        raise ConnectorError(f"kosis: table DT_1R11006_FRM101 is Korea's; reporter {reporter!r}")
    url = f"{base_url('kosis')}/Param/statisticsParameterData.do"
    params = {
        "method": "getList",
        "apiKey": _key("kosis"),
        "orgId": "360",
        "tblId": "DT_1R11006_FRM101",
        "itmId": "ALL",
        "objL1": "ALL",
        "format": "json",
        "jsonVD": "Y",
        "prdSe": "Y",
        "startPrdDe": str(years[0]),
        "endPrdDe": str(years[1]),
    }
    r = _get("kosis", url, ctx, params=params, secret_params=("apiKey",))
    release = parse_kosis_json(r.body, f"kosis: GET {r.url}", ctx.names)
    return _fetched("kosis", r, release, "json")


def fetch_wdi(reporter: str, years: tuple[int, int], ctx: FetchContext) -> list[Fetched]:
    """The WDI indicators of the ``indicators`` table, all countries (World Bank API v2).

    One request per indicator (``per_page`` large enough for one page; more pages are
    fetched when the metadata says so). ``reporter`` is not needed: features use every
    partner's indicators.
    """
    out = []
    for code, column in WDI_INDICATORS.items():
        url = f"{base_url('wdi')}/country/all/indicator/{code.upper()}"
        frames, page, n = [], 1, 1
        while page <= n:
            params = {"format": "json", "per_page": 20000, "page": page,
                      "date": f"{years[0]}:{years[1]}"}  # fmt: skip
            r = _get("wdi", url, ctx, params=params)
            frame, meta = parse_wdi_json(r.body, f"wdi: GET {r.url}", code)
            frames.append(frame)
            n, page = int(meta["pages"] or 1), page + 1
        item = _fetched("wdi", r, None, "json", part=f"_{code}")
        item.meta["column"] = column
        values = pd.concat(frames, ignore_index=True)
        out.append(Fetched(release=None, meta=item.meta, body=item.body, indicators=values))
    return out


CONNECTORS: dict[str, Callable[[str, tuple[int, int], FetchContext], Fetched | list[Fetched]]] = {
    "imts": fetch_imts,
    "comtrade": fetch_comtrade,
    "kosis": fetch_kosis,
    "wdi": fetch_wdi,
}


def fetch_sources(
    sources: Sequence[str],
    *,
    reporter: str,
    years: str | None,
    names: Mapping[str, str] | None = None,
    policy: HttpPolicy = DEFAULT_POLICY,
    log: Callable[[str], None] = print,
    sleep: Callable[[float], None] | None = None,
) -> list[Fetched]:
    """Fetch every source; all or nothing (one failure fails the whole update).

    Raises:
        ConnectorError: Unknown source, missing key, HTTP failure after retries, or a body
            the parser rejects (the message names source, request without key, and field).
    """
    unknown = [s for s in sources if s not in CONNECTORS]
    if unknown:
        raise ConnectorError(f"--fetch {unknown}: unknown source; expected {sorted(CONNECTORS)}")
    span = parse_years(years)
    ctx = FetchContext(policy=policy, names=names or {}, log=log, sleep=sleep)
    out = []
    for source in dict.fromkeys(sources):
        log(f"fetching {source} for {reporter}, {span[0]}-{span[1]} ...")
        try:
            got = CONNECTORS[source](reporter, span, ctx)
            out.extend(got if isinstance(got, list) else [got])
        except SourceError as exc:
            raise ConnectorError(f"{source}: {exc}") from None
    return out
