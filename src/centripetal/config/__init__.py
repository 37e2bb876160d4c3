"""Configuration: the typed v6 schema, loading from file/env/flags, legacy key mapping and
validation (SV-02, DESIGN §6)."""

from __future__ import annotations

from centripetal.config.durations import format_duration, parse_duration
from centripetal.config.loader import (
    DEFAULT_CONFIG_FILE,
    LoadedConfig,
    config_from_mapping,
    load_config,
)
from centripetal.config.schema import Config
from centripetal.config.tree import ConfigError, to_plain
from centripetal.config.validate import validate

__all__ = [
    "DEFAULT_CONFIG_FILE",
    "Config",
    "ConfigError",
    "LoadedConfig",
    "config_from_mapping",
    "format_duration",
    "load_config",
    "parse_duration",
    "to_plain",
    "validate",
]
