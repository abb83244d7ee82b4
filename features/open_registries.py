"""Open ship registries ("flags of convenience"): partners whose exports can be mostly ships.

A ship built in the reporter and registered under an open registry is recorded as an export
to the flag state, so partners such as Marshall Islands, Liberia or Panama show large and
erratic exports that are not demand in the country. The report shows such partners apart and
keeps them out of the growth and opportunity rankings by default
(``report.exclude_open_registries``).

Source: the International Transport Workers' Federation (ITF) list of flags of convenience,
declared by the ITF Fair Practices Committee (https://www.itfglobal.org), as listed "at 30
January 2013" (34 registers) on https://shipinspection.eu/which-ship-registers-are-currently-
considered-by-the-itf-to-be-flags-of-convenience/ , seen 2026-12-03 through the project's
search of stored public pages. The same 2013 list is the one quoted by other reference pages;
a 2026 page (marifest.org, "Flags of convenience: the full list") says the ITF listed 48 in
2025 but does not name them, so the newer additions are not included here.

Mapping to ISO 3166-1 alpha-3 (pure data, no I/O):

* The French and German international ship registers (FIS, GIS) are second registers of
  France and Germany, not flag states of their own: France and Germany are not marked.
* Netherlands Antilles (ANT) was dissolved in 2010; its successors Curacao (CUW), Sint
  Maarten (SXM) and Bonaire, Sint Eustatius and Saba (BES) are marked as well.
* The list is the ITF's (a labour campaign's) and includes countries whose imports from a
  reporter are mostly not ships (e.g. Cambodia, Sri Lanka, Myanmar): the mark says "open ship
  registry", not "exports there are ships"; switch the exclusion off to rank them.
"""

from __future__ import annotations

__all__ = [
    "ITF_LIST_DATE",
    "OPEN_REGISTRIES",
    "SEEN",
    "SOURCE",
    "SOURCE_URL",
    "is_open_registry",
]

SOURCE = "ITF (International Transport Workers' Federation) list of flags of convenience"
SOURCE_URL = (
    "https://shipinspection.eu/which-ship-registers-are-currently-considered-by-the-itf-to-be-"
    "flags-of-convenience/"
)
ITF_LIST_DATE = "2013-01-30"  # the date of the list as the source gives it
SEEN = "2026-12-03"  # when the list was read for this module

# ISO3 -> the register as the ITF list names it
OPEN_REGISTRIES: dict[str, str] = {
    "ATG": "Antigua and Barbuda",
    "BHS": "Bahamas",
    "BRB": "Barbados",
    "BLZ": "Belize",
    "BMU": "Bermuda (UK)",
    "BOL": "Bolivia",
    "MMR": "Burma/Myanmar",
    "KHM": "Cambodia",
    "CYM": "Cayman Islands (UK)",
    "COM": "Comoros",
    "CYP": "Cyprus",
    "GNQ": "Equatorial Guinea",
    "FRO": "Faeroe Islands (FAS)",
    "GEO": "Georgia",
    "GIB": "Gibraltar (UK)",
    "HND": "Honduras",
    "JAM": "Jamaica",
    "LBN": "Lebanon",
    "LBR": "Liberia",
    "MLT": "Malta",
    "MHL": "Marshall Islands (USA)",
    "MUS": "Mauritius",
    "MDA": "Moldova",
    "MNG": "Mongolia",
    "ANT": "Netherlands Antilles",
    "CUW": "Netherlands Antilles (now Curacao)",
    "SXM": "Netherlands Antilles (now Sint Maarten)",
    "BES": "Netherlands Antilles (now Bonaire, Sint Eustatius and Saba)",
    "PRK": "North Korea",
    "PAN": "Panama",
    "STP": "Sao Tome and Principe",
    "LKA": "Sri Lanka",
    "VCT": "St Vincent",
    "TON": "Tonga",
    "VUT": "Vanuatu",
}


def is_open_registry(iso3: str) -> bool:
    """Whether a partner is an open ship registry on the ITF list (see the module docstring).

    Args:
        iso3: ISO 3166-1 alpha-3 code (case-insensitive; surrounding spaces ignored).

    Returns:
        True for a flag of convenience on the list, False otherwise (also for ``REST``).
    """
    return isinstance(iso3, str) and iso3.strip().upper() in OPEN_REGISTRIES
