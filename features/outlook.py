"""The WEO information set of a forecast origin: which vintage, which forecasts, which outturns.

A forecast made at origin ``T`` has trade data through year ``T``. It may use only the WEO
vintages published by the origin's *as-of date* (docs/information-set.md):

* ``fall_of_origin`` (default, conservative): the as-of date is December 31 of ``T``, so the
  newest usable vintage is the fall WEO of ``T`` (``F<T>``). Annual trade data for ``T``
  (DOTS, KOSIS) come out in January-April of ``T+1``; a forecast run then could not yet use
  the April WEO of ``T+1``, and this rule never credits it.
* ``spring_after_origin``: the as-of date is June 30 of ``T+1``, so the spring WEO of ``T+1``
  (``S<T+1>``) is usable: a forecast run in May-September of ``T+1``, after both the trade data
  and the April WEO are out.

The live forecast uses the newest vintage in the table (``as_of=None`` and no origin).

Outturns are information too: the first-release outturn of target year ``y`` (``tv_1``) is
printed in the fall WEO of ``y+1`` (published October 15 of ``y+1`` in the table's
convention), so it is known at an as-of date only from then on; :func:`known_at` blanks the
later ones.
"""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

__all__ = [
    "AS_OF_RULES",
    "DEFAULT_AS_OF",
    "as_of_date",
    "known_at",
    "outlook_at",
    "outturn_published",
    "vintage_at",
    "vintages_by_origin",
]

AS_OF_RULES = ("fall_of_origin", "spring_after_origin")
DEFAULT_AS_OF = "fall_of_origin"
_NEEDED = ("country", "vintage", "published", "target", "target_year", "prediction", "outturn")


def as_of_date(origin: int, rule: str = DEFAULT_AS_OF) -> pd.Timestamp:
    """The as-of date of a forecast origin under an as-of rule.

    Args:
        origin: Last year of trade data the forecast uses.
        rule: One of :data:`AS_OF_RULES`.

    Returns:
        December 31 of ``origin`` (``fall_of_origin``) or June 30 of ``origin + 1``
        (``spring_after_origin``).

    Raises:
        ValueError: An unknown rule.
    """
    if rule == "fall_of_origin":
        return pd.Timestamp(year=int(origin), month=12, day=31)
    if rule == "spring_after_origin":
        return pd.Timestamp(year=int(origin) + 1, month=6, day=30)
    raise ValueError(f"unknown WEO as-of rule {rule!r}; expected one of {list(AS_OF_RULES)}")


def _check(table: pd.DataFrame) -> None:
    missing = [c for c in _NEEDED if c not in table.columns]
    if missing:
        raise ValueError(f"weo_vintages table lacks column(s) {missing}; expected {list(_NEEDED)}")


def _as_of(origin: int | None, rule: str, as_of: pd.Timestamp | str | None) -> pd.Timestamp | None:
    if as_of is not None:
        return pd.Timestamp(as_of)
    if origin is not None:
        return as_of_date(origin, rule)
    return None  # live: the newest vintage


def vintage_at(
    table: pd.DataFrame,
    origin: int | None = None,
    *,
    rule: str = DEFAULT_AS_OF,
    as_of: pd.Timestamp | str | None = None,
) -> str:
    """The newest vintage published by the as-of date.

    Args:
        table: The ``weo_vintages`` snapshot table.
        origin: The forecast origin; with ``as_of`` None its as-of date comes from ``rule``.
        rule: As-of rule (:data:`AS_OF_RULES`).
        as_of: An explicit as-of date (wins over ``origin``). With neither: the newest vintage
            in the table (the live forecast).

    Returns:
        The vintage label, e.g. ``"F2008"``.

    Raises:
        ValueError: Missing columns, an unknown rule, or no vintage published by the date.
    """
    _check(table)
    date = _as_of(origin, rule, as_of)
    published = table.drop_duplicates("vintage").set_index("vintage")["published"]
    usable = published if date is None else published[published <= date]
    if usable.empty:
        first = published.min().date() if len(published) else None
        raise ValueError(
            f"no WEO vintage published by {date.date() if date is not None else 'now'} "
            f"(origin {origin}, rule {rule}); the first one in the table is from {first}"
        )
    return str(usable.sort_values(kind="mergesort").index[-1])


def outturn_published(target_year: pd.Series) -> pd.Series:
    """Publication date of the first-release outturn ``tv_1`` of target years.

    October 15 of the next year: ``tv_1`` is the value printed in that year's fall WEO.
    """
    years = pd.Series(target_year, copy=False).astype("int64") + 1
    return pd.to_datetime(pd.DataFrame({"year": years, "month": 10, "day": 15}))


def known_at(
    table: pd.DataFrame,
    origin: int | None = None,
    *,
    rule: str = DEFAULT_AS_OF,
    as_of: pd.Timestamp | str | None = None,
) -> pd.DataFrame:
    """Every row of the vintages published by the as-of date, outturns blanked until known.

    Args:
        table: The ``weo_vintages`` snapshot table.
        origin: The forecast origin (see :func:`vintage_at`).
        rule: As-of rule.
        as_of: Explicit as-of date; with neither it and ``origin``: everything (live).

    Returns:
        The table's rows of vintages with ``published <= as_of``; ``outturn`` is NaN where it
        was published after the as-of date. A new frame with a clean index.
    """
    _check(table)
    date = _as_of(origin, rule, as_of)
    if date is None:
        return table.reset_index(drop=True).copy()
    rows = table.loc[table["published"] <= date].reset_index(drop=True)
    late = (outturn_published(rows["target_year"]) > date).to_numpy()
    return rows.assign(outturn=rows["outturn"].mask(late))


def outlook_at(
    table: pd.DataFrame,
    origin: int | None = None,
    *,
    rule: str = DEFAULT_AS_OF,
    as_of: pd.Timestamp | str | None = None,
    targets: Iterable[str] | None = None,
) -> pd.DataFrame:
    """The forecasts of the newest vintage usable at an origin (and the outturns known then).

    Args:
        table: The ``weo_vintages`` snapshot table.
        origin: The forecast origin (see :func:`vintage_at`); None with ``as_of`` None: live.
        rule: As-of rule.
        as_of: Explicit as-of date.
        targets: Keep only these targets (``ngdp_rpch``, ``pcpi_pch``); default all.

    Returns:
        The rows of that vintage (``country, vintage, ..., target, target_year, prediction,
        outturn``) sorted by ``country, target, target_year``; ``outturn`` blanked where it
        was not published by the as-of date.
    """
    vintage = vintage_at(table, origin, rule=rule, as_of=as_of)
    rows = known_at(table.loc[table["vintage"] == vintage], origin, rule=rule, as_of=as_of)
    if targets is not None:
        rows = rows.loc[rows["target"].isin(list(targets))]
    return rows.sort_values(["country", "target", "target_year"], ignore_index=True)


def vintages_by_origin(
    table: pd.DataFrame, origins: Iterable[int], *, rule: str = DEFAULT_AS_OF
) -> dict[int, str]:
    """The vintage each origin may use (:func:`vintage_at`).

    Origins before the table's first vintage map to an empty string.

    Raises:
        ValueError: Missing columns or an unknown rule.
    """
    _check(table)
    as_of_date(2000, rule)  # an unknown rule is an error, not an empty vintage
    out = {}
    for origin in sorted({int(t) for t in origins}):
        try:
            out[origin] = vintage_at(table, origin, rule=rule)
        except ValueError:
            out[origin] = ""
    return out
