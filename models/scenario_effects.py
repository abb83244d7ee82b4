"""What a scenario does to the forecast: the regression cross-check, partner and index effects.

The scenario paths are the engine's baseline paths times the per-path multipliers of
:mod:`models.scenarios`; baseline and scenario share their paths, so the differences here have
paired intervals. The regression effects are a cross-check and never enter the paths.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd

from exportcast.features.concentration import concentration_from_paths
from exportcast.features.panel import series_to_panel
from exportcast.models.paths import path_quantiles
from exportcast.models.regression import DirectRegressor
from exportcast.models.scenarios import ScenarioDesign

__all__ = ["INDEX_NAMES", "index_effects", "partner_effects", "regression_effects"]


INDEX_NAMES = ("dependence_share", "hhi", "n_effective")


# --- the regression cross-check --------------------------------------------------------------------


def _switch(
    rows: pd.DataFrame, status: pd.DataFrame, origin: int, d_gdp: pd.Series
) -> pd.DataFrame:
    at_target = status.set_index(["partner", "year"])
    key = pd.MultiIndex.from_arrays([rows["partner"], rows["target_year"]])
    at_origin = status.loc[status["year"] == origin].set_index("partner")["fta_in_force"]
    in_force = at_target["fta_in_force"].reindex(key).to_numpy(dtype="float64")
    before = at_origin.reindex(rows["partner"]).to_numpy(dtype="float64")
    return rows.assign(
        fta_in_force=in_force,
        years_since_fta=at_target["years_since_fta"].reindex(key).to_numpy(dtype="float64"),
        fta_new=np.clip(in_force - before, 0, None),
        partner_gdp_growth_expected=rows["partner_gdp_growth_expected"].to_numpy()
        + d_gdp.reindex(key).fillna(0.0).to_numpy(),
    )


def regression_effects(
    features: pd.DataFrame,
    design: ScenarioDesign,
    *,
    origin: int,
    estimators: Sequence[Literal["gbm", "ridge"]] = ("gbm", "ridge"),
    random_state: int = 0,
) -> pd.DataFrame:
    """Effects by the pooled direct regressions, shown beside the PPML (not used for paths).

    Each regressor is fitted on the rows whose target year is ``<= origin`` and predicts the
    origin's rows of the affected partners twice: with the FTA features (and expected GDP
    growth) of the baseline and of the scenario. The FTA features are "any FTA" indicators, so
    a deepening of an existing FTA does not move them (its regression effect is 0).

    Args:
        features: ``features.build.build_features`` rows covering origins up to ``origin``.
        design: The scenario design (statuses of the baseline and scenario, GDP change).
        origin: The forecast origin.
        estimators: Which learners.
        random_state: Seed of the gradient boosting.

    Returns:
        ``partner, year`` plus ``<estimator>_effect_pct`` (``100 * (exp(pred_s - pred_b) - 1)``).
    """
    partners = design.delta["partner"].unique()
    rows = features.loc[(features["origin"] == origin) & features["partner"].isin(partners)]
    train = features.loc[features["target_year"] <= origin]
    d_gdp = design.delta.set_index(["partner", "year"])["log_partner_gdp"]
    base = _switch(rows, design.baseline, origin, d_gdp * 0)
    scen = _switch(rows, design.scenario, origin, d_gdp)
    out = rows[["partner", "target_year"]].rename(columns={"target_year": "year"})
    out = out.reset_index(drop=True)
    for name in estimators:
        model = DirectRegressor(name, horizons=int(rows["h"].max()), random_state=random_state)
        model.fit(train)
        gap = model.predict(scen)["pred_log_growth"] - model.predict(base)["pred_log_growth"]
        out[f"{name}_effect_pct"] = 100 * np.expm1(gap.to_numpy())
    return out


# --- the output frames -----------------------------------------------------------------------------


def _band_names(levels: Sequence[int]) -> list[tuple[str, float]]:
    out = [("p50", 0.5)]
    for lvl in levels:
        out += [(f"lo_{lvl}", (100 - lvl) / 200), (f"hi_{lvl}", 1 - (100 - lvl) / 200)]
    return out


def partner_effects(
    forecast: pd.DataFrame,
    paths: pd.DataFrame,
    multipliers: pd.DataFrame,
    delta: pd.DataFrame,
    coef: pd.Series,
    regression: pd.DataFrame,
    actual: pd.DataFrame,
    *,
    levels: Sequence[int],
) -> pd.DataFrame:
    """The ``scenario_partners`` rows (without the scenario and origin columns).

    Args:
        forecast: The engine's live forecast ``unique_id, ds, model, mean, ...`` (one model).
        paths: Baseline paths ``unique_id, ds, path, y``.
        multipliers: :func:`scenario_multipliers`.
        delta: :attr:`ScenarioDesign.delta`.
        coef: PPML point estimates.
        regression: :func:`regression_effects` (``partner, year, gbm_effect_pct, ...``).
        actual: Realised ``partner, year, export_usd`` (years after the data: absent).
        levels: Interval levels.

    Returns:
        ``partner, year, baseline_mean, scenario_mean, scenario_lo_<l>, scenario_hi_<l>...,
        effect_pct, effect_lo_<l>, effect_hi_<l>..., ppml_effect_pct, gbm_effect_pct,
        ridge_effect_pct, actual``.
    """
    keys = ["partner", "year"]
    fc = series_to_panel(forecast)[["partner", "year", "mean"]]
    base = series_to_panel(paths)[["partner", "year", "path", "export_usd"]]
    scen = base.merge(multipliers, on=[*keys, "path"], how="inner")
    scen = scen.assign(
        scenario=scen["export_usd"] * scen["multiplier"], effect=100 * (scen["multiplier"] - 1)
    )
    bands = _band_names(levels)
    grouped = scen.groupby(keys)
    cols: dict[str, pd.Series] = {}
    for name, q in bands[1:]:
        cols[f"scenario_{name}"] = grouped["scenario"].quantile(q)
    cols["effect_pct"] = grouped["effect"].median()
    for name, q in bands[1:]:
        cols[f"effect_{name}"] = grouped["effect"].quantile(q)
    summary = pd.DataFrame(cols).reset_index()
    point = delta[keys].assign(
        ppml_effect_pct=100 * np.expm1(delta[list(coef.index)].to_numpy() @ coef.to_numpy())
    )
    out = (
        delta[keys]
        .merge(fc.rename(columns={"mean": "baseline_mean"}), on=keys, how="left")
        .merge(summary, on=keys, how="left")
        .merge(point, on=keys, how="left")
        .merge(regression, on=keys, how="left")
        .merge(actual[[*keys, "export_usd"]].rename(columns={"export_usd": "actual"}), on=keys,
               how="left")
    )  # fmt: skip
    out = out.assign(scenario_mean=out["baseline_mean"] * (1 + out["ppml_effect_pct"] / 100))
    for name in ("gbm_effect_pct", "ridge_effect_pct"):
        if name not in out.columns:
            out[name] = np.nan
    columns = [
        *keys, "baseline_mean", "scenario_mean", *[f"scenario_{n}" for n, _ in bands[1:]],
        "effect_pct", *[f"effect_{n}" for n, _ in bands[1:]], "ppml_effect_pct",
        "gbm_effect_pct", "ridge_effect_pct", "actual",
    ]  # fmt: skip
    return out[columns].sort_values(keys, ignore_index=True)


def _index_frame(frame: pd.DataFrame, conc: dict[str, Any]) -> pd.DataFrame:
    """The ``INDEX_NAMES`` by ``path, year`` of a ``path, year, partner, export_usd`` panel.

    ``conc`` holds the keyword arguments of ``concentration_from_paths``.
    """
    idx = concentration_from_paths(frame, **conc)
    return idx.set_index(["path", "year"])[list(INDEX_NAMES)]


def _point_indices(
    forecast: pd.DataFrame, scenario_mean: pd.DataFrame, conc: dict[str, Any]
) -> dict[str, pd.DataFrame]:
    """The indices by year of the point forecasts: ``baseline`` and ``scenario``.

    ``scenario`` is the baseline point forecast with the affected partners' years replaced
    by their ``scenario_mean`` (errors as documented in :func:`index_effects`).
    """
    keys = ["partner", "year"]
    point = series_to_panel(forecast[["unique_id", "ds", "mean"]])[[*keys, "mean"]]
    if point.duplicated(keys).any():
        raise ValueError("index_effects: forecast has more than one row per series and year")
    moved = scenario_mean.set_index(keys)["scenario_mean"].astype("float64")
    where = pd.MultiIndex.from_frame(point[keys].astype({"partner": str}))
    unknown = moved.index.difference(where)
    if len(unknown) or moved.isna().any():
        what = list(unknown[:3]) if len(unknown) else list(moved.index[moved.isna()][:3])
        raise ValueError(f"index_effects: scenario_mean without a baseline forecast at {what}")
    scen_point = moved.reindex(where).fillna(point["mean"].set_axis(where))
    return {
        name: _index_frame(
            point[keys].assign(path=0, export_usd=values.to_numpy()), conc
        ).reset_index(level="path", drop=True)
        for name, values in (("baseline", point["mean"]), ("scenario", scen_point))
    }


def index_effects(
    baseline_paths: pd.DataFrame,
    scenario_paths: pd.DataFrame,
    actual: pd.DataFrame,
    *,
    forecast: pd.DataFrame,
    scenario_mean: pd.DataFrame,
    dependence_set: Sequence[str],
    rest: str,
    rest_shares: Sequence[float],
    n_partners: int,
    levels: Sequence[int],
) -> pd.DataFrame:
    """The ``scenario_indices`` rows (without the scenario and origin columns).

    The central values are the indices of the point forecasts: ``baseline_point`` is the index
    of the engine's partner point forecasts (all partners, ``rest`` included) and
    ``scenario_point`` that of the same forecasts with the affected partners' years replaced by
    their ``scenario_mean`` (:func:`partner_effects`), so the shares a reader computes from the
    partner forecasts are the table's. The ``_p50`` and band columns are quantiles over the
    sample paths; the ``diff`` quantiles are taken over paired paths (scenario - baseline) and
    need not be centred on ``diff_point``.

    Args:
        baseline_paths: Engine paths ``unique_id, ds, path, y``.
        scenario_paths: The same paths times the scenario multipliers.
        actual: Realised indices ``year`` + ``INDEX_NAMES`` (years after the data: absent).
        forecast: The baseline point forecasts ``unique_id, ds, mean`` of the paths' engine
            (one model: one row per series and year).
        scenario_mean: ``partner, year, scenario_mean`` of the affected partners.
        dependence_set: Partners of the dependence share.
        rest: Name of the aggregate partner of small partners.
        rest_shares: Its members' shares within it (see ``concentration_from_paths``).
        n_partners: Partner count for the normalised HHI.
        levels: Interval levels.

    Returns:
        ``year, index, baseline_point, scenario_point, diff_point, baseline_p50,
        baseline_lo_<l>, baseline_hi_<l>..., scenario_*, diff_*, actual``.

    Raises:
        ValueError: The forecast has more than one row per series and year, or a
            ``scenario_mean`` row has no baseline forecast or is missing.
    """
    conc = {
        "dependence_set": dependence_set,
        "rest": rest,
        "rest_shares": rest_shares,
        "n_partners": n_partners,
    }
    points = _point_indices(forecast, scenario_mean, conc)

    def path_indices(paths: pd.DataFrame) -> pd.DataFrame:
        return _index_frame(series_to_panel(paths)[["path", "year", "partner", "export_usd"]], conc)

    base, scen = path_indices(baseline_paths), path_indices(scenario_paths)
    parts = {"baseline": base, "scenario": scen, "diff": scen - base.reindex(scen.index)}
    bands = _band_names(levels)
    rows = []
    for index in INDEX_NAMES:
        frame = pd.DataFrame({kind: values[index] for kind, values in parts.items()})
        q = path_quantiles(frame.reset_index(), list(parts), by=("year",), levels=levels)
        central = pd.DataFrame(
            {f"{kind}_point": values[index] for kind, values in points.items()}
        ).reset_index()
        central["diff_point"] = central["scenario_point"] - central["baseline_point"]
        rows.append(q.merge(central, on="year", how="left").assign(index=index))
    out = pd.concat(rows, ignore_index=True)
    realised = actual.melt(
        id_vars="year", value_vars=list(INDEX_NAMES), var_name="index", value_name="actual"
    )
    out = out.merge(realised, on=["year", "index"], how="left")
    columns = [
        "year", "index", *[f"{k}_point" for k in parts],
        *[f"{k}_{n}" for k in parts for n, _ in bands], "actual",
    ]  # fmt: skip
    order = {name: i for i, name in enumerate(INDEX_NAMES)}
    out = out.assign(_o=out["index"].map(order)).sort_values(["year", "_o"], ignore_index=True)
    return out[columns]
