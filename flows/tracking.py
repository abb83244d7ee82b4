"""MLflow runs of a job: open one, log to it, end it FINISHED, FAILED or KILLED.

One experiment per reporter (``exportcast-KOR``), one run per pipeline run
(:func:`tracked_run`), nested runs per model and scenario (:meth:`TrackedRun.nested_run`).
The store and its redaction are :mod:`flows.tracking_store`; querying finished runs is
:mod:`flows.tracking_runs`; the MLflow UI server is :mod:`flows.tracking_ui`.

The ``flows/tracking*.py`` modules import mlflow, and :mod:`flows.champion`, which defines the
pyfunc ``PythonModel`` of the registered forecaster (MLflow pickles that class by reference, so
it lives in a module of its own that loading code can import).
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import tempfile
import time
import warnings
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from exportcast.flows.tracking_store import (
    MAX_TAG_CHARS,
    RunRecord,
    Store,
    ensure_experiment,
    flatten_params,
    mlflow_client,
    redact_tags,
    store_lock,
    strip_userinfo,
)

if TYPE_CHECKING:
    from mlflow import MlflowClient

__all__ = ["TrackedRun", "tracked_run"]

_BATCH_METRICS = 1000  # MLflow's limit per log_batch call (metrics, params and tags together)
_BATCH_PARAMS = 100


class TrackedRun:
    """An open MLflow run: log index paths, tables and figures into it."""

    def __init__(self, client: MlflowClient, record: RunRecord) -> None:
        self._client = client
        self.record = record
        self._pending: tuple[list[Any], list[Any]] | None = None  # metrics, params (batched)

    @contextlib.contextmanager
    def batched(self) -> Iterator[None]:
        """Send the metrics and params logged in the block together, at its end.

        Each ``log_batch`` call costs the SQLite store about 13 ms whatever it holds (the run
        read, checked, committed); a nested run logged its scores, series and params in two to
        four calls. In the block they are sent in as few calls as MLflow allows (1,000 entities,
        100 params each), also when the block raises (what was logged before the error is
        kept, as without the block). Nested blocks: the outermost sends.
        """
        if self._pending is not None:
            yield
            return
        self._pending = ([], [])
        try:
            yield
        except BaseException:
            with contextlib.suppress(Exception):  # the block's own error is the one to see
                self._flush()
            raise
        self._flush()

    def _flush(self) -> None:
        pending, self._pending = self._pending, None
        if pending is not None:
            self._send(*pending)

    def _log(self, metrics: list[Any], params: list[Any]) -> None:
        if self._pending is None:
            self._send(metrics, params)
            return
        pending_metrics, pending_params = self._pending
        if {p.key for p in params} & {p.key for p in pending_params}:
            # a key logged twice goes in a call of its own, as without batching
            self._send(pending_metrics, pending_params)
            pending_metrics.clear()
            pending_params.clear()
        pending_metrics.extend(metrics)
        pending_params.extend(params)

    def _send(self, metrics: list[Any], params: list[Any]) -> None:
        while metrics or params:
            batch_params, params = params[:_BATCH_PARAMS], params[_BATCH_PARAMS:]
            room = _BATCH_METRICS - len(batch_params)
            batch_metrics, metrics = metrics[:room], metrics[room:]
            self._client.log_batch(self.run_id, metrics=batch_metrics, params=batch_params)

    @property
    def run_id(self) -> str:
        """The MLflow run id."""
        return self.record.run_id

    def log_series(self, frame: pd.DataFrame, columns: Sequence[str], *, step: str) -> int:
        """Log columns of a frame as metrics, one point per row with ``step`` = that column.

        Args:
            frame: One row per step (e.g. per year).
            columns: Metric columns; each becomes a metric of the same name.
            step: The integer column used as MLflow step (e.g. ``year``).

        Returns:
            The number of points logged (missing values are skipped).
        """
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        points = [
            Metric(key=col, value=float(value), timestamp=now, step=int(at))
            for col in columns
            for at, value in zip(frame[step], frame[col], strict=True)
            if value is not None and not math.isnan(float(value))
        ]
        self._log(points, [])
        return len(points)

    def log_metrics(self, metrics: Mapping[str, float]) -> None:
        """Log scalar metrics (NaN values are skipped)."""
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        points = [
            Metric(key=k, value=float(v), timestamp=now, step=0)
            for k, v in metrics.items()
            if v is not None and not math.isnan(float(v))
        ]
        self._log(points, [])

    def set_tags(self, tags: Mapping[str, str]) -> None:
        """Set run tags (values redacted like every other tag)."""
        for k, v in redact_tags(tags).items():
            self._client.set_tag(self.run_id, k, v)

    def log_table(self, frame: pd.DataFrame, name: str) -> None:
        """Log a frame as a CSV artifact ``name``."""
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / name
            frame.to_csv(path, index=False, float_format="%.10g", lineterminator="\n")
            self._client.log_artifact(self.run_id, str(path))

    def log_params(self, params: Mapping[str, Any]) -> None:
        """Log parameters (flattened and redacted like the config)."""
        from mlflow.entities import Param

        self._log([], [Param(k, v) for k, v in flatten_params(params).items()])

    def log_dict(self, data: Mapping[str, Any], name: str) -> None:
        """Log a JSON-serialisable mapping as the artifact ``name`` (e.g. ``meta.json``)."""
        self._client.log_dict(self.run_id, dict(data), name)

    def log_dataset(self, vintage: str, source: str) -> None:
        """Record the data vintage as the run's input dataset (the UI's Dataset column)."""
        from mlflow.entities import Dataset, DatasetInput, InputTag

        dataset = Dataset(name=f"exportcast-data-{vintage}", digest=vintage,
                          source_type="local", source=source)  # fmt: skip
        tag = InputTag(key="mlflow.data.context", value="training")
        self._client.log_inputs(self.run_id, datasets=[DatasetInput(dataset, tags=[tag])])

    def log_bytes(self, data: bytes, name: str) -> None:
        """Log bytes as the artifact file ``name`` (e.g. a rendered ``plot.png``)."""
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / name
            path.write_bytes(data)
            self._client.log_artifact(self.run_id, str(path))

    @contextlib.contextmanager
    def nested_run(
        self, run_name: str, *, tags: Mapping[str, Any] | None = None
    ) -> Iterator[TrackedRun]:
        """Open a child run of this one (tag ``mlflow.parentRunId``), ended like the parent.

        Args:
            run_name: Display name of the child run.
            tags: Its tags (redacted like every other tag).

        Yields:
            The open child run; it ends FINISHED, or FAILED/KILLED when the body raises.
        """
        record = self.record
        tags = {**redact_tags(tags or {}), "mlflow.parentRunId": record.run_id}
        run = self._client.create_run(record.experiment_id, tags=tags, run_name=run_name)
        child = RunRecord(run.info.run_id, record.experiment, record.experiment_id, record.uri)
        with _terminating(self._client, child.run_id):
            tracked = TrackedRun(self._client, child)
            with tracked.batched():  # its scores, series and params in one call or few
                yield tracked

    def log_pyfunc(
        self,
        python_model: Any,
        *,
        name: str,
        artifacts: Mapping[str, str],
        registered_model: str,
        alias: str,
        pip_requirements: Sequence[str],
        tags: Mapping[str, Any] | None = None,
    ) -> str:
        """Log a pyfunc model as an output of this run, register it and point ``alias`` at it.

        MLflow 3 logs models as LoggedModels (``models:/<model_id>``) rather than run
        artifacts; this one is created with ``source_run_id`` = this run and linked as the
        run's output, then registered as a new version of ``registered_model``.

        Args:
            python_model: A ``mlflow.pyfunc.PythonModel`` instance.
            name: The logged model's name.
            artifacts: Files the model carries (``{key: local path}``).
            registered_model: Name in the model registry (created when missing).
            alias: Registry alias moved to the new version (e.g. ``champion``).
            pip_requirements: The model's requirements, given explicitly (inferring them
                would load the model in a subprocess, which takes seconds) as pins of this
                very environment (``flows.champion.pip_requirements``): MLflow's check that
                they match it is skipped (:func:`_pins_of_this_environment`).
            tags: Tags of the model version (redacted like every other tag).

        Returns:
            The new model version.
        """
        import mlflow.pyfunc
        from mlflow.entities import LoggedModelOutput
        from mlflow.exceptions import MlflowException

        client, record = self._client, self.record
        logged = client.create_logged_model(
            record.experiment_id, name=name, source_run_id=record.run_id
        )
        client.log_outputs(record.run_id, [LoggedModelOutput(logged.model_id, step=0)])
        # mlflow.pyfunc.log_model writes, and the registry resolves a version's models:/ source,
        # through the global tracking URI: point it at this store for these calls only
        with (
            _global_tracking_uri(client.tracking_uri),
            _quiet_model_logging(),
            _pins_of_this_environment(),
        ):
            info = mlflow.pyfunc.log_model(
                name=name,
                python_model=python_model,
                artifacts=dict(artifacts),
                pip_requirements=list(pip_requirements),
                model_id=logged.model_id,
            )
            try:
                client.create_registered_model(registered_model)
            except MlflowException as exc:
                if exc.error_code != "RESOURCE_ALREADY_EXISTS":
                    raise
            version = client.create_model_version(
                registered_model,
                source=info.model_uri,
                run_id=record.run_id,
                tags=redact_tags(tags or {}),
                model_id=logged.model_id,
            )
        client.set_registered_model_alias(registered_model, alias, version.version)
        return str(version.version)


@contextlib.contextmanager
def _global_tracking_uri(uri: str) -> Iterator[None]:
    """Point MLflow's global tracking URI at ``uri``, then restore it and the environment.

    (``mlflow.set_tracking_uri`` also writes ``$MLFLOW_TRACKING_URI``, and MLflow's own
    temporary switch unsets that variable on the way out when no URI was set in code.)
    """
    import mlflow
    from mlflow.tracking._tracking_service import utils

    previous = getattr(utils, "_tracking_uri", None)
    with _restored_env("MLFLOW_TRACKING_URI"):
        mlflow.set_tracking_uri(uri)
        try:
            yield
        finally:
            mlflow.set_tracking_uri(previous)


@contextlib.contextmanager
def _restored_env(name: str) -> Iterator[None]:
    """Give the environment variable ``name`` back its value (or absence) on the way out."""
    before = os.environ.get(name)
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = before


@contextlib.contextmanager
def _pins_of_this_environment() -> Iterator[None]:
    """Skip MLflow's check that a model's pip requirements match this environment.

    ``log_model`` checks every requirement against the installed packages and only warns on a
    mismatch; finding a package's module scans every installed distribution's file list (0.6 s
    per process, in every run that logs a model). exportcast's requirements are read from the
    installed versions (``flows.champion.pip_requirements``), so they cannot mismatch. The
    check is MLflow's private ``mlflow.utils.environment.warn_dependency_requirement_mismatches``
    (pinned MLflow minor, see pyproject.toml); without that name nothing is changed.
    """
    from mlflow.utils import environment

    name = "warn_dependency_requirement_mismatches"
    before = getattr(environment, name, None)
    if before is None:
        yield
        return
    setattr(environment, name, lambda requirements: None)
    try:
        yield
    finally:
        setattr(environment, name, before)


@contextlib.contextmanager
def _quiet_model_logging() -> Iterator[None]:
    # log_model warns that a Python object is pickled (we do that on purpose: the class lives
    # in this installed package) and shows tqdm bars while it copies artifacts; neither helps
    # a cron log or `--quiet`.
    logger = logging.getLogger("mlflow.pyfunc")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with _restored_env("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"), warnings.catch_warnings():
            os.environ["MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"] = "false"
            warnings.simplefilter("ignore", UserWarning)
            yield
    finally:
        logger.setLevel(level)


@contextlib.contextmanager
def tracked_run(
    store: Store,
    experiment: str,
    *,
    run_name: str | None = None,
    tags: Mapping[str, Any] | None = None,
    params: Mapping[str, Any] | None = None,
) -> Iterator[TrackedRun]:
    """Open an MLflow run; it ends FINISHED, or FAILED (KILLED on Ctrl-C) when the body raises.

    Args:
        store: Where to record.
        experiment: Experiment name, created when missing.
        run_name: Display name of the run.
        tags: Run tags (redacted like parameters).
        params: Nested config, logged flattened by :func:`flatten_params`.

    Yields:
        The open run.
    """
    with store_lock(store):
        client = mlflow_client(store)
        experiment_id = ensure_experiment(client, store, experiment)
    run = client.create_run(experiment_id, tags=redact_tags(tags or {}), run_name=run_name)
    record = RunRecord(run.info.run_id, experiment, experiment_id, store.display)
    with _terminating(client, record.run_id):
        if params:
            from mlflow.entities import Param

            items = [Param(k, v) for k, v in flatten_params(params).items()]
            for i in range(0, len(items), _BATCH_PARAMS):
                client.log_batch(record.run_id, params=items[i : i + _BATCH_PARAMS])
        yield TrackedRun(client, record)


@contextlib.contextmanager
def _terminating(client: MlflowClient, run_id: str) -> Iterator[None]:
    """End the run FINISHED, or FAILED (KILLED on Ctrl-C) with an ``error`` tag on an error."""
    status = "FAILED"
    try:
        yield
        status = "FINISHED"
    except BaseException as exc:
        if not isinstance(exc, Exception):
            status = "KILLED"  # Ctrl-C, SystemExit, Prefect cancellation
        with contextlib.suppress(Exception):
            message = f"{type(exc).__name__}: {exc}"
            client.set_tag(run_id, "error", strip_userinfo(message)[:MAX_TAG_CHARS])
        raise
    finally:
        try:
            client.set_terminated(run_id, status=status)
        except Exception:
            # Never hide the run's own error behind a bookkeeping one.
            if status == "FINISHED":
                raise
