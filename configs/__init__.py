"""Validated run configurations: ``load_config`` reads YAML into a frozen ``RunConfig``."""

from configs.loader import DEFAULT_CONFIG, ConfigError, config_hash, load_config, load_scenario
from configs.schema import RunConfig

__all__ = [
    "DEFAULT_CONFIG",
    "ConfigError",
    "RunConfig",
    "config_hash",
    "load_config",
    "load_scenario",
]
