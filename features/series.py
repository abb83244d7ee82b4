"""Which partners get their own forecast, and the rest, as engine-ready long frames.

A partner gets its own series when it bought something in every one of the last
``min_years`` years; the others (sporadic, tiny or new markets) are summed into one ``REST``
series so that the forecast partners plus ``REST`` add up to the reporter's total. Inside
``REST`` the relative sizes of its members at the last year are kept (``rest_shares``) so that
the indices of a forecast (HHI, Theil, CR-k) can still count them as many small partners rather
than one big one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from features.errors import ExportcastError
from features.panel import build_export_series

__all__ = ["REST", "ForecastSeries", "split_series"]

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
    """

    series: pd.DataFrame
    partners: tuple[str, ...]
    rest_shares: tuple[float, ...]
    n_partners: int
    last_year: int

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
