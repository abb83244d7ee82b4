"""The parts of a scenario fitted on the snapshot alone, without the baseline forecast.

The reporter's gravity PPML (:func:`models.scenario_gravity.fit_scenario_gravity`) and the
regression cross-check (GBM and ridge, :func:`models.scenario_effects.regression_effects`) read
the data up to the scenario's origin only. :func:`flows.scenarios.run_scenario` fits them in
its own process or takes them from a joblib worker that fitted them while the run's process made
the baselines (:func:`flows.forecast_tasks.run_scenarios`, issue 16). This module imports no
orchestration (a worker imports it in milliseconds) and does no I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd
from threadpoolctl import threadpool_limits

from exportcast.features.build import build_features
from exportcast.models import scenario_effects, scenario_gravity
from exportcast.models import scenarios as sc

__all__ = [
    "SNAPSHOT_PART_TABLES",
    "SnapshotParts",
    "combine",
    "gravity_fits",
    "regression_check",
    "regression_checks",
    "reporter_gravity",
    "snapshot_parts",
]

_MIN_HISTORY = 4  # build_features' default: pairs with >= 4 positive years enter an origin
SNAPSHOT_PART_TABLES = ("indicators", "pairs", "fta", "kor_totals")


@dataclass(frozen=True)
class SnapshotParts:
    """What a scenario fits on the snapshot alone, without the baseline forecast.

    The reporter's gravity PPML and the regression cross-check (GBM and ridge): about 4 s of
    one core per default scenario (2026-12-04). They read the data up to the origin only, so
    :func:`flows.forecast_tasks.run_scenarios` can fit them in joblib's worker processes
    while the run's process makes the baselines (:func:`gravity_fits` in one worker,
    :func:`regression_checks` in the other; :func:`snapshot_parts` here). ``lines``: their
    progress lines (gravity, then regression), printed by ``flows.scenarios.run_scenario``.
    """

    gravity: scenario_gravity.ScenarioGravity
    summary: dict[str, dict[str, float]]
    regression: Any
    lines: tuple[str, str]


GravityPart = tuple[scenario_gravity.ScenarioGravity, dict[str, dict[str, float]], str]
RegressionPart = tuple[Any, str]


def snapshot_parts(
    panel: pd.DataFrame,
    tables: dict[str, pd.DataFrame],
    design: sc.ScenarioDesign,
    origin: int,
    horizon: int,
) -> SnapshotParts:
    """Fit a scenario's :class:`SnapshotParts` here (one BLAS/OpenMP thread).

    Args:
        panel: The reporter's trade panel up to the origin
            (``flows.scenarios.ScenarioSetup.panel``).
        tables: At least :data:`SNAPSHOT_PART_TABLES`.
        design: The scenario's design (:func:`models.scenarios.scenario_design`).
        origin: The scenario's origin.
        horizon: Years ahead.
    """
    (gravity,) = gravity_fits([(panel, origin)], tables)
    (regression,) = regression_checks([(panel, design, origin)], tables, horizon)
    return combine(gravity, regression)


def gravity_fits(
    jobs: Sequence[tuple[pd.DataFrame, int]], tables: dict[str, pd.DataFrame]
) -> list[GravityPart]:
    """:func:`reporter_gravity` of each ``(panel, origin)``, one after the other, one thread.

    One fit holds about 150 MB while it runs (statsmodels' dense GLM with partner and year
    dummies, Korea 2026-12-04): a worker fitting them in turn keeps one such peak at a time.
    """
    with threadpool_limits(limits=1):
        return [reporter_gravity(panel, tables, origin) for panel, origin in jobs]


def regression_checks(
    jobs: Sequence[tuple[pd.DataFrame, sc.ScenarioDesign, int]],
    tables: dict[str, pd.DataFrame],
    horizon: int,
) -> list[RegressionPart]:
    """:func:`regression_check` of each ``(panel, design, origin)`` in turn, one thread."""
    with threadpool_limits(limits=1):
        return [
            regression_check(panel, tables, design, origin, horizon)
            for panel, design, origin in jobs
        ]


def combine(gravity: GravityPart, regression: RegressionPart) -> SnapshotParts:
    """One scenario's parts from its :func:`gravity_fits` and :func:`regression_checks` items."""
    return SnapshotParts(gravity[0], gravity[1], regression[0], (gravity[2], regression[1]))


def reporter_gravity(
    panel: pd.DataFrame, tables: dict[str, pd.DataFrame], origin: int
) -> GravityPart:
    """The reporter's gravity PPML fitted to data up to ``origin``, its summary and its line."""
    gravity = scenario_gravity.fit_scenario_gravity(
        panel, tables["indicators"], tables["pairs"], tables["fta"], origin=origin
    )
    summary = gravity.summary()
    line = (
        "  gravity PPML           "
        + ", ".join(
            f"{k} {v['coef']:+.3f} [{v['ci_low']:+.3f}, {v['ci_high']:+.3f}]"
            for k, v in summary.items()
        )
        + f"; {gravity.n_obs:,} partner-years"
    )
    return gravity, summary, line


def regression_check(
    panel: pd.DataFrame,
    tables: dict[str, pd.DataFrame],
    design: sc.ScenarioDesign,
    origin: int,
    horizon: int,
) -> RegressionPart:
    """The regression cross-check (GBM and ridge) on the feature rows known at the origin."""
    features = build_features(
        panel,
        tables["indicators"],
        tables["pairs"],
        tables["fta"],
        tables["kor_totals"],
        origins=range(int(panel["year"].min()) + _MIN_HISTORY, origin + 1),
        horizon=horizon,
        demand="known",
    )
    regression = scenario_effects.regression_effects(features, design, origin=origin)
    return regression, "  regression cross-check GBM and ridge on feature rows known at the origin"
