"""Run one FTA/demand scenario against the baseline forecast (orchestration only, no MLflow).

:func:`run_scenario` builds (or reuses) the baseline at the scenario's origin, fits the gravity
PPML on the years up to the origin, moves the baseline's joint sample paths by per-path
multipliers, adds the pooled-regression cross-check and returns the two frames of
:class:`models.scenarios.ScenarioResult`. The maths lives in :mod:`models.scenarios`; the
Prefect flow, the CLI (``exportcast scenario FILE``) and MLflow logging call this function.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from exportcast.configs.schema import RunConfig
from exportcast.configs.schema_scenario import ScenarioConfig
from exportcast.features.concentration import concentration_index
from exportcast.features.panel import build_trade_panel
from exportcast.features.provisional import (
    provisional_rest,
    with_remainder_rows,
    with_rest_remainder,
)
from exportcast.features.series import REST, ForecastSeries, split_series
from exportcast.flows.engine_call import run_configured_engine
from exportcast.flows.memo_store import reused_text
from exportcast.models import memo, scenario_effects, scenario_gravity
from exportcast.models import scenarios as sc
from exportcast.models import world_scenarios as ws
from exportcast.models.demand import DEMAND_TABLES
from exportcast.models.engine import EngineResult
from exportcast.models.scenario_parts import SnapshotParts, snapshot_parts
from exportcast.models.world_scenarios import world_meta

__all__ = [
    "PARTNER_COLUMNS",
    "ScenarioSetup",
    "baseline_at",
    "index_columns",
    "partner_columns",
    "run_scenario",
    "scenario_setup",
]

METHOD_NOTES = [
    "Paths: the baseline engine's joint sample paths times exp(d . b), with b drawn per path "
    "from the PPML estimate and its cluster-robust covariance (partner clusters).",
    "PPML (statsmodels GLM Poisson) on Korea's partner-year exports up to the origin, with "
    "partner and year fixed effects, log partner GDP (current USD), an any-FTA dummy and the "
    "number of extra agreements in force (max(0, n - 1)); partial-scope agreements (APTA) are "
    "not counted.",
    "Baseline FTAs: agreements in force by the origin year; later ones enter only through the "
    "scenario.",
    "The pooled regressions (GBM, ridge) are a cross-check shown beside the PPML; they do not "
    "move the paths. Their FTA features are any-FTA indicators, so a deepening of an existing "
    "FTA leaves them unchanged.",
    "Exports to other partners are not changed (no trade diversion is modelled).",
    "Index values: the central baseline and scenario values are the indices of the point "
    "forecasts (the engine's partner forecasts; for the changed partners times exp(d . b) at "
    "the PPML estimate), so they match the shares of the partner table. The bands are "
    "quantiles over the sample paths, the band of the difference over paired paths; they need "
    "not be centred on the central values.",
]


def partner_columns(levels: tuple[int, ...]) -> list[str]:
    """The exact columns of ``scenario_partners`` for the configured interval levels."""
    bands = [f"{side}_{lvl}" for lvl in levels for side in ("lo", "hi")]
    return [
        "scenario", "origin", "partner", "year", "baseline_mean", "scenario_mean",
        *[f"scenario_{b}" for b in bands], "effect_pct", *[f"effect_{b}" for b in bands],
        "ppml_effect_pct", "gbm_effect_pct", "ridge_effect_pct", "actual",
    ]  # fmt: skip


def index_columns(levels: tuple[int, ...]) -> list[str]:
    """The exact columns of ``scenario_indices`` for the configured interval levels.

    ``<kind>_point`` are the indices of the point forecasts (the central values); ``<kind>_p50``
    and the bands are quantiles over the sample paths (``diff`` over paired paths).
    """
    bands = ["p50", *[f"{side}_{lvl}" for lvl in levels for side in ("lo", "hi")]]
    return [
        "scenario", "origin", "year", "index",
        "baseline_point", "scenario_point", "diff_point",
        *[f"{kind}_{b}" for kind in ("baseline", "scenario", "diff") for b in bands], "actual",
    ]  # fmt: skip


PARTNER_COLUMNS = partner_columns((80, 95))


def baseline_at(
    config: RunConfig, tables: dict[str, pd.DataFrame], origin: int, *, n_jobs: int | None = None
) -> tuple[ForecastSeries, EngineResult]:
    """The baseline forecast from ``origin``: series and engine as the pipeline makes them.

    The same engine call as the pipeline's (:func:`flows.engine_call.run_configured_engine`:
    models, backtest origins before the origin, levels, paths, seed, workers, fallback limit),
    on the panel cut at ``origin``. ``n_jobs`` overrides ``forecast.n_jobs`` (the engine's
    result does not depend on it).
    """
    f = config.forecast
    panel = build_trade_panel(
        tables["kor_exports"], reporter=config.reporter, start=config.years.start, end=origin
    )
    fs = split_series(panel, min_years=f.min_years)
    # a partial release's remainder in REST, as in the pipeline (features/provisional.py)
    prov = provisional_rest(tables.get("release_rest"), config.reporter, config.years.start, origin)
    fs = with_rest_remainder(fs, prov)
    demand = {k: tables[k] for k in DEMAND_TABLES} if f.demand_model else None
    settings = f.model_dump(mode="json")
    if n_jobs is not None:
        settings["n_jobs"] = n_jobs
    engine = run_configured_engine(fs, settings, config.horizon, panel=panel, demand_tables=demand)
    return fs, engine


def _changes(scenario: ScenarioConfig) -> tuple[list[sc.FtaChange], list[sc.GdpShock]]:
    fta = [
        sc.FtaChange(c.partner, c.agreement, c.action, c.year, c.basis)
        for c in scenario.changes.fta
    ]
    gdp = [sc.GdpShock(g.partner, g.start, g.end, g.growth_pp) for g in scenario.changes.gdp_shocks]
    return fta, gdp


def _actual_indices(
    tables: dict[str, pd.DataFrame], reporter: str, start: int, dependence_set: tuple[str, ...]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    exports = tables["kor_exports"]
    full = build_trade_panel(
        exports, reporter=reporter, start=start, end=int(exports["year"].max())
    )
    prov = provisional_rest(tables.get("release_rest"), reporter, start, int(full["year"].max()))
    # shares of the published total in a partial release's year (features/provisional.py)
    idx = concentration_index(with_remainder_rows(full, prov), dependence_set=dependence_set)
    return full, idx[["year", *scenario_effects.INDEX_NAMES]]


@dataclass(frozen=True)
class ScenarioSetup:
    """A scenario's changes, origin and partner-panel design (cheap; no model is fitted)."""

    scenario: ScenarioConfig
    origin: int
    dependence_set: tuple[str, ...]
    fta_changes: list[sc.FtaChange]
    gdp_shocks: list[sc.GdpShock]
    full: pd.DataFrame  # the reporter's trade panel, every year
    actual_idx: pd.DataFrame  # its concentration indices
    panel: pd.DataFrame  # the years up to the origin
    years: range  # the forecast years
    design: sc.ScenarioDesign


def scenario_setup(
    config: RunConfig, scenario: ScenarioConfig, tables: dict[str, pd.DataFrame]
) -> ScenarioSetup:
    """The scenario's origin, changes, trade panel, actual indices and design."""
    origin = scenario.origin_or(config.years.end)
    dependence_set = scenario.changes.dependence_set or config.dependence_set
    fta_changes, gdp_shocks = _changes(scenario)
    full, actual_idx = _actual_indices(tables, config.reporter, config.years.start, dependence_set)
    years = range(origin + 1, origin + config.horizon + 1)
    agreements = scenario_gravity.baseline_agreements(tables["fta"], origin=origin)
    design = sc.scenario_design(agreements, fta_changes, gdp_shocks, years=years)
    return ScenarioSetup(
        scenario, origin, dependence_set, fta_changes, gdp_shocks, full, actual_idx,
        full.loc[full["year"] <= origin], years, design,
    )  # fmt: skip


def run_scenario(
    config: RunConfig,
    scenario: ScenarioConfig,
    tables: dict[str, pd.DataFrame],
    *,
    baseline: tuple[ForecastSeries, EngineResult] | None = None,
    setup: ScenarioSetup | None = None,
    parts: Callable[[], SnapshotParts] | None = None,
    baseline_jobs: int | None = None,
    log: Callable[[str], None] = print,
) -> sc.ScenarioResult:
    """Run one scenario: baseline at its origin, PPML effect paths, regression cross-check.

    Args:
        config: The run configuration (reporter, years, horizon, forecast settings).
        scenario: The validated scenario (``configs.loader.load_scenario``).
        tables: Snapshot tables: ``kor_exports``, ``fta``, ``indicators``, ``pairs``,
            ``kor_totals``.
        baseline: The pipeline's ``(series, engine)``; reused when the scenario's origin is
            ``config.years.end``, else the baseline is rebuilt at the origin.
        setup: The scenario's :func:`scenario_setup`, when the caller has made it already.
        parts: Returns the scenario's :class:`SnapshotParts` fitted elsewhere (a worker
            process; called when they are needed); None fits them here.
        baseline_jobs: Worker processes for a rebuilt baseline (None: ``forecast.n_jobs``;
            the result is the same).
        log: Progress printer.

    Returns:
        ``scenario_partners`` and ``scenario_indices`` frames (columns :func:`partner_columns`
        and :func:`index_columns`) and a JSON-serialisable ``meta``.

    Raises:
        ValueError: A changed partner has no series of its own at the origin, or a change
            contradicts the baseline agreements.
    """
    started = time.perf_counter()
    if setup is None:
        setup = scenario_setup(config, scenario, tables)
    origin, levels, dependence_set = setup.origin, config.forecast.levels, setup.dependence_set
    fta_changes, gdp_shocks, design, panel = (
        setup.fta_changes, setup.gdp_shocks, setup.design, setup.panel
    )  # fmt: skip
    log(f"scenario {scenario.name}: {scenario.title} (origin {origin})")
    # one thread for BLAS and OpenMP (the GBM): the machine's cores are shared
    with threadpool_limits(limits=1):
        fs, engine = _baseline(config, tables, origin, baseline, baseline_jobs, log)
        affected = _affected_partners(scenario.name, fta_changes, gdp_shocks, fs, origin)
        if parts is None:
            fitted = snapshot_parts(panel, tables, design, origin, config.horizon)
        else:
            fitted = parts()
        gravity, summary = fitted.gravity, fitted.summary
        log(fitted.lines[0])
        coef, cov, delta, world, world_panel = gravity.coef, gravity.cov, design.delta, None, None
        if scenario.effects == "world_gravity":
            world, world_panel, delta = _world_gravity(
                tables, origin, design, fta_changes, gdp_shocks, setup.years, log
            )
            coef, cov = world.coef, world.cov
        multipliers = _path_multipliers(engine, coef, cov, delta, config.forecast.seed)
        scenario_paths = sc.apply_multipliers(engine.paths, multipliers)
        regression = fitted.regression
        log(fitted.lines[1])
        partners, indices = _effects(
            setup, fs, engine, multipliers, scenario_paths, delta, coef, regression, affected,
            levels,
        )  # fmt: skip
    ids = {"scenario": scenario.name, "origin": origin}
    partners = partners.assign(**ids)[partner_columns(levels)]
    indices = indices.assign(**ids)[index_columns(levels)]
    meta = _meta(
        scenario, origin, fta_changes, gdp_shocks, design, gravity, summary, engine, tables
    )
    meta.update(_effects_meta(scenario, dependence_set, world))
    meta["effect_sources"] = ws.effect_sources(
        tables["fta"], fta_changes, design.bases,
        panel_years=(int(panel["year"].min()), origin), world_panel=world_panel,
    )  # fmt: skip
    _log_effects(partners, levels, started, log)
    return sc.ScenarioResult(partners=partners, indices=indices, meta=meta)


def _effects(
    setup: ScenarioSetup,
    fs: ForecastSeries,
    engine: EngineResult,
    multipliers: pd.DataFrame,
    scenario_paths: pd.DataFrame,
    delta: pd.DataFrame,
    coef: pd.Series,
    regression: Any,
    affected: set[str],
    levels: tuple[int, ...],
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The scenario's partner effects and index effects against the baseline engine."""
    forecast = engine.forecast
    if "model" in forecast.columns:
        forecast = forecast.loc[forecast["model"] == engine.model]
    full = setup.full
    partners = scenario_effects.partner_effects(
        forecast, engine.paths, multipliers, delta, coef, regression,
        full.loc[full["partner"].isin(affected)], levels=levels,
    )  # fmt: skip
    indices = scenario_effects.index_effects(
        engine.paths, scenario_paths, setup.actual_idx, forecast=forecast,
        scenario_mean=partners, dependence_set=setup.dependence_set, rest=REST,
        rest_shares=fs.rest_shares, n_partners=fs.n_partners, levels=levels,
    )  # fmt: skip
    return partners, indices


def _affected_partners(
    name: str,
    fta_changes: list[sc.FtaChange],
    gdp_shocks: list[sc.GdpShock],
    fs: ForecastSeries,
    origin: int,
) -> set[str]:
    """The partners a scenario changes; each needs a series of its own at the origin.

    Raises:
        ValueError: A changed partner has no series of its own at the origin.
    """
    affected = {c.partner for c in fta_changes} | {g.partner for g in gdp_shocks}
    missing = sorted(affected - set(fs.partners))
    if missing:
        raise ValueError(
            f"scenario {name}: {missing} have no series of their own at origin "
            f"{origin}; their exports cannot be moved"
        )
    return affected


def _path_multipliers(
    engine: EngineResult, coef: pd.Series, cov: pd.DataFrame, delta: pd.DataFrame, seed: int
) -> pd.DataFrame:
    """One coefficient draw per baseline sample path, turned into the scenario's multipliers."""
    path_ids = np.sort(engine.paths["path"].unique())
    draws = sc.draw_coefficients(coef, cov, n_paths=len(path_ids), seed=seed)
    return sc.scenario_multipliers(delta, draws, path_ids)


def _effects_meta(
    scenario: ScenarioConfig, dependence_set: tuple[str, ...], world: Any
) -> dict[str, Any]:
    """The meta keys of the effect model: dependence set, ``effects``, the world fit's summary."""
    meta: dict[str, Any] = {"dependence_set": list(dependence_set), "effects": scenario.effects}
    if world is not None:
        meta.update(world_meta(world))
    return meta


def _baseline(
    config: RunConfig,
    tables: dict[str, pd.DataFrame],
    origin: int,
    baseline: tuple[ForecastSeries, EngineResult] | None,
    n_jobs: int | None,
    log: Callable[[str], None],
) -> tuple[ForecastSeries, EngineResult]:
    """The run's baseline when the scenario starts at the run's last year, else one at ``origin``."""
    if baseline is not None and origin == config.years.end:
        log("  baseline               reused the run's forecast")
        return baseline
    before = memo.stats()
    fs, engine = baseline_at(config, tables, origin, n_jobs=n_jobs)
    # how many backtest origins came from the run's own backtest or the disk store (memo)
    reused = reused_text(before, memo.stats())
    log(
        f"  baseline               forecast from {origin}, model {engine.model}"
        + (f"; {reused}" if reused else "")
    )
    return fs, engine


def _world_gravity(
    tables: dict[str, pd.DataFrame],
    origin: int,
    design: sc.ScenarioDesign,
    fta_changes: list[sc.FtaChange],
    gdp_shocks: list[sc.GdpShock],
    years: range,
    log: Callable[[str], None],
) -> tuple[Any, Any, Any]:
    """The world gravity fit that prices a ``world_gravity`` scenario, its panel and deltas."""
    world, world_panel = ws.world_scenario_fit(tables, origin=origin)
    delta = ws.world_delta(design, fta_changes, gdp_shocks, years=years)
    log(
        "  world gravity PPML     "
        + ", ".join(f"{k} {v:+.3f}" for k, v in world.coef.items())
        + f"; {world.n_obs:,} flows {world.years[0]}-{world.years[-1]}, "
        f"fit {world.fit_seconds:.1f} s (these price the scenario)"
    )
    return world, world_panel, delta


def _log_effects(
    partners: pd.DataFrame, levels: tuple[int, ...], started: float, log: Callable[[str], None]
) -> None:
    """The outcome line (ex ante scenarios) and the effect on the top partners in the last year."""
    lv = levels[0]
    last = partners.loc[partners["year"] == partners["year"].max()]
    effects = [
        f"{r['partner']} {r['effect_pct']:+.1f} % ({lv} % {r[f'effect_lo_{lv}']:+.1f} to "
        f"{r[f'effect_hi_{lv}']:+.1f} %)"
        for _, r in last.head(3).iterrows()
    ]
    more = f" and {len(last) - 3} more partners" if len(last) > 3 else ""
    # the report's wording; loads the report stack
    from exportcast.reports.sections_scenarios import outcome_check

    outcome = outcome_check(partners, {}, lv, prefix="", caveat=False)
    if outcome:  # an ex ante scenario whose first years are known
        log(f"  outcome                {outcome}")
    log(
        f"  effect                 {int(last['year'].iat[0])}: {', '.join(effects)}{more}; "
        f"done in {time.perf_counter() - started:.1f} s"
    )


def _meta(
    scenario: ScenarioConfig,
    origin: int,
    fta_changes: list[sc.FtaChange],
    gdp_shocks: list[sc.GdpShock],
    design: sc.ScenarioDesign,
    gravity: scenario_gravity.ScenarioGravity,
    summary: dict[str, dict[str, float]],
    engine: EngineResult,
    tables: dict[str, pd.DataFrame],
) -> dict[str, Any]:
    fta = tables["fta"].drop_duplicates("agreement_short")
    changes = sc.describe_changes(
        fta_changes,
        gdp_shocks,
        design.bases,
        partner_names=tables["countries"].set_index("country")["name"].to_dict(),
        agreement_names=fta.set_index("agreement_short")["agreement"].to_dict(),
    )
    return {
        "name": scenario.name,
        "title": scenario.title,
        "description": scenario.description,
        "origin": int(origin),
        "changes": changes,
        "bases": list(design.bases),
        "coefficients": summary,
        "n_paths": int(engine.paths["path"].nunique()),
        "n_obs": int(gravity.n_obs),
        "n_clusters": int(gravity.n_clusters),
        "baseline_model": engine.model,
        "method": METHOD_NOTES,
    }
