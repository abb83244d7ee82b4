"""Code version and cache keys of the pipeline's cached tasks.

The heavy tasks take ``cache_key`` = data vintage + hash of the config (minus the sections
that only say where results go) + code version (git commit, plus a hash of the sources when the
tree is dirty). Prefect persists their results under ``cache.dir`` (``.exportcast-cache/``); a
run with the same key loads them instead of recomputing, and any change of data, config or code
gives a new key. ``cache.enabled: false`` passes no key.
"""

import functools
import hashlib
import json
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

from prefect.cache_policies import CacheKeyFnPolicy
from prefect.context import TaskRunContext
from prefect.settings import PREFECT_RESULTS_LOCAL_STORAGE_PATH

from exportcast.configs import RunConfig
from exportcast.flows.io import CODE_ROOT, project_root

__all__ = [
    "CODE_DIRS",
    "NOT_IN_CACHE_KEY",
    "RECORDS",
    "RUN_CACHE",
    "RunCachePolicy",
    "cache_dir",
    "cache_key",
    "cache_key_of",
    "cached_result",
    "code_version",
    "data_logic_key",
    "is_transient",
    "records_dir",
    "scenario_digest",
    "scenarios_key",
    "source_hash",
]

# Config sections that say where results go, not what they are: not part of the cache key.
# The runner is left out too: the dask runner gives the same results (tests/flows/test_dask.py).
NOT_IN_CACHE_KEY = frozenset({"output", "tracking", "schedule", "cache", "runner", "report"})
CODE_DIRS = ("configs", "features", "models", "flows", "reports")
# Scenario files are inputs, not code: the contents of the ones a config names are part of the
# scenarios stage's key (scenarios_key), so editing one recomputes the scenarios only.
SCENARIO_DIR = "configs/scenarios"


def _git(*args: str) -> str | None:
    try:
        proc = subprocess.run(
            ["git", "-C", str(CODE_ROOT), *args],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return proc.stdout.strip()


def _code_files(folders: tuple[str, ...] = CODE_DIRS) -> list[Path]:
    # every file of the code folders, not only *.py: YAML configs and scenarios, report
    # templates and styles change results too (bytecode caches and editor droppings do not)
    files = []
    scenarios = CODE_ROOT / SCENARIO_DIR
    for folder in folders:
        for path in (CODE_ROOT / folder).rglob("*"):
            cache = "__pycache__" in path.parts or path.suffix == ".pyc"
            if path.is_file() and not cache and not path.is_relative_to(scenarios):
                files.append(path)
    return sorted(files)


def source_hash(folders: tuple[str, ...] = CODE_DIRS) -> str:
    """sha256 (8 hex digits) of every file of ``folders``, names and contents."""
    h = hashlib.sha256()
    for path in _code_files(folders):
        h.update(path.relative_to(CODE_ROOT).as_posix().encode() + b"\0")
        h.update(path.read_bytes() + b"\0")
    return h.hexdigest()[:8]


@functools.cache
def code_version() -> str:
    """The code's version: the git commit, ``<commit>+dirty.<source hash>`` for a changed tree.

    Outside a git checkout: ``<package version>+src.<source hash>``.
    """
    top = _git("rev-parse", "--show-toplevel")
    commit = _git("rev-parse", "--short=12", "HEAD")
    if top is None or commit is None or Path(top).resolve() != CODE_ROOT:
        try:
            version = metadata.version("exportcast")
        except metadata.PackageNotFoundError:
            version = "0+unknown"
        return f"{version}+src.{source_hash()}"
    if _git("status", "--porcelain", "--", *CODE_DIRS, f":(exclude){SCENARIO_DIR}"):
        return f"{commit}+dirty.{source_hash()}"
    return commit


def scenario_digest(config: RunConfig) -> str:
    """sha256 of the scenario files' contents, in the config's order (12 hex digits).

    The config holds scenario file *paths*; editing a file (another FTA year, another
    partner) must change the results' key, wherever the file lives.
    """
    from exportcast.configs.loader import scenario_path

    h = hashlib.sha256()
    for name in config.scenarios:
        path = scenario_path(name)
        h.update(str(name).encode() + b"\0")
        h.update((path.read_bytes() if path.is_file() else b"<missing>") + b"\0")
    return h.hexdigest()[:12]


def cache_key(vintage: str, config: RunConfig) -> str:
    """``<data vintage>-<config hash>-<code version>``: names the results a run can reuse.

    The key of every cached stage but the scenarios (:func:`scenarios_key`). The config hash
    covers the config minus the sections in ``NOT_IN_CACHE_KEY`` (output folder, tracking,
    schedule, cache, which change where results go, not what they are) and minus the scenario
    list, which only the scenarios stage reads. The code version covers every file of the code
    folders, YAML and templates included, but not the scenario files (:func:`code_version`).
    """
    what = config.model_dump(mode="json", exclude={*NOT_IN_CACHE_KEY, "scenarios"})
    digest = hashlib.sha256(json.dumps(what, sort_keys=True).encode()).hexdigest()[:12]
    return f"{vintage}-{digest}-{code_version()}"


def scenarios_key(key: str | None, config: RunConfig) -> str | None:
    """The scenarios stage's key: the run's ``key`` plus the scenario files' contents.

    ``<cache_key>-scen.<scenario_digest>``: editing a scenario file (another FTA year, another
    partner), inside the project or anywhere else, recomputes the scenarios and nothing else.
    None (no caching) when ``key`` is None.
    """
    return None if key is None else f"{key}-scen.{scenario_digest(config)}"


def data_logic_key(vintage: str) -> str:
    """Cache key of a stage that reads only the snapshot (no config): data + pure logic.

    ``<data vintage>-<hash of features/ and models/>``: a change of config, flows or reports
    does not recompute it (the FTA track record, about 70 s, depends on neither).
    """
    return f"{vintage}-logic.{source_hash(('features', 'models'))}"


def cache_dir(config: RunConfig) -> Path:
    """The result cache folder (relative ``cache.dir`` resolves against the project)."""
    path = Path(config.cache.dir).expanduser()
    return path if path.is_absolute() else project_root() / path


def cached_result(config: RunConfig, task_name: str, key: str) -> Path:
    """The record of ``task_name``'s cached result under ``key`` (it exists once the result does).

    Prefect writes a result to ``cache.dir/<task key>`` and then its record (which serializer,
    where) to :func:`records_dir` ``/<task key>`` (:class:`RunCachePolicy`), named by the
    task's cache key (:func:`cache_key_of`).
    """
    return records_dir(cache_dir(config)) / _task_key(task_name, key)


def _task_key(task_name: str, key: str) -> str:
    return f"{task_name}-{key}"


def cache_key_of(context: TaskRunContext, parameters: dict[str, Any]) -> str | None:
    """Prefect ``cache_key_fn``: the task's name plus its ``cache_key`` argument (None: no caching)."""
    key = parameters.get("cache_key")
    return None if key is None else _task_key(context.task.name, key)


RECORDS = "records"  # result records' metadata, in cache.dir (records_dir)


def records_dir(results: Path) -> Path:
    """Where the records of the results in ``results`` are: ``records-<hash of its path>``.

    A record names its result by absolute path, which Prefect reads back as it is: in a cache
    folder moved or copied elsewhere (a renamed checkout) every read failed with "outside of
    the base path" and the run stopped. Named by the folder's resolved path, the records of a
    moved folder are not found there: its stages are computed again and recorded anew.
    """
    resolved = Path(results).expanduser().resolve()
    return resolved / f"{RECORDS}-{hashlib.sha256(str(resolved).encode()).hexdigest()[:12]}"


class RunCachePolicy(CacheKeyFnPolicy):
    """The cached tasks' policy: :func:`cache_key_of`, records kept apart from results.

    Without a ``key_storage`` Prefect stores a cached result as one JSON file holding its
    metadata and the pickled result in base64; reading the forecasts' 44 MB back took 0.25 s
    (JSON, base64 and pydantic; 0.6 s the first time in a process) against 0.03 s to unpickle
    the same bytes (2026-12-04). With a ``key_storage`` it writes the pickle as it is
    (``cache.dir/<key>``) and the metadata beside it (``cache.dir/records-<hash>/<key>``,
    :func:`records_dir`), and reads them the same way. The folder follows the run's result folder
    (``PREFECT_RESULTS_LOCAL_STORAGE_PATH``, set from ``cache.dir`` by
    ``flows.pipeline.prefect_settings``), so the policy is one object for every run.
    """

    @property  # type: ignore[override]
    def key_storage(self) -> Path:
        """:func:`records_dir` of the run's result folder."""
        return records_dir(Path(PREFECT_RESULTS_LOCAL_STORAGE_PATH.value()))

    @key_storage.setter
    def key_storage(self, value: object) -> None:
        """Ignored: the dataclass ``__init__`` sets None; the run's folder decides."""


RUN_CACHE = RunCachePolicy(cache_key_fn=cache_key_of)


def is_transient(task: Any, task_run: Any, state: Any) -> bool:
    """Prefect ``retry_condition_fn``: retry only I/O hiccups (OSError, not a missing file or permission)."""
    # Retry I/O hiccups; a missing file, bad data or a bad store will not heal by retrying.
    exc = state.data
    permanent = (FileNotFoundError, NotADirectoryError, IsADirectoryError, PermissionError)
    return isinstance(exc, OSError) and not isinstance(exc, permanent)
