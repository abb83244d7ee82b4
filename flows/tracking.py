"""MLflow tracking: the only module that imports mlflow.

One experiment per reporter (``exportcast-KOR``), one run per pipeline run. The store is a
SQLite database, ``sqlite:///<project>/mlruns/mlflow.db`` with artifacts in
``<project>/mlruns/artifacts`` (MLflow 3.17 refuses the plain file store), unless
``tracking.uri`` in the config or ``$MLFLOW_TRACKING_URI`` names another one, e.g. an MLflow
server. Relative SQLite paths resolve against the project, so every working directory sees the
same store.

Nothing secret reaches MLflow: parameters and tags whose names look like credentials are
redacted, and user:password parts of URLs are dropped.

Two modules import mlflow: this one, and :mod:`flows.champion`, which defines the pyfunc
``PythonModel`` of the registered forecaster (MLflow pickles that class by reference, so it
lives in a module of its own that loading code can import).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import math
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

import pandas as pd

from features.errors import ExportcastError
from flows.io import PROJECT_ROOT

if TYPE_CHECKING:
    from matplotlib.figure import Figure
    from mlflow import MlflowClient

__all__ = [
    "DEFAULT_DB",
    "REDACTED",
    "RunRecord",
    "Store",
    "TrackedRun",
    "TrackingError",
    "dependence_figure",
    "download_file",
    "download_folder",
    "flatten_params",
    "latest_run_with",
    "log_artifacts",
    "recent_runs",
    "redact_tags",
    "resolve_store",
    "run_ui_server",
    "server_command",
    "tracked_run",
]

DEFAULT_DB = PROJECT_ROOT / "mlruns" / "mlflow.db"
REDACTED = "[redacted]"
# Names of settings that hold credentials: *_key, *token*, *password*, *secret*, ...
_SECRET_NAME = re.compile(
    r"(^|[_.-])key$|apikey|token|passw(or)?d|passwd|secret|credential|auth|private", re.I
)
_MAX_PARAM_CHARS = 6000  # MLflow's limit for one parameter value
_MAX_TAG_CHARS = 5000
_BATCH_METRICS = 1000  # MLflow's limit per log_batch call
_BATCH_PARAMS = 100


class TrackingError(ExportcastError, RuntimeError):
    """The tracking store is unusable (wrong kind of URI, deleted experiment, ...)."""


@dataclass(frozen=True)
class Store:
    """A resolved tracking store.

    Attributes:
        uri: Tracking URI, absolute for SQLite.
        artifacts: Artifact root for new experiments (SQLite stores); None lets a tracking
            server decide.
    """

    uri: str
    artifacts: str | None = None

    @property
    def db_path(self) -> Path | None:
        """The SQLite file of a local store, else None."""
        if not self.uri.startswith("sqlite:///"):
            return None
        return Path(self.uri.removeprefix("sqlite:///"))

    @property
    def display(self) -> str:
        """The URI without user:password, for messages and tags."""
        return _strip_userinfo(self.uri)


@dataclass(frozen=True)
class RunRecord:
    """Where a finished MLflow run lives."""

    run_id: str
    experiment: str
    experiment_id: str
    uri: str


def resolve_store(uri: str | None = None, artifacts: str | Path | None = None) -> Store:
    """Pick the tracking store: ``uri``, else ``$MLFLOW_TRACKING_URI``, else the project's.

    Args:
        uri: A tracking URI from the config (``tracking.uri``), or None.
        artifacts: Artifact root for a SQLite store; None puts ``artifacts/`` next to the
            database file. Ignored for tracking servers (they decide).

    Returns:
        The store, with SQLite paths made absolute (relative ones against the project).

    Raises:
        TrackingError: The URI is a plain folder or ``file:`` store, or an in-memory SQLite.
    """
    uri = uri or os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{DEFAULT_DB}"
    scheme = urlsplit(uri).scheme
    if scheme in ("", "file") or (len(scheme) == 1 and uri[1:3] == ":\\"):
        raise TrackingError(
            f"tracking URI {uri!r} is a plain file store, which MLflow 3.17+ refuses; use "
            "sqlite:///path/to/mlflow.db or an http(s):// MLflow server"
        )
    if scheme != "sqlite":
        return Store(uri=uri)
    if not uri.startswith("sqlite:///") or uri in ("sqlite:///", "sqlite:///:memory:"):
        raise TrackingError(f"tracking URI {uri!r}: expected sqlite:///path/to/mlflow.db")
    db = _project_path(uri.removeprefix("sqlite:///"))
    root = _project_path(artifacts) if artifacts is not None else db.parent / "artifacts"
    return Store(uri=f"sqlite:///{db}", artifacts=str(root))


def _project_path(path: str | Path) -> Path:
    path = Path(path).expanduser()
    return (path if path.is_absolute() else PROJECT_ROOT / path).resolve()


def _strip_userinfo(text: str) -> str:
    parts = urlsplit(text)
    if not parts.netloc or "@" not in parts.netloc:
        return text
    return urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))


def _redact(name: str, value: Any) -> str:
    if _SECRET_NAME.search(name):
        return REDACTED
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return _strip_userinfo(text)


def flatten_params(data: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    """Flatten a nested config into MLflow parameters ``section.key -> text``, secrets redacted.

    Args:
        data: The config as JSON-like data (``model_dump(mode="json")``).
        prefix: Prepended to every name (used for recursion).

    Returns:
        Parameter names and values; lists become JSON, values of credential-like names
        (``*_key``, ``*token*``, ``*password*``, ``*secret*``, ...) become ``[redacted]``, and
        URLs lose their user:password part.
    """
    out: dict[str, str] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and not _SECRET_NAME.search(str(key)):
            out.update(flatten_params(value, f"{name}."))
        else:
            out[name] = _redact(str(key), value)[:_MAX_PARAM_CHARS]
    return out


def redact_tags(tags: Mapping[str, Any]) -> dict[str, str]:
    """Tags as text, with the same redaction as parameters."""
    return {k: _redact(k, v)[:_MAX_TAG_CHARS] for k, v in tags.items() if v is not None}


@contextlib.contextmanager
def _store_lock(store: Store) -> Iterator[None]:
    # Two processes opening a new SQLite store at once would both run MLflow's schema
    # migrations; a lock next to the database serialises the first open.
    db = store.db_path
    if db is None:
        yield
        return
    db.parent.mkdir(parents=True, exist_ok=True)
    with open(db.with_name(db.name + ".lock"), "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _client(store: Store) -> MlflowClient:
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=store.uri)


def _experiment_id(client: MlflowClient, store: Store, name: str) -> str:
    from mlflow.exceptions import MlflowException

    experiment = client.get_experiment_by_name(name)
    if experiment is None:
        location = str(Path(store.artifacts) / name) if store.artifacts else None
        try:
            return client.create_experiment(name, artifact_location=location)
        except MlflowException:  # created by a concurrent run in between
            experiment = client.get_experiment_by_name(name)
            if experiment is None:
                raise
    if experiment.lifecycle_stage != "active":
        raise TrackingError(
            f"MLflow experiment {name!r} in {store.display} is deleted; restore it with "
            f"'mlflow experiments restore --experiment-id {experiment.experiment_id}' or set "
            "tracking.experiment"
        )
    return experiment.experiment_id


class TrackedRun:
    """An open MLflow run: log index paths, tables and figures into it."""

    def __init__(self, client: MlflowClient, record: RunRecord) -> None:
        self._client = client
        self.record = record

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
        for i in range(0, len(points), _BATCH_METRICS):
            self._client.log_batch(self.run_id, metrics=points[i : i + _BATCH_METRICS])
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
        for i in range(0, len(points), _BATCH_METRICS):
            self._client.log_batch(self.run_id, metrics=points[i : i + _BATCH_METRICS])

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

        items = [Param(k, v) for k, v in flatten_params(params).items()]
        for i in range(0, len(items), _BATCH_PARAMS):
            self._client.log_batch(self.run_id, params=items[i : i + _BATCH_PARAMS])

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

    def log_figure(self, figure: Figure, name: str) -> None:
        """Log a matplotlib figure as an image artifact ``name`` (e.g. ``plot.png``)."""
        self._client.log_figure(self.run_id, figure, name)

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
            yield TrackedRun(self._client, child)

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
                would load the model in a subprocess, which takes seconds).
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
        with _global_tracking_uri(client.tracking_uri), _quiet_model_logging():
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
    with _store_lock(store):
        client = _client(store)
        experiment_id = _experiment_id(client, store, experiment)
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
            client.set_tag(run_id, "error", _strip_userinfo(message)[:_MAX_TAG_CHARS])
        raise
    finally:
        try:
            client.set_terminated(run_id, status=status)
        except Exception:
            # Never hide the run's own error behind a bookkeeping one.
            if status == "FINISHED":
                raise


def log_artifacts(store: Store, run_id: str, folders: Mapping[str, Sequence[Path]]) -> None:
    """Attach files to a run (finished or not) under artifact folders.

    Args:
        store: The tracking store.
        run_id: The run.
        folders: Artifact folder -> local files to put there.
    """
    client = _client(store)
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
    client = _client(store)
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
    client = _client(store)
    _get_run(client, store, run_id)
    if not client.list_artifacts(run_id, folder):
        raise TrackingError(
            f"MLflow run {run_id} has no {folder}/ artifacts (runs before the report existed, "
            "or runs without forecasts, cannot be re-reported)"
        )
    return Path(client.download_artifacts(run_id, folder, str(dest)))


def download_file(store: Store, run_id: str, path: str, dest: Path) -> Path:
    """Download one artifact file of a run (e.g. ``forecasts.csv``) into the folder ``dest``.

    Raises:
        TrackingError: Unknown run, no such artifact, or the store failed to hand it over.
    """
    from mlflow.exceptions import MlflowException

    client = _client(store)
    folder, _, name = path.rpartition("/")
    try:
        listed = {Path(f.path).name for f in client.list_artifacts(run_id, folder or None)}
        if name not in listed:
            raise TrackingError(f"MLflow run {run_id} has no artifact {path}")
        with _restored_env("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"):  # no bars in a cron log
            os.environ["MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"] = "false"
            return Path(client.download_artifacts(run_id, path, str(dest)))
    except (MlflowException, OSError) as exc:
        raise TrackingError(f"MLflow run {run_id}: cannot read artifact {path}: {exc}") from exc


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
    with _store_lock(store):
        client = _client(store)
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


def server_command(store: Store, *, host: str = "127.0.0.1", port: int = 5000) -> list[str]:
    """The ``mlflow server`` command line that shows a local store in the browser.

    Raises:
        TrackingError: The store is a tracking server already (open its URL instead).
    """
    if store.db_path is None:
        raise TrackingError(
            f"the tracking store {store.display} is an MLflow server already; open it in a browser"
        )
    return [
        sys.executable, "-m", "mlflow", "server",
        "--backend-store-uri", store.uri,
        "--default-artifact-root", str(store.artifacts),
        "--host", host,
        "--port", str(port),
        "--workers", "1",
    ]  # fmt: skip


def run_ui_server(store: Store, *, host: str = "127.0.0.1", port: int = 5000) -> int:
    """Run ``mlflow server`` on a local store in the foreground until Ctrl-C or SIGTERM.

    MLflow's background job runner (GenAI jobs) is switched off unless the environment says
    otherwise: exportcast does not use it, and it slows the start and the stop.

    Returns:
        The server's exit code (0 after Ctrl-C).
    """
    env = {**os.environ}
    env.setdefault("MLFLOW_SERVER_ENABLE_JOB_EXECUTION", "false")
    proc = subprocess.Popen(server_command(store, host=host, port=port), env=env)

    def _stop(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, _stop)
    try:
        return proc.wait()
    except KeyboardInterrupt:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        return 0
    finally:
        signal.signal(signal.SIGTERM, previous)


def dependence_figure(
    frame: pd.DataFrame, *, reporter: str, partners: Sequence[str], title: str | None = None
) -> Figure:
    """A line chart of the dependence share and each partner's share by year (in %).

    Args:
        frame: Concentration rows with ``year``, ``share_<ISO3>`` and ``dependence_share``.
        reporter: ISO3 of the reporter (for the title).
        partners: The dependence set, in order.
        title: Overrides the default title.

    Returns:
        A matplotlib figure (Agg canvas; no pyplot state).
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8, 4.5), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    years = frame["year"].astype(int)
    if len(partners) > 1:
        label = " + ".join(partners)
        ax.plot(years, 100 * frame["dependence_share"], lw=2.5, color="black", label=label)
    for code in partners:
        ax.plot(years, 100 * frame[f"share_{code}"], lw=1.5, label=code)
    ax.set_ylabel("share of exports (%)")
    ax.set_xlabel("year")
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.legend(frameon=False)
    ax.set_title(title or f"{reporter}: export dependence on {', '.join(partners)}")
    fig.tight_layout()
    return fig
