"""WTO Regional Trade Agreements database (``wto_rta/all_rtas.csv``, INDICATORS.md §7) as pairs.

The export lists one row per agreement with its parties by WTO name; blocs that are a party
("European Union", "EFTA", "ASEAN Free Trade Area (AFTA)", "MERCOSUR", "EAEU", "SACU", "GCC",
"CACM") are not expanded. This adapter turns it into one row per agreement and (unordered)
country pair with the dates the agreement applied to that pair (goods):

* start = the latest of the agreement's goods entry into force, the parties' specific entry
  dates (``Specific Entry/Exit dates``) and, for bloc members, the date the member joined;
* end = the earliest of the agreement's ``Inactive Date``, the parties' specific exit dates and
  the date a member left its bloc (e.g. the United Kingdom left the EU's agreements on
  2020-12-31; Austria, Finland and Sweden left EFTA's on 1994-12-31). NaT = still applies.

Kept: status ``In Force``, ``Inactive`` (it applied until its inactive date) and ``In force for
at least one Party``, with a goods entry-into-force date. Parties come from the current and the
original signatories (a party that left, e.g. Venezuela from the Andean Community, appears only
in the original list; its specific exit date ends its pairs). A party whose specific entry is
``01-Jan-9999`` (not in force for it) is left out. Parties inside one bloc are not paired by an
agreement that names the bloc, nor by an external agreement that lists the members one by one
(the old "EC - X" agreements): intra-bloc trade is covered by the bloc's own agreements (the
"EC (n) Enlargement" rows list every member). Bloc membership dates are the treaty dates
below, to the day where they matter for annual data; members that never traded under a bloc's
external agreements (Venezuela in MERCOSUR) are not listed. Names with no current ISO3
(Netherlands Antilles, Yugoslavia) are dropped and counted in ``unmapped``.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import pandas as pd
import pycountry

from exportcast.features.sources._common import Loaded, SourceError, raise_first, read_table

__all__ = ["BLOC_MEMBERS", "KEPT_STATUSES", "load_wto_rtas", "party_iso3"]

KEPT_STATUSES = frozenset({"In Force", "Inactive", "In force for at least one Party"})
_EIF, _INACTIVE = "Date of Entry into Force (G)", "Date of Inactive Date"
_COLS = {
    "id": "RTA ID",
    "name": "RTA Name",
    "type": "Type",
    "status": "Status",
    "eif": "Date of Entry into Force (G)",
    "inactive": "Inactive Date",
    "current": "Current signatories",
    "original": "Original signatories",
    "specific": "Specific Entry/Exit dates",
}
_OPEN = pd.Timestamp("2262-01-01")  # "still applies" while computing; NaT in the output
_NEVER = pd.Timestamp("2262-04-01")  # a specific date 01-Jan-9999 (beyond pandas' range)

_EU = [
    *[(c, "1958-01-01", None) for c in ("BEL", "FRA", "DEU", "ITA", "LUX", "NLD")],
    ("DNK", "1973-01-01", None), ("IRL", "1973-01-01", None), ("GBR", "1973-01-01", "2020-12-31"),
    ("GRC", "1981-01-01", None), ("ESP", "1986-01-01", None), ("PRT", "1986-01-01", None),
    *[(c, "1995-01-01", None) for c in ("AUT", "FIN", "SWE")],
    *[(c, "2004-05-01", None)
      for c in ("CYP", "CZE", "EST", "HUN", "LVA", "LTU", "MLT", "POL", "SVK", "SVN")],
    ("BGR", "2007-01-01", None), ("ROU", "2007-01-01", None), ("HRV", "2013-07-01", None),
]  # fmt: skip
# Bloc name in the WTO export -> (ISO3, joined, left) of its members.
BLOC_MEMBERS: dict[str, list[tuple[str, str | None, str | None]]] = {
    "European Union": _EU,
    "European Free Trade Association (EFTA)": [
        ("CHE", None, None), ("NOR", None, None), ("ISL", "1970-03-01", None),
        ("LIE", "1991-09-01", None), ("AUT", None, "1994-12-31"), ("FIN", None, "1994-12-31"),
        ("SWE", None, "1994-12-31"), ("PRT", None, "1985-12-31"),
    ],
    "ASEAN Free Trade Area (AFTA)": [
        *[(c, None, None) for c in ("BRN", "IDN", "MYS", "PHL", "SGP", "THA")],
        ("VNM", "1995-07-28", None), ("LAO", "1997-07-23", None), ("MMR", "1997-07-23", None),
        ("KHM", "1999-04-30", None),
    ],
    "Southern Common Market (MERCOSUR)": [(c, None, None) for c in ("ARG", "BRA", "PRY", "URY")],
    "Eurasian Economic Union (EAEU)": [
        ("RUS", None, None), ("BLR", None, None), ("KAZ", None, None),
        ("ARM", "2015-01-02", None), ("KGZ", "2015-08-12", None),
    ],
    "Southern African Customs Union (SACU)": [
        (c, None, None) for c in ("ZAF", "BWA", "LSO", "NAM", "SWZ")
    ],
    "Gulf Cooperation Council (GCC)": [
        (c, None, None) for c in ("SAU", "ARE", "QAT", "KWT", "OMN", "BHR")
    ],
    "Central American Common Market (CACM)": [
        (c, None, None) for c in ("CRI", "SLV", "GTM", "HND", "NIC")
    ],
}  # fmt: skip
_NAMES = {
    "Hong Kong, China": "HKG",
    "Macao, China": "MAC",
    "Chinese Taipei": "TWN",
    "Democratic Republic of the Congo": "COD",
    "Kosovo (under UNSC res. 1244)": "XKX",
    "Palestine": "PSE",
    "The Gambia": "GMB",
    "Bahrain, Kingdom of": "BHR",
    "Kuwait, the State of": "KWT",
    "Saudi Arabia, Kingdom of": "SAU",
    "Wallis and Futuna Islands": "WLF",
    "Sao Tomé and Principe": "STP",
    "Falkland Islands (Islas Malvinas)": "FLK",
    "Netherlands, Kingdom of, with respect to Aruba": "ABW",
    "British Overseas Territory of Saint Helena, Ascension and Tristan da Cunha": "SHN",
}
_DAY = r"\d{1,2}-[A-Za-z]{3}-\d{4}"
_SPECIFIC = re.compile(rf"\s*(?P<name>.+)\(\s*(?P<start>{_DAY})?\s*-\s*(?P<end>{_DAY})?\s*\)\s*$")


@cache
def party_iso3(name: str) -> str | None:
    """ISO3 of a WTO party name that is a country (None for blocs and unknown names)."""
    if name in _NAMES:
        return _NAMES[name]
    try:
        return str(pycountry.countries.lookup(name).alpha_3)
    except LookupError:
        return None


@cache
def _bloc_sets() -> dict[str, frozenset[str]]:
    return {name: frozenset(iso for iso, _, _ in m) for name, m in BLOC_MEMBERS.items()}


def _members(name: str) -> list[tuple[str, pd.Timestamp, pd.Timestamp]] | None:
    """``(iso3, joined, left)`` of a party; None when the name is not known."""
    if name in BLOC_MEMBERS:
        return [
            (iso, pd.Timestamp(a) if a else pd.Timestamp.min, pd.Timestamp(b) if b else _OPEN)
            for iso, a, b in BLOC_MEMBERS[name]
        ]
    iso = party_iso3(name)
    return None if iso is None else [(iso, pd.Timestamp.min, _OPEN)]


def _specific(text: str | None, path: Path, row: int) -> dict[str, tuple[pd.Timestamp, ...]]:
    """``{party: (start, end)}`` from ``Name(dd-Mon-yyyy - dd-Mon-yyyy); ...``."""
    out: dict[str, tuple[pd.Timestamp, ...]] = {}
    if not isinstance(text, str) or not text.strip():
        return out
    for part in text.split(";"):
        match = _SPECIFIC.match(part)
        if match is None:
            raise SourceError(
                path,
                f"expected 'Party(dd-Mon-yyyy - dd-Mon-yyyy)', found {part.strip()!r}",
                row=row,
                column=_COLS["specific"],
            )
        dates = []
        for side in ("start", "end"):
            value = (match[side] or "").strip()
            if value.endswith("-9999"):  # "not (yet) in force for this party"
                dates.append(_NEVER)
                continue
            day = pd.to_datetime(value, format="%d-%b-%Y", errors="coerce") if value else None
            if value and pd.isna(day):
                raise SourceError(
                    path, f"expected a date dd-Mon-yyyy, found {value!r}", row=row,
                    column=_COLS["specific"],
                )  # fmt: skip
            dates.append(day)
        out[match["name"].strip()] = tuple(dates)
    return out


def _date(df: pd.DataFrame, column: str, path: Path) -> pd.Series:
    text = df[column].str.strip()
    dates = pd.to_datetime(text, format="%Y-%m-%d", errors="coerce")
    raise_first(
        df, dates.isna() & text.notna() & (text != ""), path, column,
        "expected a date YYYY-MM-DD, found {value!r}",
    )  # fmt: skip
    return dates


def _pairs_of(rec: pd.Series, path: Path, unmapped: dict[str, int]) -> list[tuple]:
    """Pair rows of one agreement."""
    specific = _specific(rec[_COLS["specific"]], path, int(rec["_row"]))
    names = []
    for col in (_COLS["current"], _COLS["original"]):
        if isinstance(rec[col], str):
            names += [n.strip() for n in rec[col].split(";") if n.strip()]
    # a member state listed beside its bloc (original signatories of "EU - X") is the bloc
    in_bloc = {iso for n in names if n in BLOC_MEMBERS for iso, _, _ in BLOC_MEMBERS[n]}
    parties = []
    for name in dict.fromkeys(names):
        if name not in BLOC_MEMBERS and party_iso3(name) in in_bloc:
            continue
        start, end = specific.get(name, (None, None))
        if start is _NEVER:
            continue  # not in force for this party
        members = _members(name)
        if members is None:
            unmapped[name] = unmapped.get(name, 0) + 1
            continue
        lo = max(rec["eif"], start) if start is not None else rec["eif"]
        hi = min(rec["end"], end) if end is not None and end is not _NEVER else rec["end"]
        parties.append([(iso, max(lo, a), min(hi, b)) for iso, a, b in members])
    countries = {iso for party in parties for iso, _, _ in party}
    blocs = [set(_bloc_sets()[b]) for b in _bloc_sets()]
    intra = any(countries <= b for b in blocs)  # the bloc's own treaty or enlargement
    out = []
    for k, first in enumerate(parties):
        for second in parties[k + 1 :]:
            for a, a0, a1 in first:
                for b, b0, b1 in second:
                    start, end = max(a0, b0), min(a1, b1)
                    same_bloc = not intra and any(a in s and b in s for s in blocs)
                    if a != b and start <= end and not same_bloc:
                        x, y = sorted((a, b))
                        out.append((x, y, start, end))
    return out


def load_wto_rtas(path: str | Path) -> Loaded:
    """Load the WTO RTA export as one row per agreement and country pair.

    Args:
        path: ``wto_rta/all_rtas.csv``.

    Returns:
        ``frame``: ``rta_id`` (int), ``rta_name``, ``rta_type`` (FTA, CU, PSA, ``FTA & EIA``,
        ...), ``country_a < country_b`` (ISO3), ``start_date``, ``end_date`` (last day it
        applied to the pair; NaT while in force). One row per agreement and pair (if a pair
        gets two spells from one agreement, the earliest start and latest end are kept).
        ``dropped`` counts agreements left out by reason; ``unmapped`` party names.

    Raises:
        SourceError: Missing column, an unparseable date (row and column named), or a
            ``Specific Entry/Exit dates`` entry that is not ``Party(date - date)``.
    """
    path = Path(path)
    df = read_table(path, list(_COLS.values()))
    rta_id = pd.to_numeric(df[_COLS["id"]], errors="coerce")
    raise_first(df, rta_id.isna(), path, _COLS["id"], "expected an integer RTA ID, found {value!r}")
    eif, inactive = _date(df, _COLS["eif"], path), _date(df, _COLS["inactive"], path)
    kept = df[_COLS["status"]].isin(KEPT_STATUSES)
    dropped = {"status not in force": int((~kept).sum())}
    dropped["no goods entry into force"] = int((kept & eif.isna()).sum())
    df = df.assign(rid=rta_id.astype("int64"), eif=eif, end=inactive.fillna(_OPEN))
    df = df.loc[kept & eif.notna()]
    unmapped: dict[str, int] = {}
    rows = []
    for _, rec in df.iterrows():
        for a, b, start, end in _pairs_of(rec, path, unmapped):
            rows.append((rec["rid"], rec[_COLS["name"]], rec[_COLS["type"]], a, b, start, end))
    cols = ["rta_id", "rta_name", "rta_type", "country_a", "country_b", "start_date", "end_date"]
    frame = pd.DataFrame(rows, columns=cols)
    frame = frame.groupby(cols[:5], as_index=False, sort=True).agg(
        start_date=("start_date", "min"), end_date=("end_date", "max")
    )
    frame["end_date"] = frame["end_date"].where(frame["end_date"] < _OPEN)
    frame = frame.astype({"start_date": "datetime64[ns]", "end_date": "datetime64[ns]"})
    frame = frame.sort_values(["country_a", "country_b", "start_date", "rta_id"], ignore_index=True)
    return Loaded(frame=frame, path=str(path), dropped=dropped, unmapped=unmapped)
