"""Model input tables for the pooled regression and the gravity model (pure functions).

:func:`build_features` turns the trade panel and the side tables into one row per
(reporter, partner, origin ``T``, horizon ``h``): the target ``y_log_growth =
log(export[T+h] / export[T])`` and features that use **only data known at T**. The one
documented exception is the FTA schedule (see below). A test rebuilds the features after
replacing every value dated after ``T`` in every input by shuffled garbage and asserts that the
features of origin ``T`` do not move.

What "known at T" means for each input:

- Trade and totals: years ``<= T``. Origin ``T`` stands early in ``T + 1``, when year ``T``
  is complete.
- Indicators: the latest non-missing value in a year ``<= T``, at most ``MAX_STALE_YEARS`` old.
  Values are those of the current data vintage (WDI, IMF WEO Oct-2025, UN WPP), so revisions
  after ``T`` leak in a little; there are no historical vintages in the data.
- FTAs: the features are measured at the **target** year ``T + h`` because entry dates are
  scheduled in advance. In a backtest an agreement counts only when it was signed on or before
  ``T`` (the entry date when the signing date is missing), and an exit counts only when it
  happened on or before ``T``. Caveat: the entry date used is the realised one, which an
  analyst at ``T`` had to guess (KORUS was signed in 2007 and applied from 2012).
  ``fta_in_force`` and ``years_since_fta`` are the :func:`features.fta.fta_by_year` values at
  ``T + h`` computed from those agreements. ``fta_new`` is 1 when an FTA is in force at
  ``T + h`` but was not at ``T``.
- Partner demand, ``partner_gdp_growth_expected`` (expected cumulative log real GDP growth
  from ``T`` to ``T + h``), depends on ``demand``:

  - ``"known"``: ``h`` times the partner's mean log growth over the 5 years ending at ``T``
    (NaN with fewer than 3 of them observed).
    Use this in backtests.
  - ``"weo"``: the sum of the IMF WEO growth rates for ``T+1..T+h``. Use this only for live
    forecasts. Origins must be at most two years before the vintage's first projection year
    (those years hold WEO actuals, which are known at the vintage date). An earlier origin
    raises, because realised history would be presented as a forecast.
  - ``"oracle"``: realised growth over ``T+1..T+h``. This **leaks the future** and is only for
    an oracle benchmark row.

  The column ``demand_source`` records which one was used.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
import pandas as pd

from exportcast.features.fta import fta_by_year

__all__ = [
    "DEMAND_SOURCES",
    "FEATURE_COLUMNS",
    "KEY_COLUMNS",
    "MAX_STALE_YEARS",
    "build_features",
    "build_gravity_frame",
]

KEY_COLUMNS = ["reporter", "partner", "origin", "h", "target_year"]
FEATURE_COLUMNS = [
    "log_export",
    "growth_1",
    "growth_2",
    "growth_3",
    "partner_share",
    "reporter_growth_1",
    "partner_log_gdp",
    "partner_log_gdp_pc",
    "partner_pop_growth",
    "partner_pop_0_14",
    "partner_median_age",
    "partner_dependency",
    "log_distance",
    "contiguous",
    "common_language",
    "fta_in_force",
    "years_since_fta",
    "fta_new",
    "partner_gdp_growth_expected",
]
DEMAND_SOURCES = {
    "known": "known: mean growth of the 5 years to T",
    "weo": "weo: IMF WEO (actuals after T, then projections)",
    "oracle": "ORACLE: realised growth (benchmark only)",
}
# An indicator value older than this (in years before T) is treated as missing.
MAX_STALE_YEARS = 5
_DEMAND_WINDOW = 5  # years of history behind the "known" demand expectation
_DEMAND_MIN_YEARS = 3  # at least this many of them observed, else NaN
# Output column -> (primary indicator column, fallback column or None). The fallback (IMF WEO
# or UN WPP) fills countries WDI lacks, e.g. Taiwan.
_LEVEL_INDICATORS = {
    "gdp_usd": ("gdp_usd", "weo_gdp_usd"),
    "gdp_pc_usd": ("gdp_pc_usd", "weo_gdp_pc_usd"),
    "partner_pop_growth": ("pop_growth_pct", "wpp_pop_growth_pct"),
    "partner_pop_0_14": ("pop_0_14_pct", None),
    "partner_median_age": ("wpp_median_age", None),
    "partner_dependency": ("dependency_ratio_pct", "wpp_dependency_per_100"),
}
_INDICATOR_COLUMNS = list(
    dict.fromkeys(
        [
            "country",
            "year",
            "gdp_growth_pct",
            "weo_gdp_growth_pct",
            "weo_is_projection",
            *(c for pair in _LEVEL_INDICATORS.values() for c in pair if c),
        ]
    )
)
_OUTPUT = [
    *KEY_COLUMNS,
    "export_usd_origin",
    "y_log_growth",
    "demand_source",
    *FEATURE_COLUMNS,
]


def _check_columns(
    frame: pd.DataFrame, needed: Sequence[str], name: str, key: Sequence[str]
) -> None:
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        raise ValueError(f"{name} lacks column(s) {missing}")
    if key and frame.duplicated(list(key)).any():
        raise ValueError(f"{name} has duplicate ({', '.join(key)}) rows")


def _positive_log(values: pd.DataFrame | pd.Series) -> pd.DataFrame | pd.Series:
    """Log of positive values; zero, negative and missing values become NaN."""
    return np.log(values.where(values > 0))


def _export_wide(panel: pd.DataFrame, years: range) -> pd.DataFrame:
    """(reporter, partner) x year table of exports on a gap-free year grid."""
    wide = panel.pivot(index=["reporter", "partner"], columns="year", values="export_usd")
    return wide.reindex(columns=years).astype("float64")


def _indicator_wide(indicators: pd.DataFrame, column: str, years: range) -> pd.DataFrame:
    """Country x year table of one indicator on a gap-free year grid."""
    wide = indicators.pivot(index="country", columns="year", values=column)
    return wide.reindex(columns=years).astype("float64")


def _as_of(
    indicators: pd.DataFrame, primary: str, fallback: str | None, years: range
) -> pd.DataFrame:
    """Country x year table: latest value in a year <= the column year (forward fill only)."""
    wide = _indicator_wide(indicators, primary, years)
    if fallback is not None and fallback in indicators.columns:
        wide = wide.combine_first(_indicator_wide(indicators, fallback, years))
    # ffill along years only looks back, so the column for T never sees a year after T.
    return wide.ffill(axis=1, limit=MAX_STALE_YEARS)


def _lookup(wide: pd.DataFrame, rows: pd.Index | pd.MultiIndex, years: np.ndarray) -> np.ndarray:
    """``wide.loc[row, year]`` for aligned arrays of row keys and years (NaN when absent)."""
    aligned = wide.reindex(rows)
    cols = pd.Index(wide.columns).get_indexer(years)
    out = np.full(len(rows), np.nan)
    ok = cols >= 0
    out[ok] = aligned.to_numpy(dtype="float64")[np.flatnonzero(ok), cols[ok]]
    return out


def _origin_rows(
    exports: pd.DataFrame, origins: Sequence[int], horizon: int, min_history: int
) -> pd.DataFrame:
    """Key grid: pairs with positive exports at T and >= min_history positive years to T."""
    positive = exports.gt(0)
    frames = []
    for origin in origins:
        if origin not in exports.columns:
            continue
        history = positive.loc[:, exports.columns <= origin].sum(axis=1)
        keep = positive[origin] & (history >= min_history)
        pairs = exports.index[keep.to_numpy()].to_frame(index=False)
        frames.append(pairs.assign(origin=int(origin)))
    grid = (
        pd.concat(frames, ignore_index=True)
        if frames
        else pd.DataFrame({"reporter": [], "partner": [], "origin": []})
    )
    hs = pd.DataFrame({"h": np.arange(1, horizon + 1, dtype="int64")})
    grid = grid.astype({"reporter": object, "partner": object, "origin": "int64"})
    grid = grid.merge(hs, how="cross")
    return grid.assign(target_year=grid["origin"] + grid["h"])


def _trade_features(grid: pd.DataFrame, exports: pd.DataFrame, totals: pd.DataFrame) -> dict:
    """Levels, lagged growth, share and reporter growth at the origin; the target."""
    log_exp = _positive_log(exports)
    pair = pd.MultiIndex.from_frame(grid[["reporter", "partner"]])
    origin = grid["origin"].to_numpy()
    level = _lookup(log_exp, pair, origin)
    out = {
        "export_usd_origin": _lookup(exports, pair, origin),
        "y_log_growth": _lookup(log_exp, pair, grid["target_year"].to_numpy()) - level,
        "log_export": level,
    }
    for k in (1, 2, 3):
        out[f"growth_{k}"] = level - _lookup(log_exp, pair, origin - k)
    tot = totals.pivot(index="reporter", columns="year", values="total_export_usd")
    reporter = pd.Index(grid["reporter"])
    total_t = _lookup(tot, reporter, origin)
    out["partner_share"] = out["export_usd_origin"] / np.where(total_t > 0, total_t, np.nan)
    log_tot = _positive_log(tot)
    out["reporter_growth_1"] = _lookup(log_tot, reporter, origin) - _lookup(
        log_tot, reporter, origin - 1
    )
    return out


def _weo_vintage_year(indicators: pd.DataFrame) -> int:
    """First projection year of the WEO vintage (the most common one across countries)."""
    projected = indicators["weo_is_projection"].eq(True).to_numpy()
    firsts = indicators.loc[projected].groupby("country")["year"].min()
    if firsts.empty:
        raise ValueError("demand='weo' needs WEO projections (weo_is_projection True)")
    return int(firsts.mode().min())


def _window_sum(
    rate: pd.DataFrame, partner: pd.Index, origin: np.ndarray, h: np.ndarray
) -> np.ndarray:
    """Per row, the sum of ``rate`` over years ``T+1..T+h`` (NaN if any of them is missing)."""
    values = rate.reindex(partner).to_numpy(dtype="float64")
    idx_t = pd.Index(rate.columns).get_indexer(origin)
    sums = np.full(len(partner), np.nan)
    for hh in np.unique(h):
        rows = np.flatnonzero((h == hh) & (idx_t >= 0) & (idx_t + hh < values.shape[1]))
        cols = idx_t[rows][:, None] + np.arange(1, hh + 1)
        sums[rows] = values[rows[:, None], cols].sum(axis=1)
    return sums


def _expected_growth(
    grid: pd.DataFrame,
    indicators: pd.DataFrame,
    demand: Literal["known", "weo", "oracle"],
    years: range,
) -> np.ndarray:
    """Expected cumulative log real GDP growth of the partner from T to T + h."""
    partner = pd.Index(grid["partner"])
    origin = grid["origin"].to_numpy()
    h = grid["h"].to_numpy()
    weo = _indicator_wide(indicators, "weo_gdp_growth_pct", years)
    if demand == "known":
        # WEO actuals fill countries without WDI growth (Taiwan); only years <= T are read.
        rate = np.log1p(
            _indicator_wide(indicators, "gdp_growth_pct", years).combine_first(weo) / 100
        )
        window = rate.T.rolling(_DEMAND_WINDOW, min_periods=_DEMAND_MIN_YEARS).mean().T
        return h * _lookup(window, partner, origin)
    if demand == "weo":
        vintage = _weo_vintage_year(indicators)
        too_early = sorted({int(t) for t in origin if t < vintage - 2})
        if too_early:
            raise ValueError(
                f"demand='weo' is for live forecasts: origins {too_early} are more than two "
                f"years before the WEO vintage (first projection year {vintage}), so the "
                "'projections' would be realised history; use demand='known' (backtests) or "
                "demand='oracle' (a labelled oracle benchmark)"
            )
        return _window_sum(np.log1p(weo / 100), partner, origin, h)
    # Oracle: realised growth = WDI, else WEO actuals (a WEO projection is not a realisation).
    history = indicators["weo_is_projection"].eq(False).to_numpy()
    actual = indicators.assign(weo_gdp_growth_pct=indicators["weo_gdp_growth_pct"].where(history))
    rate = _indicator_wide(indicators, "gdp_growth_pct", years).combine_first(
        _indicator_wide(actual, "weo_gdp_growth_pct", years)
    )
    return _window_sum(np.log1p(rate / 100), partner, origin, h)


def _fta_known_at(fta: pd.DataFrame, origin: int) -> pd.DataFrame:
    """Agreement rows as an analyst at the end of ``origin`` knew them."""
    signed = pd.to_datetime(fta["signed_date"]).fillna(pd.to_datetime(fta["in_force_date"]))
    known = fta.loc[(signed.dt.year <= origin).to_numpy()]
    exit_date = pd.to_datetime(known["exit_date"])
    # An exit after T was not known at T: the agreement is assumed to go on.
    return known.assign(exit_date=exit_date.where(exit_date.dt.year <= origin))


def _fta_features(grid: pd.DataFrame, fta: pd.DataFrame) -> pd.DataFrame:
    """FTA in force / years since entry at the target year, known-at-T agreements only."""
    parts = []
    has_reporter = "reporter" in fta.columns
    for (reporter, origin), rows in grid.groupby(["reporter", "origin"], sort=False):
        table = fta.loc[fta["reporter"] == reporter] if has_reporter else fta
        known = _fta_known_at(table, int(origin))
        partners = rows["partner"].unique()
        years = [int(origin), *sorted(rows["target_year"].unique())]
        status = fta_by_year(known, years, partners)
        at_origin = status.loc[status["year"] == origin, ["partner", "fta_in_force"]]
        status = status.merge(
            at_origin.rename(columns={"fta_in_force": "_at_origin"}), on="partner"
        )
        parts.append(
            status.rename(columns={"year": "target_year"}).assign(
                reporter=reporter,
                origin=int(origin),
                fta_new=(status["fta_in_force"] - status["_at_origin"]).clip(lower=0),
            )
        )
    if not parts:
        return grid.assign(fta_in_force=np.nan, years_since_fta=np.nan, fta_new=np.nan)
    status = pd.concat(parts, ignore_index=True)
    cols = ["reporter", "partner", "origin", "target_year"]
    out = grid[cols].merge(
        status[[*cols, "fta_in_force", "years_since_fta", "fta_new"]], on=cols, how="left"
    )
    return out.astype({"fta_in_force": "float64", "fta_new": "float64"})


def build_features(
    panel: pd.DataFrame,
    indicators: pd.DataFrame,
    pairs: pd.DataFrame,
    fta: pd.DataFrame,
    totals: pd.DataFrame,
    *,
    origins: Sequence[int],
    horizon: int,
    demand: Literal["known", "weo", "oracle"] = "known",
    min_history: int = 4,
) -> pd.DataFrame:
    """Direct multi-horizon regression table: target and known-at-origin features.

    Args:
        panel: Trade panel ``reporter, partner, year, export_usd``.
        indicators: Partner indicators ``country, year`` plus the WDI, ``weo_*`` and ``wpp_*``
            columns of the snapshot (missing columns are treated as all-NaN).
        pairs: Pair table ``reporter, partner, distance_km, contiguous, common_language``.
        fta: Agreement table (``reporter`` optional, ``partner``, ``agreement_short``,
            ``agreement_type``, ``status``, ``signed_date``, ``in_force_date``,
            ``exit_date``).
        totals: Reporter totals ``reporter, year, total_export_usd``.
        origins: Forecast origins ``T``, the last observed year of each forecast.
        horizon: Largest horizon ``H``. Rows are made for ``h = 1..H``.
        demand: Source of ``partner_gdp_growth_expected``. ``"known"`` is for backtests,
            ``"weo"`` for live forecasts and ``"oracle"`` (leaks the future) for an oracle
            benchmark. See the module docstring.
        min_history: A pair enters origin ``T`` only with positive exports at ``T`` and in at
            least this many years up to ``T``.

    Returns:
        One row per (reporter, partner, origin, h), sorted by those keys, with
        ``KEY_COLUMNS``, ``export_usd_origin``, ``y_log_growth`` (NaN when year ``T + h`` is
        unobserved or zero; such rows are kept for live forecasts), ``demand_source`` and
        ``FEATURE_COLUMNS``. Missing inputs give NaN features and are never filled with later
        values.

    Raises:
        ValueError: A needed column is missing, a key is duplicated, ``horizon < 1``,
            ``min_history < 1``, an unknown ``demand``, or ``demand="weo"`` with origins too
            early for the vintage.
    """
    _check_inputs(panel, indicators, pairs, fta, totals, horizon, demand, min_history)
    origins = sorted({int(t) for t in origins})
    indicators = indicators.reindex(columns=_INDICATOR_COLUMNS)
    lo = int(min(panel["year"].min(), indicators["year"].min(), min(origins, default=0) - 5))
    hi = int(max(panel["year"].max(), indicators["year"].max(), max(origins, default=0)))
    years = range(lo - _DEMAND_WINDOW, hi + horizon + 1)

    exports = _export_wide(panel, years)
    grid = _origin_rows(exports, origins, horizon, min_history)
    out = grid.assign(**_trade_features(grid, exports, totals))

    partner = pd.Index(grid["partner"])
    origin = grid["origin"].to_numpy()
    asof = {
        name: _lookup(_as_of(indicators, primary, fallback, years), partner, origin)
        for name, (primary, fallback) in _LEVEL_INDICATORS.items()
    }
    out = out.assign(
        partner_log_gdp=_positive_log(pd.Series(asof.pop("gdp_usd"))).to_numpy(),
        partner_log_gdp_pc=_positive_log(pd.Series(asof.pop("gdp_pc_usd"))).to_numpy(),
        **asof,
    )

    out = _with_pair_features(out, pairs)

    fta_cols = _fta_features(grid, fta)
    out = out.assign(
        fta_in_force=fta_cols["fta_in_force"].to_numpy(),
        years_since_fta=fta_cols["years_since_fta"].to_numpy(),
        fta_new=fta_cols["fta_new"].to_numpy(),
        partner_gdp_growth_expected=_expected_growth(grid, indicators, demand, years),
        demand_source=DEMAND_SOURCES[demand],
    )
    return out[_OUTPUT].sort_values(KEY_COLUMNS[:4], ignore_index=True)


def _check_inputs(
    panel: pd.DataFrame,
    indicators: pd.DataFrame,
    pairs: pd.DataFrame,
    fta: pd.DataFrame,
    totals: pd.DataFrame,
    horizon: int,
    demand: str,
    min_history: int,
) -> None:
    """The arguments' checks of :func:`build_features` (columns, unique keys, settings)."""
    if horizon < 1 or min_history < 1:
        raise ValueError(f"need horizon >= 1 and min_history >= 1, got {horizon}, {min_history}")
    if demand not in DEMAND_SOURCES:
        raise ValueError(f"demand must be one of {sorted(DEMAND_SOURCES)}, got {demand!r}")
    trade_key = ["reporter", "partner", "year"]
    _check_columns(panel, [*trade_key, "export_usd"], "panel", trade_key)
    _check_columns(indicators, ["country", "year"], "indicators", ["country", "year"])
    pair_key = ["reporter", "partner"]
    _check_columns(
        pairs, [*pair_key, "distance_km", "contiguous", "common_language"], "pairs", pair_key
    )
    _check_columns(fta, ["partner", "signed_date", "in_force_date", "exit_date"], "fta", [])
    _check_columns(totals, ["reporter", "year", "total_export_usd"], "totals", ["reporter", "year"])


def _with_pair_features(out: pd.DataFrame, pairs: pd.DataFrame) -> pd.DataFrame:
    """``out`` with the pair's ``log_distance``, ``contiguous`` and ``common_language``."""
    pair_vars = pairs[["reporter", "partner", "distance_km", "contiguous", "common_language"]]
    pair_vars = pair_vars.assign(
        log_distance=lambda d: _positive_log(d["distance_km"].astype("float64"))
    )
    return out.merge(
        pair_vars.drop(columns="distance_km"), on=["reporter", "partner"], how="left"
    ).astype({"contiguous": "float64", "common_language": "float64"})


def build_gravity_frame(
    panel: pd.DataFrame,
    indicators: pd.DataFrame,
    pairs: pd.DataFrame,
    fta: pd.DataFrame,
) -> pd.DataFrame:
    """Reporter-partner-year panel for a gravity regression (ex post: realised FTA dates).

    Args:
        panel: Trade panel ``reporter, partner, year, export_usd``.
        indicators: Partner indicators with ``gdp_usd`` (``weo_gdp_usd`` as fallback).
        pairs: Pair table with ``distance_km``.
        fta: Agreement table (as for :func:`features.fta.fta_by_year`).

    Returns:
        The panel's ``reporter, partner, year, export_usd`` plus ``log_partner_gdp``,
        ``log_distance`` and ``fta_in_force`` (0/1, the "any day of the year" rule).
    """
    base = panel[["reporter", "partner", "year", "export_usd"]].astype(
        {"year": "int64", "export_usd": "float64"}
    )
    years = range(int(indicators["year"].min()), int(indicators["year"].max()) + 1)
    gdp = _as_of(indicators, "gdp_usd", "weo_gdp_usd", years)
    log_gdp = _positive_log(
        pd.Series(_lookup(gdp, pd.Index(base["partner"]), base["year"].to_numpy()))
    )
    dist = pairs[["reporter", "partner", "distance_km"]].drop_duplicates(["reporter", "partner"])
    out = base.assign(log_partner_gdp=log_gdp.to_numpy()).merge(
        dist, on=["reporter", "partner"], how="left"
    )
    status = fta_by_year(fta, sorted(base["year"].unique()), base["partner"].unique())
    out = out.merge(status[["partner", "year", "fta_in_force"]], on=["partner", "year"], how="left")
    return out.assign(
        log_distance=_positive_log(out["distance_km"]),
        fta_in_force=out["fta_in_force"].fillna(0).astype("int8"),
    ).drop(columns="distance_km")
