"""South Korea's trade agreements by partner country (``fta/korea_fta.csv``, INDICATORS.md §8).

One row per (agreement, partner); blocs (EU, ASEAN, EFTA, RCEP, ...) are already expanded to
member ISO3 codes with the date that applies between Korea and that member. Dates are goods
entry into force. Turning rows into a partner-year dummy is :func:`features.fta.fta_by_year`.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from exportcast.features.sources._common import (
    Loaded,
    check_unique,
    raise_first,
    raise_on_unknown,
    read_table,
)
from exportcast.features.sources.codes import map_iso3

__all__ = ["DATE_COLUMNS", "IN_FORCE_STATUSES", "REPORTER", "STATUSES", "load_korea_fta"]

REPORTER = "KOR"
STATUSES = frozenset(
    {"in_force", "exited", "signed_pending", "concluded_not_signed", "in_force_date_unknown"}
)
# Statuses whose rows count as an agreement that applied (INDICATORS.md §8 dummy rule).
IN_FORCE_STATUSES = frozenset({"in_force", "exited"})
# Output date column -> raw column. Raw dates are ISO ``YYYY-MM-DD``; empty = not (yet) known.
DATE_COLUMNS = {
    "signed_date": "signed_date",
    "in_force_date": "in_force_date",
    "exit_date": "exit_date",
}
_TEXT = ["agreement", "agreement_short", "bloc", "agreement_type", "status"]
_REQUIRED = ["partner_iso3", *_TEXT, *DATE_COLUMNS.values()]


def _to_date(df: pd.DataFrame, column: str, path: str | Path) -> pd.Series:
    """Parse an ISO ``YYYY-MM-DD`` column; empty is NaT, anything else unparseable is an error."""
    text = df[column].str.strip()
    dates = pd.to_datetime(text, format="%Y-%m-%d", errors="coerce")
    raise_first(
        df,
        dates.isna() & text.notna() & (text != ""),
        path,
        column,
        "expected a date YYYY-MM-DD, found {value!r}",
    )
    return dates.astype("datetime64[ns]")


def load_korea_fta(path: str | Path) -> Loaded:
    """Load Korea's trade agreements, one row per (agreement, partner).

    Args:
        path: ``fta/korea_fta.csv``.

    Returns:
        ``frame``: ``reporter`` (``"KOR"``), ``partner`` (ISO3), ``agreement``,
        ``agreement_short``, ``bloc`` (NaN for bilateral agreements), ``agreement_type``
        (``bilateral FTA``, ``FTA with bloc``, ``plurilateral FTA``, ``partial scope (PSA)``),
        ``status`` (one of :data:`STATUSES`), ``signed_date``, ``in_force_date`` (goods, the
        date for this pair), ``exit_date`` (last day the agreement applied to the pair); dates
        are ``datetime64[ns]``, NaT when empty. Sorted by partner, in_force_date, agreement.

    Raises:
        SourceError: Missing column; an unknown status; an unparseable date; an in-force or
            exited row without ``in_force_date``; an exited row without ``exit_date`` or an
            ``exit_date`` on another status; ``exit_date`` before ``in_force_date``; an unknown
            partner code; or a repeated (partner, agreement).
    """
    df = read_table(path, _REQUIRED)
    df = df.assign(**{c: df[c].str.strip() for c in _TEXT})
    raise_first(
        df,
        ~df["status"].isin(STATUSES),
        path,
        "status",
        f"unknown status {{value!r}}; expected one of {sorted(STATUSES)}",
    )
    for c in ("agreement", "agreement_short"):
        raise_first(df, df[c].isna(), path, c, "missing agreement name")
    dates = {out: _to_date(df, raw, path) for out, raw in DATE_COLUMNS.items()}
    df = df.assign(**dates)

    _check_dates(df, path)

    partner, reason = map_iso3(df["partner_iso3"])
    raise_on_unknown(df, reason, "partner_iso3", path)
    raise_first(
        df,
        reason.notna().to_numpy(dtype=bool),
        path,
        "partner_iso3",
        "partner {value!r} is not a current country code; expected ISO3",
    )
    df = df.assign(partner=partner)
    check_unique(df, ["partner", "agreement"], path)

    frame = pd.DataFrame(
        {
            "reporter": REPORTER,
            "partner": df["partner"].astype(str).to_numpy(),
            **{c: df[c].to_numpy() for c in _TEXT[:-1]},
            "status": df["status"].to_numpy(),
            **{c: df[c].to_numpy(dtype="datetime64[ns]") for c in DATE_COLUMNS},
        }
    )
    frame = frame.sort_values(
        ["partner", "in_force_date", "agreement"], na_position="last", ignore_index=True
    )
    return Loaded(frame=frame, path=str(path))


def _check_dates(df: pd.DataFrame, path: str | Path) -> None:
    """In-force rows have an in_force_date; exit_date exactly on exited rows, not before entry.

    Raises:
        SourceError: The first row that breaks one of these rules.
    """
    applied = df["status"].isin(IN_FORCE_STATUSES)
    raise_first(
        df,
        applied & df["in_force_date"].isna(),
        path,
        "in_force_date",
        "status {status!r} needs an in_force_date; use status 'in_force_date_unknown' if it "
        "is not known",
    )
    exited = df["status"] == "exited"
    raise_first(
        df, exited & df["exit_date"].isna(), path, "exit_date", "status 'exited' needs an exit_date"
    )
    raise_first(
        df,
        ~exited & df["exit_date"].notna(),
        path,
        "exit_date",
        "exit_date {value:%Y-%m-%d} given but status is {status!r}; expected status 'exited'",
    )
    raise_first(
        df,
        (df["exit_date"] < df["in_force_date"]).fillna(False),
        path,
        "exit_date",
        "exit_date {value:%Y-%m-%d} is before in_force_date",
    )
