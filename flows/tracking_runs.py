"""Finished MLflow runs: the runs table, the newest run with an artifact, downloads, attachments."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from exportcast.flows.tracking_store import Store, TrackingError, mlflow_client, store_lock

if TYPE_CHECKING:
    from mlflow import MlflowClient

__all__ = ["download_folder", "latest_run_with", "log_artifacts", "recent_runs"]


def log_artifacts(store: Store, run_id: str, folders: Mapping[str, Sequence[Path]]) -> None:
    """Attach files to a run (finished or not) under artifact folders.

    Args:
        store: The tracking store.
        run_id: The run.
        folders: Artifact folder -> local files to put there.
    """
    client = mlflow_client(store)
    for folder, paths in folders.items():
        for path in paths:
            client.log_artifact(run_id, str(path), artifact_path=folder)


def _get_run(client: MlflowClient, store: Store, run_id: str) -> Any:
    from mlflow.exceptions import MlflowException

    try:
        return client.get_run(run_id)
    except MlflowException as exc:
        raise TrackingError(f"no MLflow run {run_id!r} in {store.display}") from exc


def latest_run_with(store: Store, experiment: str, artifact: str) -> str:
    """The newest FINISHED run of an experiment that has the given artifact file.

    Raises:
        TrackingError: No such experiment or run.
    """
    client = mlflow_client(store)
    found = client.get_experiment_by_name(experiment)
    if found is None:
        raise TrackingError(f"no MLflow experiment {experiment!r} in {store.display}")
    runs = client.search_runs(
        [found.experiment_id],
        filter_string="attributes.status = 'FINISHED'",
        order_by=["attributes.start_time DESC"],
        max_results=50,
    )
    folder, _, name = artifact.rpartition("/")
    for run in runs:
        if "mlflow.parentRunId" in run.data.tags:
            continue
        listed = {Path(f.path).name for f in client.list_artifacts(run.info.run_id, folder)}
        if name in listed:
            return run.info.run_id
    raise TrackingError(
        f"no finished run in {experiment!r} ({store.display}) has {artifact}; "
        "run 'exportcast run' first"
    )


def download_folder(store: Store, run_id: str, folder: str, dest: Path) -> Path:
    """Download an artifact folder of a run into ``dest`` and return the local folder.

    Raises:
        TrackingError: Unknown run, or the run has no such folder.
    """
    client = mlflow_client(store)
    _get_run(client, store, run_id)
    if not client.list_artifacts(run_id, folder):
        raise TrackingError(
            f"MLflow run {run_id} has no {folder}/ artifacts (runs before the report existed, "
            "or runs without forecasts, cannot be re-reported)"
        )
    return Path(client.download_artifacts(run_id, folder, str(dest)))


def recent_runs(store: Store, experiment: str, limit: int = 10) -> list[dict[str, Any]]:
    """The latest top-level runs of an experiment (one per job, not the nested ones), newest first.

    Args:
        store: The tracking store.
        experiment: Experiment name.
        limit: At most this many runs.

    Returns:
        One dict per run: ``run_id``, ``start`` (local datetime), ``status``, ``data_vintage``,
        ``config_hash``, ``code_version``, ``last_year``, ``dependence_share`` (its value in
        the last history year, None when not logged), ``dependence_forecast`` and
        ``forecast_year`` (the central forecast in the last forecast year; None without
        forecasts). Empty when the store or the experiment does not exist yet.
    """
    if store.db_path is not None and not store.db_path.exists():
        return []
    with store_lock(store):
        client = mlflow_client(store)
        found = client.get_experiment_by_name(experiment)
    if found is None:
        return []
    # top-level runs only: each job's nested model and scenario runs are part of it
    runs = client.search_runs(
        [found.experiment_id],
        filter_string="tags.mlflow.parentRunId IS NULL",
        order_by=["attributes.start_time DESC"],
        max_results=limit,
    )
    out = []
    for run in runs:
        tags, metrics = run.data.tags, run.data.metrics
        forecast = metrics.get("dependence_share_forecast")
        horizon, last = run.data.params.get("horizon"), tags.get("last_year")
        ahead = int(last) + int(horizon) if forecast is not None and horizon and last else None
        out.append(
            {
                "run_id": run.info.run_id,
                "start": datetime.fromtimestamp(run.info.start_time / 1000),
                "status": run.info.status,
                "data_vintage": tags.get("data_vintage"),
                "config_hash": tags.get("config_hash"),
                "code_version": tags.get("code_version"),
                "last_year": tags.get("last_year"),
                # MLflow reports the value at the largest step: the last history year.
                "dependence_share": metrics.get("dependence_share"),
                # the forecast metric's largest step is the last forecast year
                "dependence_forecast": forecast,
                "forecast_year": ahead,
            }
        )
    return out
