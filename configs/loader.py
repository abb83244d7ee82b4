"""Load a run configuration from YAML, apply ``key.sub=value`` overrides, validate once."""

from __future__ import annotations

import functools
import hashlib
import json
import re
from collections.abc import Iterable
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from pydantic import ValidationError

from exportcast.configs.schema import RunConfig
from exportcast.configs.schema_scenario import ScenarioConfig
from exportcast.features.errors import ExportcastError

if TYPE_CHECKING:  # pandas loads when a scenario is checked against the data, not at import
    import pandas as pd

__all__ = [
    "DEFAULT_CONFIG",
    "ConfigError",
    "config_hash",
    "load_config",
    "load_scenario",
    "scenario_path",
]

# the packaged default (package data of exportcast.configs, in a checkout or an installed wheel)
DEFAULT_CONFIG = Path(str(resources.files("exportcast.configs") / "default.yaml"))
# "<dotted key>: message" lines of a validator that checks several keys at once
_KEYED_LINE = re.compile(r"^([a-z_][a-z0-9_]*(?:\.[a-z0-9_]+)*): (.*)$")


class ConfigError(ExportcastError, ValueError):
    """A configuration file or override is invalid; the message names file, key and expectation."""


def _set_path(data: dict[str, Any], dotted: str, value: Any, origin: str) -> None:
    keys = dotted.split(".")
    node = data
    for k in keys[:-1]:
        child = node.setdefault(k, {})
        if not isinstance(child, dict):
            raise ConfigError(f"{origin}: key '{dotted}': '{k}' is not a section")
        node = child
    node[keys[-1]] = value


def _parse_override(item: str) -> tuple[str, Any]:
    if "=" not in item:
        raise ConfigError(f"--set {item!r}: expected key.sub=value")
    key, raw = item.split("=", 1)
    key = key.strip()
    if not key:
        raise ConfigError(f"--set {item!r}: empty key")
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError as exc:
        raise ConfigError(f"--set {item!r}: value is not valid YAML ({exc})") from exc
    return key, value


def _format_errors(origin: str, err: ValidationError) -> str:
    lines = []
    for e in err.errors():
        loc = [str(p) for p in e["loc"]]
        msg = e["msg"].removeprefix("Value error, ")
        if e["type"] == "extra_forbidden":
            msg = "unknown key (misspelt?); see configs/schema.py for the allowed keys"
        got = e.get("input")
        quiet = e["type"] in ("extra_forbidden", "missing") or isinstance(got, dict)
        tail = "" if quiet or repr(got) in msg else f" (got {got!r})"
        for text in msg.split("\n"):
            keyed = _KEYED_LINE.match(text)
            sub, text = (keyed.group(1).split("."), keyed.group(2)) if keyed else ([], text)
            key = ".".join([*loc, *sub]) or "(top level)"
            lines.append(f"{origin}: key '{key}': {text}{'' if keyed else tail}")
    return "\n".join(lines)


def _read_mapping(path: Path, kind: str) -> dict[str, Any]:
    """A YAML file's top-level mapping, or a ConfigError naming the file."""
    if not path.is_file():
        raise ConfigError(f"{path}: {kind} file not found")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({exc})") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of keys at the top level")
    return data


def load_config(
    path: str | Path | None = None, overrides: Iterable[str] = (), *, scenarios: bool = True
) -> RunConfig:
    """Read, override and validate a run configuration.

    Args:
        path: YAML file; the packaged ``configs/default.yaml`` when None.
        overrides: ``key.sub=value`` strings (values parsed as YAML), applied in order.
        scenarios: Also validate the scenario files (and that the reporter can have them);
            commands that do not run the job (listing runs, rebuilding a report) skip it.

    Returns:
        The validated, frozen config.

    Raises:
        ConfigError: The file is missing or not YAML, or a key is unknown or has a bad value;
            the message names the file and the key and says what was expected.
    """
    path = Path(path) if path is not None else DEFAULT_CONFIG
    data = _read_mapping(path, "config")
    origin = str(path)
    items = list(overrides)
    for item in items:
        key, value = _parse_override(item)
        _set_path(data, key, value, f"{origin} (--set {item})")
    if items:
        origin = f"{path} with --set {' '.join(items)}"
    try:
        config = RunConfig.model_validate(data)
    except ValidationError as err:
        raise ConfigError(_format_errors(origin, err)) from None
    if config.data.vintage is not None:
        _check_vintage(config, origin)
    if not scenarios:
        return config
    if config.scenarios:
        _check_scenario_reporter(config, origin)
    for i, item in enumerate(config.scenarios):
        scenario = scenario_path(item)
        if not scenario.is_file():
            raise ConfigError(f"{origin}: key 'scenarios.{i}': scenario file {scenario} not found")
        load_scenario(
            scenario,
            snapshot_dir=config.data.snapshot_dir,
            min_years=config.forecast.min_years,
            default_origin=config.years.end,
        )
    return config


def _check_vintage(config: RunConfig, origin: str) -> None:
    """A pinned data.vintage must be the embedded snapshot or in the vintage store."""
    from exportcast.flows.vintages import VintageError, resolve_vintage

    data = config.data
    try:
        resolve_vintage(data.vintage, data.vintages_dir, data.snapshot_dir)
    except VintageError as exc:
        raise ConfigError(f"{origin}: key 'data.vintage': {exc.detail}") from None


def _check_scenario_reporter(config: RunConfig, origin: str) -> None:
    """Scenarios are priced on the reporter's own FTA table and KOSIS exports: Korea only."""
    facts = _snapshot_facts(config.data.snapshot_dir)
    if facts is None:  # no snapshot yet: nothing to check against
        return
    fta, _ = facts
    reporters = sorted(set(fta["reporter"])) if "reporter" in fta.columns else []
    if reporters and config.reporter not in reporters:
        raise ConfigError(
            f"{origin}: key 'scenarios': FTA scenarios are priced on the reporter's own FTA "
            f"table and exports by partner, which the snapshot has for {', '.join(reporters)} "
            f"only, not for reporter {config.reporter!r}; expected scenarios: [] "
            "(--set scenarios=[])"
        )


def scenario_path(path: str | Path) -> Path:
    """A scenario file's path: relative paths resolve against the project directory.

    A relative ``configs/scenarios/...`` path the project does not have names the scenario
    file shipped with exportcast (:func:`exportcast.flows.io.project_path`).
    """
    from exportcast.flows.io import project_path

    return project_path(path)


@functools.cache
def _data_facts(snapshot: Path, stamp: float) -> tuple[pd.DataFrame, pd.DataFrame] | None:
    # stamp (the files' mtime) keeps the cache honest when a snapshot is rebuilt
    import pandas as pd

    fta, exports = snapshot / "fta.parquet", snapshot / "kor_exports.parquet"
    if not (fta.is_file() and exports.is_file()):
        return None
    wide = pd.read_parquet(exports, columns=["partner", "year", "export_usd"]).pivot_table(
        index="year", columns="partner", values="export_usd", aggfunc="sum"
    )
    return pd.read_parquet(fta), wide


def _snapshot_facts(snapshot_dir: str | Path) -> tuple[pd.DataFrame, pd.DataFrame] | None:
    """The FTA table and Korea's exports (years x partners) of a snapshot; None without one."""
    folder = scenario_path(snapshot_dir)
    stamps = [p.stat().st_mtime for p in folder.glob("*.parquet")] if folder.is_dir() else []
    return _data_facts(folder, max(stamps, default=0.0))


def _scenario_context(
    snapshot_dir: str | Path | None, min_years: int, default_origin: int | None
) -> dict[str, Any]:
    context: dict[str, Any] = {"default_origin": default_origin}
    if snapshot_dir is None:
        return context
    facts = _snapshot_facts(snapshot_dir)
    if facts is None:  # no snapshot yet (source: raw before its first build): data-free checks
        return context
    fta, wide = facts

    def modelled(origin: int) -> set[str]:
        # split_series' rule: positive in each of the last min_years years up to the origin
        window = wide.loc[origin - min_years + 1 : origin]
        return set(window.columns[(window.fillna(0) > 0).all()])

    return {
        **context,
        "fta": fta,
        "first_year": int(wide.index.min()),
        "last_year": int(wide.index.max()),
        "modelled": modelled,
    }


def load_scenario(
    path: str | Path,
    *,
    snapshot_dir: str | Path | None = "data/snapshot",
    min_years: int = 20,
    default_origin: int | None = None,
) -> ScenarioConfig:
    """Read and validate one scenario file (``configs/scenarios/<name>.yaml``).

    Besides the schema (unknown keys, ISO3 codes, actions, year ranges), the scenario is
    checked against the data in ``snapshot_dir``: each named agreement exists in the FTA table
    for its partner, the origin lies within the trade data, and every changed partner has a
    series of its own at the origin (else the engine has no path to move).

    Args:
        path: The YAML file (relative paths resolve against the project root).
        snapshot_dir: Snapshot folder with ``fta.parquet`` and ``kor_exports.parquet``
            (relative to the project root); None, or a folder without them, skips the data
            checks.
        min_years: The run's ``forecast.min_years`` (which partners get a series).
        default_origin: The run's ``years.end``, the origin when the scenario has none.

    Returns:
        The validated, frozen scenario.

    Raises:
        ConfigError: The file is missing or not YAML, or a key is unknown or has a bad value;
            the message names the file and the key and says what was expected.
    """
    path = scenario_path(path)
    data = _read_mapping(path, "scenario")
    context = _scenario_context(snapshot_dir, min_years, default_origin)
    try:
        return ScenarioConfig.model_validate(data, context=context)
    except ValidationError as err:
        raise ConfigError(_format_errors(str(path), err)) from None


def config_hash(config: RunConfig) -> str:
    """A short stable hash of the validated config (for caching and run tags)."""
    blob = json.dumps(config.model_dump(mode="json"), sort_keys=True).encode()
    return hashlib.sha256(blob).hexdigest()[:12]
