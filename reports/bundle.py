"""The report bundle: the one folder a policy report is built from.

The pipeline writes the bundle and logs it to MLflow; ``exportcast report --run-id`` downloads
it again. ``load_bundle`` reads and checks it so that a broken bundle fails with the file and
the column at fault instead of somewhere inside a chart.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from exportcast.features.errors import ExportcastError
from exportcast.models.fta_track_record import COLUMNS as FTA_TRACK_COLUMNS
from exportcast.models.index_backtest import INDEX_BACKTEST_COLUMNS
from exportcast.models.opportunities import OPPORTUNITY_COLUMNS, OPTIONAL_OPPORTUNITY_COLUMNS

__all__ = [
    "BUNDLE_FILES",
    "INDEX_BANDS",
    "META_KEYS",
    "OPTIONAL_FILES",
    "BundleError",
    "ReportBundle",
    "check_reporter_code",
    "load_bundle",
]

META_KEYS = [
    "reporter",
    "reporter_name",
    "dependence_set",
    "horizon",
    "first_year",
    "last_year",
    "levels",
    "dependence_threshold",
    "data_vintage",
    "config_hash",
    "code_version",
    "mlflow_run_id",
    "prefect_flow_run_id",
    "created_utc",
    "selected_model",
    "interval_coverage_backtest",
    "config",
    "sources",
]
# Forecast rows of concentration.csv carry <index>_lo_<level>/_hi_<level> for these (plus
# share_<ISO3> of every dependence-set partner).
INDEX_BANDS = ["hhi", "hhi_norm", "n_effective", "dependence_share"]
BUNDLE_FILES: dict[str, list[str]] = {
    "concentration.csv": [
        "reporter",
        "year",
        "kind",
        "hhi",
        "hhi_norm",
        "n_effective",
        "dependence_share",
        "p_dependence_below",
    ],
    "forecasts.csv": ["partner", "year", "mean"],
    "history.csv": ["reporter", "partner", "year", "export_usd"],
    "backtest_accuracy.csv": ["model", "MASE", "sMAPE", "relMASE"],
    "opportunities.csv": [c for c in OPPORTUNITY_COLUMNS if c not in OPTIONAL_OPPORTUNITY_COLUMNS],
}
# Absent or empty when no scenario is configured (the scenario files) or when the bundle comes
# from a run older than the file (index_backtest.csv).
OPTIONAL_FILES: dict[str, list[str]] = {
    "scenario_partners.csv": [
        "scenario",
        "origin",
        "partner",
        "year",
        "baseline_mean",
        "scenario_mean",
        "effect_pct",
        "ppml_effect_pct",
        "gbm_effect_pct",
        "ridge_effect_pct",
        "actual",
    ],
    "scenario_indices.csv": [
        "scenario",
        "origin",
        "year",
        "index",
        "baseline_p50",
        "scenario_p50",
        "diff_p50",
        "actual",
    ],
    "index_backtest.csv": INDEX_BACKTEST_COLUMNS,
    "fta_track_record.csv": FTA_TRACK_COLUMNS,  # runs with scenarios (docs/fta-gravity.md)
}
_FRAME_FIELDS = {
    "concentration.csv": "concentration",
    "forecasts.csv": "forecasts",
    "history.csv": "history",
    "backtest_accuracy.csv": "accuracy",
    "opportunities.csv": "opportunities",
    "scenario_partners.csv": "scenario_partners",
    "scenario_indices.csv": "scenario_indices",
    "index_backtest.csv": "index_backtest",
    "fta_track_record.csv": "fta_track_record",
}
# Partner and country codes are text: "NA" (Namibia) must not become NaN.
_TEXT = {"reporter": str, "partner": str, "model": str, "scenario": str, "index": str}


class BundleError(ExportcastError, ValueError):
    """A report bundle that is missing a file, a column or a key."""


@dataclass(frozen=True)
class ReportBundle:
    """Everything a report is built from: the run's metadata and its tables.

    Attributes:
        folder: Where the bundle was read from.
        meta: ``report.json``.
        concentration: Index history and forecasts (``kind`` history|forecast).
        forecasts: Partner forecasts with intervals (USD).
        history: Exports by partner for the recent history (USD).
        accuracy: Backtest accuracy per model.
        opportunities: Ranked diversification opportunities.
        scenario_partners: Scenario effects per partner (empty without scenarios).
        scenario_indices: Scenario effects on the indices (empty without scenarios).
        index_backtest: The dependence share computed from the backtest's partner forecasts
            per origin and target year, with the actual and the no-change share
            (:func:`models.index_backtest.index_backtest`; empty in older bundles).
        fta_track_record: The ex ante track record of the FTA effect on the reporter's past
            agreements (:func:`models.fta_track_record.track_record`; empty without scenarios
            and in older bundles).
    """

    folder: Path
    meta: dict[str, Any]
    concentration: pd.DataFrame
    forecasts: pd.DataFrame
    history: pd.DataFrame
    accuracy: pd.DataFrame
    opportunities: pd.DataFrame
    scenario_partners: pd.DataFrame = field(default_factory=pd.DataFrame)
    scenario_indices: pd.DataFrame = field(default_factory=pd.DataFrame)
    index_backtest: pd.DataFrame = field(default_factory=pd.DataFrame)
    fta_track_record: pd.DataFrame = field(default_factory=pd.DataFrame)

    @property
    def levels(self) -> list[int]:
        """Interval levels, e.g. ``[80, 95]``."""
        return [int(level) for level in self.meta["levels"]]

    @property
    def dependence_set(self) -> list[str]:
        """Partner codes of the dependence set."""
        return [str(code) for code in self.meta["dependence_set"]]

    @property
    def scenarios(self) -> list[dict[str, Any]]:
        """Scenario descriptions from ``report.json`` (empty list without scenarios)."""
        return list(self.meta.get("scenarios") or [])


def _read_csv(path: Path, required: list[str], *, optional: bool) -> pd.DataFrame:
    if not path.is_file():
        if optional:
            return pd.DataFrame({c: pd.Series(dtype="object") for c in required})
        raise BundleError(f"report bundle {path.parent}: file {path.name} is missing")
    if path.stat().st_size == 0:
        if optional:
            return pd.DataFrame({c: pd.Series(dtype="object") for c in required})
        raise BundleError(f"report bundle {path.parent}: file {path.name} is empty")
    header = pd.read_csv(path, nrows=0).columns
    dtype = {c: t for c, t in _TEXT.items() if c in header}
    frame = pd.read_csv(path, dtype=dtype, keep_default_na=False, na_values=[""])
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise BundleError(
            f"report bundle {path.parent}: {path.name} has no column {missing[0]!r}"
            + (f" (also missing: {', '.join(missing[1:])})" if len(missing) > 1 else "")
        )
    return frame


def _read_meta(folder: Path) -> dict[str, Any]:
    path = folder / "report.json"
    if not path.is_file():
        raise BundleError(f"report bundle {folder}: file report.json is missing")
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise BundleError(f"report bundle {folder}: report.json is not valid JSON: {exc}") from exc
    if not isinstance(meta, dict):
        raise BundleError(f"report bundle {folder}: report.json must hold a JSON object")
    missing = [k for k in META_KEYS if k not in meta]
    if missing:
        raise BundleError(f"report bundle {folder}: report.json has no key {missing[0]!r}")
    check_reporter_code(meta["reporter"], f"report bundle {folder}: report.json")
    return meta


_ISO3 = re.compile(r"[A-Z]{3}")


def check_reporter_code(value: Any, where: str) -> str:
    """``value`` if it is an ISO3 code (three capital letters); it becomes part of paths.

    Raises:
        BundleError: Anything else (``../..``, a path, lower case), naming ``where``.
    """
    if not isinstance(value, str) or not _ISO3.fullmatch(value):
        raise BundleError(
            f"{where}: key 'reporter': expected an ISO 3166-1 alpha-3 code such as 'KOR', "
            f"got {value!r}"
        )
    return value


def _band_columns(meta: dict[str, Any]) -> list[str]:
    names = [*INDEX_BANDS, *[f"share_{c}" for c in meta["dependence_set"]]]
    return [
        f"{name}_{side}_{int(level)}"
        for name in names
        for level in meta["levels"]
        for side in ("lo", "hi")
    ]


def load_bundle(folder: str | Path) -> ReportBundle:
    """Read and check a report bundle folder.

    Args:
        folder: The bundle folder (``report.json`` and the CSV files).

    Returns:
        The bundle's metadata and frames.

    Raises:
        BundleError: A missing file, key or column; the message names the file and the column.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise BundleError(f"report bundle {folder}: folder not found")
    meta = _read_meta(folder)
    levels = [int(level) for level in meta["levels"]]
    required = {name: list(cols) for name, cols in BUNDLE_FILES.items()}
    dep_shares = [f"share_{c}" for c in meta["dependence_set"]]
    required["concentration.csv"] += [*dep_shares, *_band_columns(meta)]
    required["forecasts.csv"] += [f"{side}_{lv}" for lv in levels for side in ("lo", "hi")]
    frames = {
        _FRAME_FIELDS[name]: _read_csv(folder / name, cols, optional=False)
        for name, cols in required.items()
    }
    for name, cols in OPTIONAL_FILES.items():
        frames[_FRAME_FIELDS[name]] = _read_csv(folder / name, cols, optional=True)
    conc = frames["concentration"]
    if not (conc["kind"] == "forecast").any() or not (conc["kind"] == "history").any():
        raise BundleError(
            f"report bundle {folder}: concentration.csv needs both history and forecast rows"
        )
    return ReportBundle(folder=folder, meta=meta, **frames)
