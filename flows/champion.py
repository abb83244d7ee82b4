"""The champion forecaster as an MLflow pyfunc model, and per-horizon backtest scores.

Besides ``flows/tracking*.py``, this is the one module that imports mlflow: it defines the
``PythonModel`` subclass that MLflow pickles (by reference) into the registered model
``exportcast-<reporter>-forecaster`` (alias ``champion``). Loading the model therefore needs
``flows.champion`` and ``models`` importable: the project installed in the loading
environment, as it is (editable) in the project's venv. Nothing else is pickled: the model
carries the history series (``history.csv``) and a JSON spec (chosen model, its components,
interval levels and the conformal calibration per horizon step) as artifacts, and refits the
chosen model on the history at every ``predict``.

The calibration is the engine's own (``EngineResult.calibration``: the ``kind="log"``
conformal quantile per horizon step, pooled and per size class of the series), stored as JSON;
``predict`` assigns each series its size class from the stored history, as the engine did.
"""

from __future__ import annotations

import json
import math
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import mlflow.pyfunc
import pandas as pd

from exportcast.models.engine import ENSEMBLE, MODEL_CLASSES, EngineResult
from exportcast.models.ensemble import add_ensemble
from exportcast.models.forecasting import forecast_panel
from exportcast.models.intervals import (
    SIZE_BOUNDS,
    ConformalCalibration,
    apply_conformal,
    size_classes_at,
)
from exportcast.models.live_forecast import floor_live_forecast
from exportcast.models.metrics import evaluate_cv
from exportcast.models.timeseries import Naive

if TYPE_CHECKING:
    from exportcast.flows.tracking import TrackedRun

__all__ = [
    "OUTPUT_COLUMNS",
    "ChampionForecaster",
    "calibration_spec",
    "champion_spec",
    "forecast_champion",
    "horizon_scores",
    "log_champion",
    "pip_requirements",
]

OUTPUT_COLUMNS = ["unique_id", "ds", "mean", "lo_80", "hi_80", "lo_95", "hi_95"]
HORIZON_METRICS = ("MASE", "sMAPE", "RMSSE", "relMASE")


def horizon_scores(backtest: pd.DataFrame, series: pd.DataFrame, models: Sequence[str]):
    """Backtest accuracy per model and horizon step (``models.metrics.evaluate_cv``).

    Args:
        backtest: The engine's scored backtest rows (``EngineResult.backtest``).
        series: The training frame ``unique_id, ds, y`` the backtest ran on (MASE scales).
        models: Aliases to score (columns of ``backtest``).

    Returns:
        ``model, h, MASE, sMAPE, RMSSE, relMASE, n_units`` (relMASE vs Naive when present).
    """
    baseline = "Naive" if "Naive" in backtest.columns else None
    return evaluate_cv(backtest, series, list(models), baseline=baseline, by_horizon=True)


def _quantile_table(table: pd.DataFrame, levels: Sequence[float]) -> dict[str, dict[str, Any]]:
    # {h: {level: q}}; an infinite (or missing) quantile is stored as None
    return {
        str(int(h)): {
            str(int(lv)): float(row[lv]) if math.isfinite(row[lv]) else None for lv in levels
        }
        for h, row in table.iterrows()
    }


def calibration_spec(cal: ConformalCalibration) -> dict[str, Any]:
    """The engine's calibration as JSON: pooled and per-size-class quantiles per step.

    A per-class quantile of None means "use the pooled one" (too few scores), except in the
    pooled table, where None is an infinite bound.
    """
    return {
        "kind": cal.kind,
        "levels": [int(lv) for lv in cal.levels],
        "quantiles": _quantile_table(cal.quantiles, cal.levels),
        "by_group": {
            label: _quantile_table(table, cal.levels)
            for label, table in (cal.by_group or {}).items()
        },
        "size_bounds": list(SIZE_BOUNDS),
    }


def champion_spec(engine: EngineResult, candidates: Sequence[str]) -> dict[str, Any]:
    """What the pyfunc needs besides the history: model, components, calibration.

    Args:
        engine: The engine's result.
        candidates: The candidate models of the run (an ``Ensemble`` averages all of them).

    Returns:
        The JSON-ready spec stored with the model.
    """
    components = list(candidates) if engine.model == ENSEMBLE else [engine.model]
    return {
        "model": engine.model,
        "components": components,
        "horizon": int(engine.forecast.groupby("unique_id").size().max()),
        "calibration": calibration_spec(engine.calibration),
    }


def forecast_champion(
    series: pd.DataFrame,
    spec: dict[str, Any],
    h: int,
    *,
    sizes_from: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Refit the champion on ``series`` and forecast ``h`` steps with conformal intervals.

    The same steps as the live forecast of ``models.engine.run_engine``.

    Args:
        series: ``unique_id, ds, y``.
        spec: Output of :func:`champion_spec`.
        h: Horizon in years (at most the calibrated one).
        sizes_from: The whole history, when ``series`` is a subset: size classes of the
            intervals are shares of the whole total (default ``series``).

    Returns:
        ``unique_id, ds, mean, lo_<lv>, hi_<lv>`` (bounds clipped at zero like the engine's).
    """
    model, components = spec["model"], spec["components"]
    cal = spec["calibration"]
    if h > len(cal["quantiles"]):
        raise ValueError(f"horizon {h}: the model is calibrated for {len(cal['quantiles'])} steps")
    levels = tuple(float(lv) for lv in cal["levels"])

    def table(stored: dict[str, dict[str, Any]], missing: float) -> pd.DataFrame:
        return pd.DataFrame(
            [
                [missing if q[str(lv)] is None else q[str(lv)] for lv in cal["levels"]]
                for q in stored.values()
            ],
            index=pd.Index([int(k) for k in stored], name="h"),
            columns=list(levels),
        )

    quantiles = table(cal["quantiles"], math.inf)
    by_group = {k: table(v, math.nan) for k, v in cal.get("by_group", {}).items()}
    calibration = ConformalCalibration(
        alias=model,
        kind=cal["kind"],
        levels=levels,
        quantiles=quantiles,
        n_scores=pd.Series(0, index=quantiles.index),
        n_dropped=0,
        by_group=by_group or None,
    )
    fc = forecast_panel(series, [MODEL_CLASSES[m]() for m in components], h, fallback=Naive())
    if model == ENSEMBLE:
        fc = add_ensemble(fc, components, alias=ENSEMBLE)
    fc = fc[["unique_id", "ds", model]]
    sizes = series if sizes_from is None else sizes_from
    groups = size_classes_at(fc, sizes, cal["size_bounds"]) if calibration.by_group else None
    fc = apply_conformal(fc, model, calibration, groups)
    fc = floor_live_forecast(fc, model)
    rename = {model: "mean"}
    for lv in cal["levels"]:
        rename[f"{model}-lo-{lv}"] = f"lo_{lv}"
        rename[f"{model}-hi-{lv}"] = f"hi_{lv}"
    out = fc.rename(columns=rename)
    cols = ["mean", *[f"{s}_{lv}" for lv in cal["levels"] for s in ("lo", "hi")]]
    return out[["unique_id", "ds", *cols]].reset_index(drop=True)


class ChampionForecaster(mlflow.pyfunc.PythonModel):
    """The chosen forecaster: refits on the stored history, applies the stored calibration.

    Artifacts: ``history`` (CSV ``unique_id, ds, y``) and ``spec`` (JSON from
    :func:`champion_spec`). ``predict`` takes a frame with a ``horizon`` column (int, the
    first row is used) and an optional ``unique_id`` column (forecast only those series).
    """

    def load_context(self, context):
        """Read the history and the spec."""
        self.history = pd.read_csv(context.artifacts["history"])
        self.spec = json.loads(Path(context.artifacts["spec"]).read_text(encoding="utf-8"))

    # A DataFrame hint: MLflow infers no schema from it (so no input validation of this
    # free-form "horizon"/"unique_id" frame) and stops warning about a missing hint.
    def predict(
        self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None
    ) -> pd.DataFrame:
        """Partner forecasts ``unique_id, ds, mean, lo_80, hi_80, lo_95, hi_95``."""
        frame = pd.DataFrame(model_input)
        if "horizon" not in frame.columns or frame.empty:
            raise ValueError("model_input needs a 'horizon' column with at least one row")
        h = int(frame["horizon"].iloc[0])
        if h < 1:
            raise ValueError(f"horizon must be at least 1, got {h}")
        series = self.history
        if "unique_id" in frame.columns and frame["unique_id"].notna().any():
            wanted = set(frame["unique_id"].dropna().astype(str))
            unknown = sorted(wanted - set(series["unique_id"]))
            if unknown:
                raise ValueError(f"unknown unique_id(s) {unknown}")
            series = series[series["unique_id"].isin(wanted)]
        return forecast_champion(series, self.spec, h, sizes_from=self.history)


def pip_requirements() -> list[str]:
    """The model's requirements: the installed project and its model-side libraries.

    Given explicitly, because letting MLflow infer them loads the model in a subprocess.
    """
    from importlib import metadata

    names = ["mlflow", "pandas", "numpy", "statsmodels", "scipy", "exportcast"]
    out = []
    for name in names:
        try:
            out.append(f"{name}=={metadata.version(name)}")
        except metadata.PackageNotFoundError:
            continue
    return out


def log_champion(
    mlrun: TrackedRun,
    engine: EngineResult,
    series: pd.DataFrame,
    *,
    candidates: Sequence[str],
    registered_model: str,
    alias: str = "champion",
    tags: dict[str, Any] | None = None,
) -> str:
    """Log the chosen forecaster as a pyfunc model of ``mlrun`` and register it under ``alias``.

    Args:
        mlrun: The open parent run.
        engine: The engine's result (chosen model, live forecast with intervals).
        series: The training series ``unique_id, ds, y`` (stored as the model's history).
        candidates: The run's candidate models (the components of an ``Ensemble``).
        registered_model: Registry name, e.g. ``exportcast-KOR-forecaster``.
        alias: Registry alias moved to the new version.
        tags: Extra tags of the model version.

    Returns:
        The new model version.
    """
    spec = champion_spec(engine, candidates)
    with tempfile.TemporaryDirectory() as tmp:
        history = Path(tmp) / "history.csv"
        series[["unique_id", "ds", "y"]].to_csv(history, index=False, float_format="%.17g")
        spec_file = Path(tmp) / "spec.json"
        spec_file.write_text(json.dumps(spec, indent=2), encoding="utf-8")
        return mlrun.log_pyfunc(
            ChampionForecaster(),
            name="forecaster",
            artifacts={"history": str(history), "spec": str(spec_file)},
            registered_model=registered_model,
            alias=alias,
            pip_requirements=pip_requirements(),
            tags={**(tags or {}), "selected_model": engine.model},
        )
