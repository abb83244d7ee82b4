"""Which partner-years of a run are provisional (partial releases), in one sentence per year.

Computed from the run's ``provisional`` records (``report.json`` meta, made by
:func:`features.provisional.provisional_records` from the vintage's ``release_rest`` and the
reporter's exports); nothing for a run without a partial release (the embedded snapshot).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["provisional_sentences"]

_NAMED = 8  # unknown partners named in the sentence (all are in run.json)


def _bn(usd: float) -> str:
    bn = usd / 1e9
    return f"{bn:,.1f}" if abs(bn) >= 10 else f"{bn:,.2f}"


def provisional_sentences(meta: Mapping[str, Any], names: Mapping[str, str]) -> list[str]:
    """One sentence per provisional year: the unassigned remainder and the unknown partners.

    Args:
        meta: The report bundle's meta (``provisional``: list of records with ``reporter,
            year, total_usd, rest_usd, rest_share, n_listed, unknown_partners``).
        names: Display names by ISO3.

    Returns:
        Sentences (empty without provisional partner-years).
    """
    out = []
    for p in meta.get("provisional") or []:
        year, unknown = int(p["year"]), list(p.get("unknown_partners") or [])
        text = (
            f"Provisional partner-years in {year}: the release lists {p['n_listed']} partners "
            f"of the USD {_bn(p['total_usd'])} bn total; the other USD {_bn(p['rest_usd'])} bn "
            f"({100 * float(p['rest_share']):.1f} %) is not yet assigned to partners and is "
            f"carried in Other partners (REST), marked provisional"
        )
        if unknown:
            shown = ", ".join(names.get(c, c) for c in unknown[:_NAMED])
            more = f" and {len(unknown) - _NAMED} more" if len(unknown) > _NAMED else ""
            text += (
                f"; {len(unknown)} partners that bought in {year - 1} have no {year} value yet "
                f"(unknown, not zero; largest in {year - 1}: {shown}{more}), so they are "
                f"forecast inside Other partners"
            )
        out.append(text + f". {year} is not scored in the backtest.")
    return out
