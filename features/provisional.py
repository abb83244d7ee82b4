"""Partial releases in a run: the REST remainder, unknown partner-years, provisional years.

A partial release lists some partners of a year plus the reporter's total (e.g. the top 40
and the World row). ``exportcast update`` keeps the difference, ``rest = total - listed``, in
the vintage's ``release_rest`` table, marked ``provisional`` when it exceeds 0.5 % of the total
(:mod:`features.release`); a partner the release does not list has no row that year: its value
is unknown, not zero. How a run treats such a **provisional year** (docs/data-updates.md):

- **Forecast series.** A partner without a row in the year is not positive in every one of the
  last ``min_years`` years, so :func:`features.series.split_series` leaves it out of the
  partners forecast on their own; it is forecast inside ``REST``. The remainder ``rest_usd`` is
  added to ``REST`` in that year (:func:`with_rest_remainder`), so the modelled partners plus
  ``REST`` add up to the published total, as in every complete year.
- **Backtest.** A provisional year is never scored: its actuals are dropped from the
  per-origin histories (:func:`drop_provisional_actuals`); a partner missing from it would
  otherwise count as zero.
- **History indices.** Shares in that year are of the published total: the remainder enters
  the concentration history as one block ``REST`` (:func:`with_remainder_rows`); HHI and CR-k
  count it as one partner (at most its share squared: an upper bound), and ``n_partners``
  counts the listed partners only.
- **Outputs.** ``run.json`` ``provisional`` and the report list the provisional partner-years
  (:func:`provisional_records`).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

from exportcast.features.series import REST, ForecastSeries

__all__ = [
    "REMAINDER",
    "drop_provisional_actuals",
    "listed_partner_counts",
    "provisional_of_run",
    "provisional_records",
    "provisional_rest",
    "unknown_partners",
    "with_remainder_rows",
    "with_rest_remainder",
]

REMAINDER = REST  # the block standing for the partners a partial release does not list
_COLUMNS = ["reporter", "year", "total_usd", "listed_usd", "rest_usd", "n_partners", "source"]


def provisional_rest(
    rest: pd.DataFrame | None, reporter: str, start: int, end: int
) -> pd.DataFrame:
    """The provisional ``release_rest`` rows of one reporter in ``start..end``.

    Args:
        rest: The vintage's ``release_rest`` table, or None (the embedded snapshot has none).
        reporter: ISO3.
        start: First year of the run.
        end: Last year of the run (the resolved ``years.end``).

    Returns:
        ``reporter, year, total_usd, listed_usd, rest_usd, n_partners, source``, by year
        (empty when nothing is provisional).
    """
    if rest is None or rest.empty:
        return pd.DataFrame({c: [] for c in _COLUMNS}).astype({"year": "int64"})
    sel = rest.loc[
        (rest["reporter"] == reporter)
        & rest["year"].between(start, end)
        & rest["provisional"].astype(bool)
    ]
    return sel[_COLUMNS].astype({"year": "int64"}).sort_values("year", ignore_index=True)


def unknown_partners(panel: pd.DataFrame, years: list[int]) -> dict[int, list[str]]:
    """Partners with exports the year before a provisional year but no row in it.

    Args:
        panel: One reporter's panel (``partner, year, export_usd``).
        years: The provisional years.

    Returns:
        ``{year: ISO3 codes, largest exports the year before first}``: their value that
        year is unknown, not zero.
    """
    out = {}
    for year in years:
        before = panel.loc[(panel["year"] == year - 1) & (panel["export_usd"] > 0)]
        listed = set(panel.loc[panel["year"] == year, "partner"])
        before = before.loc[~before["partner"].isin(listed)]
        before = before.sort_values(["export_usd", "partner"], ascending=[False, True])
        out[int(year)] = [str(p) for p in before["partner"]]
    return out


def with_rest_remainder(fs: ForecastSeries, prov: pd.DataFrame) -> ForecastSeries:
    """Add each provisional year's remainder to the ``REST`` series.

    Args:
        fs: The series of :func:`features.series.split_series` (partners missing from a
            provisional year are already inside ``REST``).
        prov: :func:`provisional_rest` rows of the reporter.

    Returns:
        ``fs`` with ``REST`` raised by ``rest_usd`` in those years (its trailing run of
        positive years recomputed) and ``provisional_years`` set; ``fs`` itself when nothing
        is provisional.
    """
    if prov.empty:
        return fs
    series = fs.series
    reporter = str(series["unique_id"].iloc[0]).split("|", 1)[0]
    rest_id = f"{reporter}|{REST}"
    years = range(int(series["ds"].min()), fs.last_year + 1)
    rest = series.loc[series["unique_id"] == rest_id].set_index("ds")["y"]
    rest = rest.reindex(years, fill_value=0.0)
    add = prov.set_index("year")["rest_usd"].astype("float64")
    rest = rest.add(add.reindex(rest.index, fill_value=0.0))
    zero = np.flatnonzero(rest.to_numpy() <= 0)
    tail = rest.iloc[zero[-1] + 1 :] if len(zero) else rest
    frames = [series.loc[series["unique_id"] != rest_id]]
    if len(tail):
        frames.append(pd.DataFrame({"unique_id": rest_id, "ds": tail.index, "y": tail.to_numpy()}))
    out = pd.concat(frames, ignore_index=True).sort_values(["unique_id", "ds"], ignore_index=True)
    out = out.astype({"ds": "int64", "y": "float64"})
    return dataclasses.replace(
        fs, series=out, provisional_years=tuple(int(y) for y in prov["year"])
    )


def drop_provisional_actuals(history: pd.DataFrame, years: tuple[int, ...]) -> pd.DataFrame:
    """Per-origin histories without actuals in provisional years (never scored).

    Args:
        history: ``unique_id, cutoff, ds, y`` of :func:`features.series.origin_histories`.
        years: Provisional years.

    Returns:
        ``history`` without rows ``ds > cutoff`` and ``ds`` in ``years``.
    """
    if not years:
        return history
    drop = (history["ds"] > history["cutoff"]) & history["ds"].isin(list(years))
    return history.loc[~drop].reset_index(drop=True)


def with_remainder_rows(panel: pd.DataFrame, prov: pd.DataFrame) -> pd.DataFrame:
    """The panel plus one ``REST`` row per provisional year (the unassigned remainder).

    For the history indices only (shares of the published total); the panel itself keeps
    countries only.
    """
    if prov.empty:
        return panel
    rows = pd.DataFrame(
        {
            "reporter": prov["reporter"],
            "partner": REMAINDER,
            "year": prov["year"].astype("int64"),
            "export_usd": prov["rest_usd"].astype("float64"),
            "source": "release_rest (provisional)",
        }
    )
    rows = rows.loc[rows["export_usd"] > 0]
    return pd.concat([panel, rows[list(panel.columns)]], ignore_index=True)


def provisional_records(prov: pd.DataFrame, unknown: dict[int, list[str]]) -> list[dict]:
    """The provisional partner-years of a run, for ``run.json``, MLflow and the report.

    Returns:
        One dict per provisional year: ``reporter, year, total_usd, listed_usd, rest_usd,
        rest_share`` (of the total), ``n_listed`` (partners the vintage has that year),
        ``unknown_partners`` (ISO3: exports the year before, no value this year) and
        ``source``.
    """
    out = []
    for r in prov.itertuples(index=False):
        total = float(r.total_usd)
        out.append(
            {
                "reporter": str(r.reporter),
                "year": int(r.year),
                "total_usd": total,
                "listed_usd": float(r.listed_usd),
                "rest_usd": float(r.rest_usd),
                "rest_share": float(r.rest_usd) / total if total > 0 else float("nan"),
                "n_listed": int(r.n_partners),
                "unknown_partners": list(unknown.get(int(r.year), [])),
                "source": str(r.source),
            }
        )
    return out


def listed_partner_counts(concentration: pd.DataFrame, prov: pd.DataFrame) -> pd.DataFrame:
    """History indices with ``n_partners`` counting listed partners only (not the block)."""
    if prov.empty:
        return concentration
    block = prov.loc[prov["rest_usd"] > 0, "year"]
    hit = (concentration["kind"] == "history") & concentration["year"].isin(list(block))
    out = concentration.copy()
    out.loc[hit, "n_partners"] = out.loc[hit, "n_partners"] - 1
    return out


def provisional_of_run(
    rest: pd.DataFrame | None, exports: pd.DataFrame, reporter: str, start: int, end: int
) -> tuple[pd.DataFrame, list[dict]]:
    """A run's provisional years and their records.

    Args:
        rest: The vintage's ``release_rest`` table, or None.
        exports: The reporter's exports by partner in the vintage.
        reporter: ISO3.
        start: ``years.start``.
        end: The resolved ``years.end``.

    Returns:
        ``(provisional_rest rows, provisional_records)``; both empty without a partial release
        in the run's years.
    """
    prov = provisional_rest(rest, reporter, start, end)
    if prov.empty:
        return prov, []
    unknown = unknown_partners(exports, [int(y) for y in prov["year"]])
    return prov, provisional_records(prov, unknown)
