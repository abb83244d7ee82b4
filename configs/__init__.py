"""Validated run configurations: ``load_config`` reads YAML into a frozen ``RunConfig``."""

from exportcast.configs.loader import (
    DEFAULT_CONFIG,
    ConfigError,
    config_hash,
    load_config,
    load_scenario,
)
from exportcast.configs.schema import RunConfig

__all__ = [
    "DEFAULT_CONFIG",
    "ConfigError",
    "RunConfig",
    "config_hash",
    "load_config",
    "load_scenario",
]
