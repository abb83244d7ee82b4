"""Which partners get their own forecast, and the rest, as engine-ready long frames.

A partner gets its own series when it bought something in every one of the last
``min_years`` years; the others (sporadic, tiny or new markets) are summed into one ``REST``
series so that the forecast partners plus ``REST`` add up to the reporter's total. Inside
``REST`` the relative sizes of its members at the last year are kept (``rest_shares``) so that
the indices of a forecast (HHI, Theil, CR-k) can still count them as many small partners rather
than one big one.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from exportcast.features.errors import ExportcastError
from exportcast.features.panel import build_export_series

__all__ = ["REST", "ForecastSeries", "origin_histories", "split_series"]

REST = "REST"


@dataclass(frozen=True)
class ForecastSeries:
    """Engine inputs for one reporter.

    Attributes:
        series: ``unique_id, ds, y`` for every modelled partner and ``<reporter>|REST``.
        partners: The modelled partners (ISO3).
        rest_shares: Shares of the members of ``REST`` within ``REST`` in the last year,
            largest first (empty when REST has no member with exports that year).
        n_partners: Partners with positive exports in the last year (modelled + REST members).
        last_year: The last historical year.
        provisional_years: Years of a partial release whose unassigned remainder is in
            ``REST`` (:mod:`features.provisional`); never scored in the backtest.
    """

    series: pd.DataFrame
    partners: tuple[str, ...]
    rest_shares: tuple[float, ...]
    n_partners: int
    last_year: int
    provisional_years: tuple[int, ...] = ()

    @property
    def rest_hhi(self) -> float:
        """HHI of the members of ``REST`` among themselves (1 for one member; NaN if none)."""
        r = np.asarray(self.rest_shares, dtype="float64")
        return float(np.sum(r * r)) if r.size else float("nan")


class CoverageError(ExportcastError, ValueError):
    """The reporter's data do not cover what a forecast run needs (names years and keys)."""


HISTORY_ONLY = "or run the history only with forecast.enabled=false"


def split_series(panel: pd.DataFrame, *, min_years: int = 20) -> ForecastSeries:
    """Split a one-reporter panel into modelled partner series and a REST series.

    Args:
        panel: Validated panel of ONE reporter (``reporter, partner, year, export_usd``).
        min_years: A partner is modelled when its exports are positive in each of the last
            ``min_years`` years (all years when the panel is shorter).

    Returns:
        The engine inputs.

    Raises:
        ValueError: Several reporters.
        CoverageError: No partner qualifies.
    """
    reporters = panel["reporter"].unique()
    if len(reporters) != 1:
        raise ValueError(f"split_series expects one reporter, got {list(reporters)}")
    reporter = str(reporters[0])
    last = int(panel["year"].max())
    first = max(int(panel["year"].min()), last - min_years + 1)
    wide = panel.pivot(index="year", columns="partner", values="export_usd")
    wide = wide.reindex(range(int(panel["year"].min()), last + 1))
    window = wide.loc[first:last]
    modelled = sorted(window.columns[(window > 0).all()])
    if not modelled:
        raise CoverageError(
            f"no partner of {reporter} has exports in every year {first}-{last}, so none can "
            f"be forecast on its own; expected a longer history (forecast.min_years={min_years}"
            f", data {int(panel['year'].min())}-{last}) {HISTORY_ONLY}"
        )
    own = panel.loc[panel["partner"].isin(modelled)]
    # a modelled partner's early gaps (before `first`) would break the series: keep its
    # continuous positive tail only
    own = _positive_tail(own.loc[own["export_usd"] > 0])
    rest = panel.loc[~panel["partner"].isin(modelled)]
    rest_total = rest.groupby("year")["export_usd"].sum().reindex(wide.index, fill_value=0.0)
    rest_last = rest.loc[(rest["year"] == last) & (rest["export_usd"] > 0), "export_usd"]
    rest_shares = tuple(float(x) for x in np.sort(rest_last.to_numpy() / rest_last.sum())[::-1])
    frames = [build_export_series(own)]
    # the REST series is its trailing run of positive years (it may be empty early on)
    zero = np.flatnonzero(rest_total.to_numpy() <= 0)
    tail = rest_total.iloc[zero[-1] + 1 :] if len(zero) else rest_total
    if len(tail):
        frames.append(
            pd.DataFrame(
                {"unique_id": f"{reporter}|{REST}", "ds": tail.index, "y": tail.to_numpy()}
            )
        )
    n_last = int((wide.loc[last] > 0).sum())
    return ForecastSeries(
        series=pd.concat(frames, ignore_index=True).sort_values(
            ["unique_id", "ds"], ignore_index=True
        ),
        partners=tuple(modelled),
        rest_shares=rest_shares,
        n_partners=n_last,
        last_year=last,
    )


def origin_histories(
    panel: pd.DataFrame, origins: Iterable[int], *, min_years: int, h: int
) -> pd.DataFrame:
    """The partner split and its series as known at each backtest origin, plus the actuals.

    At origin ``T`` the split is :func:`split_series` of the panel cut at ``T``: a partner is
    modelled on its own when its exports are positive in each of the ``min_years`` years to
    ``T`` (all years from the panel's first when fewer), the others are summed as ``REST`` at
    that origin. Nothing after ``T`` decides the split or enters a history. The actuals of
    ``T+1..T+h`` (to the panel's last year) follow the same split: a modelled partner's
    exports (0 in a year without any), and ``REST`` = the reporter's total minus the partners
    modelled at ``T``. An origin where no partner qualifies is left out.

    Args:
        panel: Validated panel of ONE reporter (``reporter, partner, year, export_usd``).
        origins: Backtest origins.
        min_years: As in :func:`split_series`.
        h: Horizon in years (how many actual years to attach).

    Returns:
        ``unique_id, cutoff, ds, y`` (:mod:`models.histories`): for each origin its history
        rows (``ds <= cutoff``) and actual rows (``ds > cutoff``).
    """
    last = int(panel["year"].max())
    wide = panel.pivot_table(index="year", columns="partner", values="export_usd", aggfunc="sum")
    wide = wide.reindex(range(int(panel["year"].min()), last + 1)).fillna(0.0)
    reporter = str(panel["reporter"].iloc[0])
    frames = []
    for origin in sorted({int(t) for t in origins}):
        known = panel.loc[panel["year"] <= origin]
        if known.empty or origin >= last:
            continue
        try:
            fs = split_series(known, min_years=min_years)
        except CoverageError:
            continue
        future = wide.loc[origin + 1 : min(origin + h, last)]
        own = future[list(fs.partners)]
        ids = np.array([f"{reporter}|{p}" for p in own.columns], dtype=object)
        # long by year, then partner (what DataFrame.stack gives, without its per-column cost)
        actual = pd.DataFrame(
            {
                "ds": np.repeat(own.index.to_numpy(), len(ids)),
                "unique_id": np.tile(ids, len(own)),
                "y": own.to_numpy(dtype="float64").ravel(),
            }
        )
        parts = [fs.series, actual]
        rest_id = f"{reporter}|{REST}"
        if (fs.series["unique_id"] == rest_id).any():
            rest = future.sum(axis=1) - own.sum(axis=1)
            parts.append(
                pd.DataFrame({"unique_id": rest_id, "ds": rest.index, "y": rest.to_numpy()})
            )
        frame = pd.concat(parts, ignore_index=True).assign(cutoff=origin)
        frames.append(frame[["unique_id", "cutoff", "ds", "y"]])
    if not frames:
        return pd.DataFrame({"unique_id": [], "cutoff": [], "ds": [], "y": []}).astype(
            {"unique_id": object, "cutoff": "int64", "ds": "int64", "y": "float64"}
        )
    out = pd.concat(frames, ignore_index=True).astype({"cutoff": "int64", "ds": "int64"})
    return out.sort_values(["cutoff", "unique_id", "ds"], ignore_index=True)


def _positive_tail(own: pd.DataFrame) -> pd.DataFrame:
    own = own.sort_values(["partner", "year"])
    new_run = own["year"].diff().ne(1) | own["partner"].ne(own["partner"].shift())
    run = new_run.cumsum()
    return own.loc[run == run.groupby(own["partner"]).transform("max")]


def check_dependence_modelled(
    fs: ForecastSeries, dependence_set: Sequence[str], *, reporter: str, min_years: int
) -> None:
    """Every partner of the dependence set must have a series of its own.

    Inside ``REST`` its share could not be forecast (and the index backtest needs it).

    Raises:
        CoverageError: Naming the partners, the rule and the config keys to change.
    """
    missing = [p for p in dependence_set if p not in fs.partners]
    if missing:
        start = max(int(fs.series["ds"].min()), fs.last_year - min_years + 1)
        raise CoverageError(
            f"dependence partner(s) {', '.join(missing)} of {reporter} have no series of their "
            f"own: exports to them are not positive in every year {start}-{fs.last_year} (the "
            f"last forecast.min_years={min_years} years, or all when fewer); expected a smaller "
            "forecast.min_years or "
            f"another dependence_set, {HISTORY_ONLY}"
        )
