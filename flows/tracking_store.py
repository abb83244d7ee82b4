"""The MLflow tracking store: resolving its URI, redacting secrets, opening the client.

The store is a SQLite database, ``sqlite:///<project>/mlruns/mlflow.db`` with artifacts in
``<project>/mlruns/artifacts`` (MLflow 3.17 refuses the plain file store), unless
``tracking.uri`` in the config or ``$MLFLOW_TRACKING_URI`` names another one, e.g. an MLflow
server. Relative SQLite paths resolve against the project, so every working directory sees the
same store.

Nothing secret reaches MLflow: parameters and tags whose names look like credentials are
redacted, and user:password parts of URLs are dropped.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from exportcast.features.errors import ExportcastError
from exportcast.flows import store_template
from exportcast.flows.io import project_root

if TYPE_CHECKING:
    from mlflow import MlflowClient

__all__ = [
    "DEFAULT_DB",
    "MAX_TAG_CHARS",
    "REDACTED",
    "RunRecord",
    "Store",
    "TrackingError",
    "ensure_experiment",
    "flatten_params",
    "mlflow_client",
    "preload",
    "redact_tags",
    "resolve_store",
    "store_lock",
    "strip_userinfo",
]

DEFAULT_DB = Path("mlruns") / "mlflow.db"  # under the project directory (project_root)
REDACTED = "[redacted]"
# Names of settings that hold credentials: *_key, *token*, *password*, *secret*, ...
_SECRET_NAME = re.compile(
    r"(^|[_.-])key$|apikey|token|passw(or)?d|passwd|secret|credential|auth|private", re.I
)
_MAX_PARAM_CHARS = 6000  # MLflow's limit for one parameter value
MAX_TAG_CHARS = 5000


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
        return strip_userinfo(self.uri)


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
    uri = uri or os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{project_root() / DEFAULT_DB}"
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


def preload(uri: str | None = None) -> None:
    """Import MLflow (and its SQL store for a database URI) now rather than in the first stage.

    ``exportcast run`` calls it while Prefect's temporary server is still starting on the
    other core (``flows/prefect_server.py``): about 1.4 s of imports every run needs (warm run,
    2026-12-04) then come off the run's critical path. A local SQLite store is opened here too
    (created, with MLflow's schema migrations, when new: 1-3 s of a cold run): MLflow keeps
    one store object per URI, so the run's client reuses it. A bad URI or a store that cannot
    be opened is left for the run to report (through :func:`resolve_store`, which decides the
    store here too, and its own open of the store).
    """
    import mlflow

    try:
        store = resolve_store(uri)
    except TrackingError:
        return
    if urlsplit(store.uri).scheme not in ("http", "https"):  # a database: MLflow's SQL store
        import mlflow.store.tracking.sqlalchemy_store  # noqa: F401
    if store.db_path is not None:
        # only a head start: any failure here is met again, and reported, by the run's open
        with contextlib.suppress(Exception), store_lock(store):
            mlflow_client(store).search_experiments(max_results=1)


def _project_path(path: str | Path) -> Path:
    path = Path(path).expanduser()
    return (path if path.is_absolute() else project_root() / path).resolve()


def strip_userinfo(text: str) -> str:
    """``text`` without the user:password part of a URL (unchanged when it has none)."""
    parts = urlsplit(text)
    if not parts.netloc or "@" not in parts.netloc:
        return text
    return urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))


def _redact(name: str, value: Any) -> str:
    if _SECRET_NAME.search(name):
        return REDACTED
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return strip_userinfo(text)


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
    return {k: _redact(k, v)[:MAX_TAG_CHARS] for k, v in tags.items() if v is not None}


@contextlib.contextmanager
def store_lock(store: Store) -> Iterator[None]:
    """Serialise the first open of a SQLite store across processes (a lock file next to it).

    A store that does not exist yet is created from the migrated template when there is one
    (:mod:`flows.store_template`); otherwise the store MLflow creates inside the block becomes
    the template.
    """
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
            # a new store starts as a copy of the migrated template (flows/store_template.py);
            # the first one MLflow migrates itself becomes the template
            new = not db.exists()
            seeded = new and store_template.seed_store(db)
            yield
            if new and not seeded:
                store_template.save_template(db)
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def mlflow_client(store: Store) -> MlflowClient:
    """An MLflow client of the store."""
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=store.uri)


def ensure_experiment(client: MlflowClient, store: Store, name: str) -> str:
    """The id of experiment ``name``, created when missing.

    Raises:
        TrackingError: The experiment is deleted.
    """
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
