"""Prefect flows of the data update: ``update-data``, and the scheduled update-then-forecast.

``update_data`` is ``exportcast update`` as a flow (inbox files plus optional fetches ->
a new vintage, or "no new data", or a quarantined release). ``update_then_forecast`` is what
``exportcast serve`` deploys as ``forecast-exports/<reporter>``: it runs ``update-data`` as a
subflow, then the main job in the same flow run (so the MLflow run carries this flow run's
id, as before). A failed update does not stop the forecast: it runs on the vintage that stayed
active, and the run's log says so; with no new data the forecast's cache key (data vintage,
config, code) is unchanged and its heavy stages are reused.
"""

# No ``from __future__ import annotations``: Prefect resolves the annotations of a deployed
# flow's parameters in the runner's subprocess (see flows/pipeline.py).
from typing import Any

import pandas as pd
from prefect import flow
from prefect.logging import get_run_logger

from exportcast.configs import RunConfig
from exportcast.features.changes import headline_move
from exportcast.flows.pipeline import _stop_workers_of_deployed_run, forecast_exports
from exportcast.flows.run_info import RunResult

__all__ = ["record_update", "update_data", "update_then_forecast"]


@flow(name="update-data")
def update_data(config: RunConfig, fetch: list[str] | None = None) -> dict[str, Any]:
    """Make a new data vintage from the inbox (and ``fetch`` sources), as a Prefect flow.

    Returns:
        ``status`` ("new", "no new data", "nothing to do", "failed"), ``active``,
        ``previous``, ``message`` and the summary ``lines``.
    """
    from exportcast.flows.update import country_names, run_update

    logger = get_run_logger()
    fetched: list = []
    if fetch:
        from exportcast.flows.connectors import ConnectorError, fetch_sources

        try:
            fetched = fetch_sources(
                fetch, reporter=config.reporter, years=None,
                names=country_names(config.data), log=logger.info,
            )  # fmt: skip
        except ConnectorError as exc:
            logger.warning("fetch failed, no new vintage: %s", exc)
            return {"status": "failed", "message": str(exc), "lines": []}
    outcome = run_update(config.data, fetched=fetched, log=logger.info)
    for line in outcome.lines:
        logger.info(line)
    (logger.warning if outcome.exit_code else logger.info)(outcome.message)
    return {
        "status": outcome.status,
        "active": outcome.active,
        "previous": outcome.previous,
        "message": outcome.message,
        "lines": outcome.lines,
    }


def _last_forecast(run: dict[str, Any]) -> pd.DataFrame:
    return pd.DataFrame({"kind": ["forecast"], "year": [run["forecast_year"]],
                         "dependence_share": [run["dependence_forecast"]]})  # fmt: skip


def record_update(config: RunConfig, result: RunResult, update: dict[str, Any]) -> dict[str, Any]:
    """Attach the update to the run's MLflow record: what changed and how the headline moved.

    Tags ``data_update`` (the update's status) and ``previous_data_vintage`` (of the previous
    run); with a new vintage the artifact ``what_changed.csv`` (``features/changes.py``, kept
    in the vintage as ``changes.csv``); with forecasts in both runs the metrics
    ``headline_previous`` and ``headline_change_pp`` (China + US share in the last forecast
    year, previous run vs this one).

    Returns:
        What was recorded (``tags``, ``metrics``, ``artifact``).
    """
    from mlflow import MlflowClient

    from exportcast.flows import tracking_runs, tracking_store
    from exportcast.flows.update import CHANGES_NAME
    from exportcast.flows.vintages import resolve_vintage

    if result.mlflow_run_id is None:
        return {}
    store = tracking_store.resolve_store(config.tracking.uri, config.tracking.artifacts)
    experiment = config.tracking.experiment.format(reporter=config.reporter)
    runs = tracking_runs.recent_runs(store, experiment, limit=3)
    this = next((r for r in runs if r["run_id"] == result.mlflow_run_id), None)
    prev = next((r for r in runs if r["start"] < (this or runs[0])["start"]), None)
    tags = {"data_update": str(update.get("status"))}
    metrics: dict[str, float] = {}
    if prev is not None:
        tags["previous_data_vintage"] = str(prev["data_vintage"])
        if this and prev["dependence_forecast"] is not None and this["dependence_forecast"]:
            move = headline_move(_last_forecast(prev), _last_forecast(this))
            metrics["headline_previous"] = move["previous_share"]
            metrics["headline_change_pp"] = move["change_pp"]
    client = MlflowClient(tracking_uri=store.uri)
    for key, value in tags.items():
        client.set_tag(result.mlflow_run_id, key, value)
    for key, value in metrics.items():
        client.log_metric(result.mlflow_run_id, key, value)
    artifact = None
    if update.get("status") == "new":
        data = config.data
        _, folder = resolve_vintage(result.vintage, data.vintages_dir, data.snapshot_dir)
        if (folder / CHANGES_NAME).is_file():
            target = folder / CHANGES_NAME
            tracking_runs.log_artifacts(store, result.mlflow_run_id, {"what_changed": [target]})
            artifact = f"what_changed/{CHANGES_NAME}"
    return {"tags": tags, "metrics": metrics, "artifact": artifact}


@flow(
    name="forecast-exports",
    on_completion=[_stop_workers_of_deployed_run],
    on_failure=[_stop_workers_of_deployed_run],
    on_cancellation=[_stop_workers_of_deployed_run],
)
def update_then_forecast(config: RunConfig, fetch: list[str] | None = None) -> RunResult:
    """The scheduled job: ``update-data``, then the main job on the (new) active vintage."""
    update = update_data(config, fetch)
    logger = get_run_logger()
    if update["status"] in ("no new data", "nothing to do"):
        logger.info("no new data: the forecast reuses the cached stages of this vintage")
    result = forecast_exports.fn(config)
    recorded = record_update(config, result, update)
    logger.info("recorded the data update in MLflow: %s", recorded)
    return result
