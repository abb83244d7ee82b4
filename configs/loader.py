"""Load a run configuration from YAML, apply ``key.sub=value`` overrides, validate once."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from configs.schema import RunConfig

__all__ = ["DEFAULT_CONFIG", "ConfigError", "config_hash", "load_config"]

DEFAULT_CONFIG = Path(__file__).with_name("default.yaml")


class ConfigError(ValueError):
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
        key = ".".join(str(p) for p in e["loc"]) or "(top level)"
        msg = e["msg"].removeprefix("Value error, ")
        if e["type"] == "extra_forbidden":
            msg = "unknown key (misspelt?); see configs/schema.py for the allowed keys"
        got = e.get("input")
        quiet = e["type"] in ("extra_forbidden", "missing") or isinstance(got, dict)
        tail = "" if quiet or repr(got) in msg else f" (got {got!r})"
        lines.append(f"{origin}: key '{key}': {msg}{tail}")
    return "\n".join(lines)


def load_config(path: str | Path | None = None, overrides: Iterable[str] = ()) -> RunConfig:
    """Read, override and validate a run configuration.

    Args:
        path: YAML file; the packaged ``configs/default.yaml`` when None.
        overrides: ``key.sub=value`` strings (values parsed as YAML), applied in order.

    Returns:
        The validated, frozen config.

    Raises:
        ConfigError: The file is missing or not YAML, or a key is unknown or has a bad value;
            the message names the file and the key and says what was expected.
    """
    path = Path(path) if path is not None else DEFAULT_CONFIG
    if not path.is_file():
        raise ConfigError(f"{path}: config file not found")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({exc})") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of keys at the top level")
    origin = str(path)
    items = list(overrides)
    for item in items:
        key, value = _parse_override(item)
        _set_path(data, key, value, f"{origin} (--set {item})")
    if items:
        origin = f"{path} with --set {' '.join(items)}"
    try:
        return RunConfig.model_validate(data)
    except ValidationError as err:
        raise ConfigError(_format_errors(origin, err)) from None


def config_hash(config: RunConfig) -> str:
    """A short stable hash of the validated config (for caching and run tags)."""
    blob = json.dumps(config.model_dump(mode="json"), sort_keys=True).encode()
    return hashlib.sha256(blob).hexdigest()[:12]
