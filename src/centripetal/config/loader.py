"""Loading the configuration: file, ``CENTRIFUGO_*`` environment, flags (SV-02, DESIGN §6).

Sources, lowest to highest precedence: the file (JSON, YAML or TOML by extension; flat
v3/v4/v5 layouts are mapped by ``config.legacy``), environment variables (``config.env``),
then flags given as dotted v6 key paths (``{"http_server.port": 9000}``). Every value passes
Centrifugo's loose typing rules (``config.weak``): file values and typed flag values by the
weak rules, the text of variables and flags by the envconfig rules. Objects merge key by key;
a list given by a higher source replaces the lower one. The merged tree is decoded into
``schema.Config`` by msgspec and checked by ``config.validate``; every error is a
``ConfigError`` whose message starts with the key path.
"""

from __future__ import annotations

import json
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import msgspec
import yaml

from centripetal.config import schema
from centripetal.config.env import parse_env, set_path
from centripetal.config.legacy import convert, flat_keys
from centripetal.config.tree import (
    ADMIN_DEFAULTS,
    CONFIG_TYPE,
    AdminSection,
    ConfigError,
    type_at,
    unknown_keys,
)
from centripetal.config.validate import validate
from centripetal.config.weak import Loose, coerce, parse_text
from centripetal.config.yamlgo import load_yaml

__all__ = ["DEFAULT_CONFIG_FILE", "LoadedConfig", "decode", "load_config", "read_file"]

DEFAULT_CONFIG_FILE = "config.json"
_MSGSPEC_ERROR = re.compile(r"^(?P<msg>.*?)(?: - at `\$(?P<path>[^`]*)`)?$", re.DOTALL)


@dataclass
class LoadedConfig:
    """The decoded configuration and the warnings met on the way (unknown/removed keys)."""

    config: schema.Config
    warnings: list[str] = field(default_factory=list)
    # top-level keys of the file read in the v3-v5 flat layout (MG-04; v6 ignores them)
    legacy_keys: list[str] = field(default_factory=list)
    path: str | None = None


def read_file(path: str) -> dict[str, Any]:
    """Parse a config file by extension (``.json``, ``.yaml``/``.yml``, ``.toml``)."""
    ext = os.path.splitext(path)[1].lower()
    try:
        with open(path, "rb") as fh:
            data = fh.read()
        if ext in (".yaml", ".yml"):
            raw = load_yaml(data)
        elif ext == ".toml":
            raw = tomllib.loads(data.decode())
        else:
            raw = json.loads(data) if data.strip() else {}
    except FileNotFoundError:
        raise ConfigError(f"config file {path!r} not found") from None
    except (ValueError, yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ConfigError(f"config file {path!r}: parse error: {exc}") from None
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ConfigError(f"config file {path!r}: expected an object at the top level")
    return raw


def _merge(base: dict[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def _flags_tree(flags: Mapping[str, object], loose: Loose) -> dict[str, Any]:
    """Flags: text by the envconfig rules (``""`` by the weak rules, as viper decodes an empty
    string flag); typed values by the weak rules."""
    tree: dict[str, Any] = {}
    for path, value in flags.items():
        t = type_at(path)
        if t is None:
            raise ConfigError(f"{path}: unknown flag")
        try:
            if isinstance(value, str) and value:
                typed = parse_text(value, t, path, loose)
            else:
                typed = coerce(value, t, path, loose)
        except ConfigError as exc:
            raise ConfigError(f"{exc} (from a command-line flag)") from None
        set_path(tree, path, typed)
    return tree


def _lookup(tree: object, path: str) -> object:
    for part in re.findall(r"[^.\[\]]+|\[\d+\]", path):
        if part.startswith("[") and isinstance(tree, list):
            index = int(part[1:-1])
            tree = tree[index] if index < len(tree) else None
        elif isinstance(tree, dict):
            tree = tree.get(part)
        else:
            return None
    return tree


def _decode_error(exc: msgspec.ValidationError, tree: object, prefix: str = "") -> ConfigError:
    """``Expected `int`, got `str` - at `$.http_server.port``` -> ``http_server.port: ...``."""
    match = _MSGSPEC_ERROR.match(str(exc))
    assert match is not None
    path = (match.group("path") or "").lstrip(".")
    full = f"{prefix}.{path}".strip(".") if prefix else path
    msg = match.group("msg").replace("`", "")
    msg = msg[:1].lower() + msg[1:]
    value = _lookup(tree, path)
    return ConfigError(f"{full or '<root>'}: {msg} (value {value!r})")


def decode(tree: Mapping[str, Any]) -> schema.Config:
    """Decode a merged v6 tree (durations already in seconds) and validate it."""
    try:
        config = msgspec.convert(tree, schema.Config, strict=False)
    except msgspec.ValidationError as exc:
        raise _decode_error(exc, tree) from None
    admin_raw = tree.get("admin") or {}
    try:
        admin = msgspec.convert(admin_raw, AdminSection, strict=False)
    except msgspec.ValidationError as exc:
        raise _decode_error(exc, admin_raw, "admin") from None
    extra = {k: v for k, v in config.admin.items() if k not in ADMIN_DEFAULTS}
    config.admin = {**msgspec.to_builtins(admin), **extra}
    validate(config)
    return config


def load_config(
    path: str | None,
    env: Mapping[str, str],
    flags: Mapping[str, object],
) -> LoadedConfig:
    """Load, merge (flags > env > file), decode and validate the configuration.

    ``path=None`` reads ``config.json`` when it exists (defaults otherwise); an explicit
    path must exist. Raises ``ConfigError`` naming the key path of the first bad value.
    """
    warnings: list[str] = []
    loose = Loose(env)
    file_tree: dict[str, Any] = {}
    used: str | None = None
    legacy_keys: list[str] = []
    if path is not None or os.path.exists(DEFAULT_CONFIG_FILE):
        used = path if path is not None else DEFAULT_CONFIG_FILE
        raw = read_file(used)
        legacy_keys = flat_keys(raw)
        file_tree, legacy_warnings = convert(raw)
        warnings.extend(legacy_warnings)
        file_tree = _coerce_root(file_tree, loose)
        warnings.extend(
            f"unknown key {key!r} in config file {used}"
            for key in unknown_keys(file_tree, CONFIG_TYPE)
        )
    env_tree, env_warnings = parse_env(env, file_tree, loose)
    warnings.extend(env_warnings)
    merged = _merge(_merge(file_tree, env_tree), _flags_tree(flags, loose))
    config = decode(merged)
    warnings.extend(loose.warnings)
    return LoadedConfig(config=config, warnings=warnings, path=used, legacy_keys=legacy_keys)


def _coerce_root(tree: dict[str, Any], loose: Loose) -> dict[str, Any]:
    value = coerce(tree, CONFIG_TYPE, "", loose)
    assert isinstance(value, dict)
    return value


def config_from_mapping(raw: Mapping[str, Any]) -> schema.Config:
    """Decode a configuration given as a mapping (either layout), as if read from a file."""
    tree, _ = convert(dict(raw))
    return decode(_coerce_root(tree, Loose(os.environ)))
