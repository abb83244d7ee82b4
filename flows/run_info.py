"""What a pipeline run is and what it produced: :class:`RunInfo`, :class:`RunResult`, :class:`OutputFolder`."""

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from exportcast.flows import tracking_store

__all__ = ["OutputFolder", "RunInfo", "RunResult"]


@dataclass(frozen=True)
class OutputFolder:
    """What :func:`flows.outputs.write_outputs` left in the output folder.

    Attributes:
        path: The folder (``outputs/<reporter>``).
        files: The data files this run wrote (``run.json`` not included).
        removed: Files of an earlier run that this run does not write, deleted so that the
            folder holds one run's outputs only (the earlier run's MLflow artifacts keep them).
    """

    path: Path
    files: list[str]
    removed: list[Path]


@dataclass(frozen=True)
class RunResult:
    """What a run produced."""

    concentration: pd.DataFrame
    output_dir: Path
    vintage: str
    config_hash: str
    mlflow_run_id: str | None = None
    flow_run_id: str | None = None
    cached: tuple[str, ...] = ()
    stages: tuple[tuple[str, float, bool], ...] = ()
    """``(stage, wall seconds, from cache)`` in order (runs started by :func:`run_pipeline`)."""


@dataclass(frozen=True)
class RunInfo:
    """Identity of one run: what went in, which code, where it is tracked and written."""

    reporter: str
    dependence_set: tuple[str, ...]
    vintage: str
    config_hash: str
    code_version: str
    cache_key: str | None
    flow_run_id: str | None
    flow_run_name: str | None
    config: dict[str, Any]
    store: tracking_store.Store
    experiment: str
    output_dir: Path

    @property
    def tags(self) -> dict[str, str | None]:
        """MLflow run tags."""
        return {
            "reporter": self.reporter,
            "data_vintage": self.vintage,
            "config_hash": self.config_hash,
            "code_version": self.code_version,
            "prefect_flow_run_id": self.flow_run_id,
            "prefect_flow_run_name": self.flow_run_name,
        }
