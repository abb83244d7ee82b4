"""Country codes: ISO 3166-1 alpha-3 inside the project, legacy codes mapped or dropped at the edge.

The known-code universe is ISO 3166-1 (from ``pycountry``) plus the two World Bank codes that
the sources use for real economies: ``XKX`` (Kosovo) and ``CHI`` (Channel Islands).
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pandas and pycountry load on first use: configs/schema.py imports this
    import pandas as pd

__all__ = [
    "DROPPED_LEGACY",
    "LEGACY_TO_ISO3",
    "is_iso3",
    "known_iso3",
    "map_iso3",
]

# Codes that name a country which still exists under another code.
LEGACY_TO_ISO3: dict[str, str] = {
    "ROM": "ROU",  # Romania (CEPII, Yotov)
    "ZAR": "COD",  # Zaire -> DR Congo (CEPII)
    "TMP": "TLS",  # East Timor (CEPII)
    "PAL": "PSE",  # Palestine (CEPII)
    "KOS": "XKX",  # Kosovo (IMF WEO)
    "UVK": "XKX",  # Kosovo (some IMF files)
    "WBG": "PSE",  # West Bank and Gaza (IMF WEO)
}

# Codes that cannot be mapped to one current economy: dissolved states, unions, or
# territories that have no ISO3 any more. Rows with them are dropped and counted.
DROPPED_LEGACY: dict[str, str] = {
    "ANT": "Netherlands Antilles (dissolved 2010; cannot be split into CUW/SXM/BES)",
    "SUN": "USSR (dissolved 1991)",
    "CSK": "Czechoslovakia (dissolved 1993)",
    "YUG": "Yugoslavia / Serbia and Montenegro (dissolved)",
    "SCG": "Serbia and Montenegro (dissolved 2006)",
    "DDR": "East Germany (to 1990)",
    "YMD": "South Yemen (to 1990)",
    "YAR": "North Yemen (to 1990)",
    "BLX": "Belgium-Luxembourg union (reported jointly)",
    "SACCA": "South African Common Customs Area (reported jointly)",
    "MYS_WEST": "Malaysia, West (part of MYS)",
    "CTE": "Canton and Enderbury Islands (obsolete)",
    "FXX": "France, Metropolitan (reported beside FRA; tiny residual)",
    "JTN": "Johnston Island (obsolete)",
    "MID": "Midway Islands (obsolete)",
    "NHB": "New Hebrides (obsolete)",
    "NTZ": "Neutral Zone (obsolete)",
    "PCI": "Pacific Islands Trust Territory (obsolete)",
    "PCZ": "Panama Canal Zone (obsolete)",
    "WAK": "Wake Island (obsolete)",
}

_EXTRA_KNOWN = frozenset({"XKX", "CHI"})


@cache
def known_iso3() -> frozenset[str]:
    """All codes the project accepts as a country: ISO 3166-1 alpha-3 plus XKX and CHI."""
    import pycountry

    return frozenset(c.alpha_3 for c in pycountry.countries) | _EXTRA_KNOWN


def is_iso3(code: object) -> bool:
    """True when ``code`` is a known ISO3 code (upper case)."""
    return isinstance(code, str) and code in known_iso3()


def map_iso3(codes: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Map raw country codes to ISO3.

    Codes are stripped and upper-cased; legacy codes with a successor are mapped, dissolved
    or obsolete ones are dropped.

    Args:
        codes: Raw codes (any case; NaN allowed).

    Returns:
        ``(iso3, reason)``: ``iso3`` is the mapped code or ``<NA>``; ``reason`` is ``<NA>`` where a
        code was kept and otherwise says why it was not (``"missing code"``,
        ``"legacy code ANT"``, ``"unknown code XYZ"``).
    """
    import pandas as pd

    raw = codes.astype("string").str.strip().str.upper()
    mapped = raw.replace(LEGACY_TO_ISO3)
    known = mapped.isin(known_iso3())
    reason = pd.Series(pd.NA, index=codes.index, dtype="string")
    reason = reason.mask(raw.isna() | (raw == ""), "missing code")
    legacy = raw.isin(DROPPED_LEGACY) & reason.isna()
    reason = reason.mask(legacy, "legacy code " + raw.fillna(""))
    unknown = ~known & reason.isna()
    reason = reason.mask(unknown, "unknown code " + raw.fillna(""))
    return mapped.where(reason.isna()), reason
