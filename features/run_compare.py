"""The previous run and what changed since it (pure functions; docs/data-updates.md).

"The previous run" of a run is the newest **FINISHED** top-level MLflow run of the same
reporter's experiment that started before it, has forecasts, and differs from it in the data
vintage or the config (``data_vintage`` / ``config_hash`` tags). Runs on the same vintage and
config are the same computation and are skipped (counted in ``n_same``). :func:`pick_previous`
makes that choice from plain run records; :mod:`flows.run_history` reads them from MLflow.

:func:`changes_since` compares the partner data the previous run used with this run's (new
years, revisions above both thresholds), :func:`headline_comparison` the China + US share in
the last forecast year of both runs (and in the previous run's last forecast year, when this
run covers it too).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd

from exportcast.features.changes import REVISION_ABS_USD, REVISION_REL, headline_move, what_changed

__all__ = ["RUN_FIELDS", "changes_since", "headline_comparison", "pick_previous"]

RUN_FIELDS = ("run_id", "start_ms", "status", "data_vintage", "config_hash", "last_year",
              "has_forecast")  # fmt: skip
"""What :func:`pick_previous` needs of each run record."""


def pick_previous(
    runs: Iterable[Mapping[str, Any]],
    *,
    current_id: str,
    started_ms: int,
    vintage: str,
    config_hash: str,
) -> tuple[dict[str, Any] | None, int]:
    """The previous run of a run (see the module docstring for the definition).

    Args:
        runs: Top-level runs of the reporter's experiment with :data:`RUN_FIELDS`
            (``start_ms``: start time in ms since the epoch; ``status``: MLflow's status).
        current_id: This run's id (never its own previous run).
        started_ms: This run's start time.
        vintage: This run's data vintage.
        config_hash: This run's config hash.

    Returns:
        ``(previous, n_same)``: the previous run's record (None when there is none) and how
        many newer finished runs were skipped because they had this run's vintage and config.
    """
    earlier = [
        dict(r)
        for r in runs
        if r["run_id"] != current_id
        and r["status"] == "FINISHED"
        and r["has_forecast"]
        and int(r["start_ms"]) < started_ms
    ]
    earlier.sort(key=lambda r: int(r["start_ms"]), reverse=True)
    same = 0
    for run in earlier:
        if (run["data_vintage"], run["config_hash"]) == (vintage, config_hash):
            same += 1
            continue
        return run, same
    return None, same


def changes_since(
    previous: pd.DataFrame,
    current: pd.DataFrame,
    *,
    rel: float = REVISION_REL,
    abs_usd: float = REVISION_ABS_USD,
) -> pd.DataFrame:
    """New years and revisions from the data the previous run used to this run's.

    Only the years the previous data covers count as known to it: ``current`` is cut to years
    from the first year of ``previous`` on, so a previous run that shipped only its recent
    history does not make the older years look new.

    Args:
        previous: ``reporter, partner, year, export_usd`` the previous run used.
        current: The same for this run.
        rel: Relative threshold of a revision (0.05 = 5 %).
        abs_usd: Absolute threshold of a revision (USD).

    Returns:
        :data:`features.changes.CHANGE_COLUMNS` rows of kind ``new year``, ``revision``,
        ``new`` and ``removed`` (:func:`features.changes.what_changed`).
    """
    if previous.empty:
        raise ValueError("changes_since: the previous run's data are empty")
    first = int(previous["year"].min())
    return what_changed(previous, current.loc[current["year"] >= first], rel=rel, abs_usd=abs_usd)


def _share_at(frame: pd.DataFrame, year: int) -> tuple[float, str] | None:
    rows = frame.loc[frame["year"] == year]
    if rows.empty:
        return None
    # a year with history and forecast rows is history (the forecast starts after it)
    rows = rows.sort_values("kind", key=lambda k: k != "history")
    return float(rows.iloc[0]["dependence_share"]), str(rows.iloc[0]["kind"])


def headline_comparison(previous: pd.DataFrame, current: pd.DataFrame) -> dict[str, Any]:
    """The China + US share in the last forecast year: the previous run vs this one.

    Args:
        previous: The previous run's concentration table (``year``, ``kind``,
            ``dependence_share``).
        current: This run's.

    Returns:
        :func:`features.changes.headline_move` (``previous_year``, ``previous_share``,
        ``current_year``, ``current_share``, ``change_pp``) plus ``same_year_share`` and
        ``same_year_kind``: this run's value in the previous run's last forecast year
        (``forecast``, or ``history`` when the data now reach it; None when outside this
        run's years) and ``same_year_change_pp``.
    """
    move: dict[str, Any] = dict(headline_move(previous, current))
    same = _share_at(current, int(move["previous_year"]))
    move["same_year_share"] = None if same is None else same[0]
    move["same_year_kind"] = None if same is None else same[1]
    move["same_year_change_pp"] = (
        None if same is None else 100 * (same[0] - float(move["previous_share"]))
    )
    return move
