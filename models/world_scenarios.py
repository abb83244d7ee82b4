"""Scenario effects priced by the world structural gravity (``effects: world_gravity``).

The scenario's FTA entries are priced by the phased effects of :mod:`models.fta_effects`,
fitted on the world panel with data up to the scenario's origin (capped at the last DOTS year):
a first FTA moves ``rta`` (and ``rta_lag4`` from 4 years after entry, ``rta_lag8`` from 8), a
deepening on top of an agreement already in force moves ``deep`` (``deep_lag4`` from 4 years).
Which of the two a change is comes from :func:`models.scenarios.scenario_design`'s basis
(``any_fta`` -> first, ``additional_agreement`` -> deepening). The result is a design change
``delta`` (one column per coefficient) that :func:`models.scenarios.scenario_multipliers` and
:func:`models.scenario_effects.partner_effects` use as they use the partner-panel design, so the
paths get the phased effect year by year, one coefficient draw per path.

Exits and GDP shocks are not priced by the world model (it has no exit or GDP term): a scenario
with them must use the partner-panel effects.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import pandas as pd

from exportcast.models.fta_effects import DEPTH, entries, fit_world_gravity, phase_weights
from exportcast.models.scenarios import FtaChange, GdpShock, ScenarioDesign
from exportcast.models.structural_gravity import GravityFit

__all__ = [
    "KIND_OF_BASIS",
    "WORLD_METHOD_NOTES",
    "effect_sources",
    "world_delta",
    "world_meta",
    "world_scenario_fit",
]

KIND_OF_BASIS = {"any_fta": "first", "additional_agreement": "deepening"}
WORLD_METHOD_NOTES = [
    "Paths: the baseline engine's joint sample paths times exp(d . b), with b drawn per path "
    "from the world gravity estimate and its pair-clustered covariance.",
    "World structural gravity: PPML (pyfixest fepois) of DOTS exports among the 100 largest "
    "traders and Korea, 4-year intervals up to the origin (at most 2020), with exporter-year, "
    "importer-year and pair fixed effects; agreements from the WTO RTA database (Korea's from "
    "its own table), partial-scope agreements not counted.",
    "Phase-in: a first FTA is priced by rta in years 0-3 after entry, rta + rta_lag4 in years "
    "4-7 and rta + rta_lag4 + rta_lag8 from year 8; a deepening on top of an agreement already "
    "in force by deep, then deep + deep_lag4.",
    "The partner-panel PPML of earlier versions is still fitted and reported beside it "
    "(meta 'coefficients'); it does not move the paths.",
    "The pooled regressions (GBM, ridge) are a cross-check shown beside the effect; they do not "
    "move the paths.",
    "Exports to other partners are not changed (no trade diversion is modelled).",
]


def world_delta(
    design: ScenarioDesign,
    fta_changes: Sequence[FtaChange],
    gdp_shocks: Sequence[GdpShock],
    *,
    years: Iterable[int],
) -> pd.DataFrame:
    """The design change in the world model's coefficients, per partner and forecast year.

    Args:
        design: The partner-panel design of the same changes (for each change's basis).
        fta_changes: The FTA changes (entries only).
        gdp_shocks: Must be empty.
        years: Forecast years.

    Returns:
        ``partner, year`` plus one column per :data:`models.fta_effects.DEPTH` coefficient.

    Raises:
        ValueError: A GDP shock or an exit (not priced by the world model).
    """
    if gdp_shocks:
        raise ValueError(
            "effects: world_gravity prices FTA entries only; a GDP shock needs "
            "effects: partner_panel"
        )
    years = sorted({int(y) for y in years})
    partners = sorted({c.partner for c in fta_changes})
    grid = pd.MultiIndex.from_product([partners, years], names=["partner", "year"])
    delta = pd.DataFrame(0.0, index=grid, columns=list(DEPTH))
    for change, basis in zip(fta_changes, design.bases, strict=True):
        if change.action != "enter":
            raise ValueError(
                f"effects: world_gravity prices FTA entries only; {change.partner} leaves "
                f"{change.agreement or 'its FTAs'} (use effects: partner_panel)"
            )
        kind = KIND_OF_BASIS.get(basis)
        if kind is None:  # the change moves nothing against the baseline
            continue
        for year in years:
            for name, weight in phase_weights(year - change.year, kind).items():
                delta.loc[(change.partner, year), name] += weight
    return delta.reset_index()


def world_meta(fit: GravityFit) -> dict:
    """JSON-serialisable description of the world fit for a scenario's meta."""
    summary = fit.summary(levels=(95,)).set_index("term")
    return {
        "world_gravity": {
            "coefficients": {
                term: {k: float(v) for k, v in row.items()} for term, row in summary.iterrows()
            },
            "n_obs": int(fit.n_obs),
            "n_pairs": int(fit.n_clusters),
            "years": [int(y) for y in fit.years],
            "fit_seconds": round(float(fit.fit_seconds), 2),
        },
        "method": WORLD_METHOD_NOTES,
    }


def world_scenario_fit(
    tables: dict[str, pd.DataFrame], *, origin: int, top_n: int | None = 100
) -> tuple[GravityFit, pd.DataFrame]:
    """The world gravity (:data:`DEPTH`) fitted on DOTS years up to ``origin`` (or the last).

    Returns:
        The fit and the world panel it used (for :func:`effect_sources`).
    """
    dots = tables["dots_exports"]
    last = min(int(origin), int(dots["year"].max()))
    return fit_world_gravity(dots, tables["rtas"], tables["fta"], last_year=last, top_n=top_n)


def _switching_pairs(panel: pd.DataFrame, column: str) -> int:
    """Pairs whose ``column`` (0/1) changes within the panel: the ones that identify it."""
    return int((panel.groupby("pair")[column].nunique() > 1).sum())


def _korea_entries(fta: pd.DataFrame, since: int, until: int) -> dict[str, list[dict]]:
    rows = entries(fta, since=since, until=until)
    out: dict[str, list[dict]] = {"first": [], "deepening": []}
    for (kind, agreement, year), g in rows.groupby(["kind", "agreement", "entry_year"]):
        item = {"agreement": str(agreement), "entry_year": int(year)}
        out[str(kind)].append({**item, "partners": sorted(map(str, g["partner"]))})
    for items in out.values():
        items.sort(key=lambda d: (d["entry_year"], d["agreement"]))
    return out


def effect_sources(
    fta: pd.DataFrame,
    changes: Sequence[FtaChange],
    bases: Sequence[str],
    *,
    panel_years: tuple[int, int],
    world_panel: pd.DataFrame | None = None,
) -> dict:
    """JSON-serialisable: what each change is priced as, and which agreements identify it.

    Args:
        fta: Korea's agreement table.
        changes: The scenario's FTA changes.
        bases: Their bases (:attr:`models.scenarios.ScenarioDesign.bases`).
        panel_years: First and last year of the partner-panel PPML.
        world_panel: The world gravity's panel (None: a partner-panel scenario).

    Returns:
        ``changes`` (partner, agreement, action, year, basis, kind: ``first`` or ``deepening``
        for an entry, None for an exit or a change that moves nothing), ``korea_entries`` (Korea's first
        FTAs and deepenings entering within the partner panel's years: they identify its any-FTA
        and extra-agreement coefficients), ``partner_panel_years`` and, with a world panel,
        ``world_years`` and ``world_pairs`` (directional pairs whose ``rta`` / ``deep`` switch
        within the world panel's years: they identify ``rta`` / ``deep``).
    """
    first, last = (int(y) for y in panel_years)
    out: dict = {
        "changes": [
            {
                "partner": c.partner,
                "agreement": c.agreement,
                "action": c.action,
                "year": int(c.year),
                "basis": b,
                "kind": KIND_OF_BASIS.get(b) if c.action == "enter" else None,
            }
            for c, b in zip(changes, bases, strict=True)
        ],
        "korea_entries": _korea_entries(fta, first + 1, last),
        "partner_panel_years": [first, last],
    }
    if world_panel is not None:
        years = sorted(int(y) for y in world_panel["year"].unique())
        out["world_years"] = [years[0], years[-1]]
        out["world_pairs"] = {
            "first": _switching_pairs(world_panel, "rta"),
            "deepening": _switching_pairs(world_panel, "deep"),
        }
        out["world_korea_entries"] = _korea_entries(fta, years[0] + 1, years[-1])
    return out
