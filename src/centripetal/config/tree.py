"""Walking raw configuration trees alongside the typed schema (SV-02, DESIGN §6).

The schema (``config.schema``) is the one source of truth: this module derives from it the
type at any key path, turns text from environment variables and flags into typed values,
converts Go-style duration strings at every ``float`` position (every float in the schema is
a duration in seconds), lists unknown keys, and renders a decoded config back to plain data
with durations as Go strings. Paths are written ``channel.namespaces[0].history_ttl``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import msgspec
from msgspec import inspect as mi

from centripetal.config import schema
from centripetal.config.durations import format_duration, parse_duration

__all__ = [
    "ADMIN_DEFAULTS",
    "CONFIG_TYPE",
    "AdminSection",
    "ConfigError",
    "coerce_text",
    "coerce_tree",
    "fields_of",
    "leaf_paths",
    "parse_bool",
    "to_plain",
    "type_at",
    "unknown_keys",
]


class ConfigError(ValueError):
    """An invalid configuration; the message starts with the offending key path."""


class AdminSection(msgspec.Struct, kw_only=True):
    """Known keys of the ``admin`` section (SV-04); the schema keeps it a plain dict."""

    enabled: bool = False
    password: str = ""
    secret: str = ""
    insecure: bool = False
    handler_prefix: str = ""
    web_path: str = ""
    web_proxy_address: str = ""
    external: bool = False


ADMIN_DEFAULTS: dict[str, object] = msgspec.to_builtins(AdminSection())
CONFIG_TYPE: mi.StructType = mi.type_info(schema.Config)  # type: ignore[assignment]
_ADMIN_TYPE: mi.StructType = mi.type_info(AdminSection)  # type: ignore[assignment]
_FIELDS_CACHE: dict[type, dict[str, mi.Type]] = {}

_TRUE = {"1", "t", "true", "yes", "y", "on"}
_FALSE = {"0", "f", "false", "no", "n", "off"}


def fields_of(struct: mi.StructType) -> dict[str, mi.Type]:
    """Field name -> type of a schema struct (``admin`` is seen through its known keys)."""
    cached = _FIELDS_CACHE.get(struct.cls)
    if cached is None:
        cached = {f.encode_name: f.type for f in struct.fields}
        if struct.cls is schema.Config:
            cached["admin"] = _ADMIN_TYPE
        _FIELDS_CACHE[struct.cls] = cached
    return cached


def _unwrap(t: mi.Type) -> mi.Type:
    """``bool | None`` -> ``bool`` (Override fields)."""
    if isinstance(t, mi.UnionType):
        rest = [x for x in t.types if not isinstance(x, mi.NoneType)]
        if len(rest) == 1:
            return rest[0]
    return t


def type_at(path: str, root: mi.StructType = CONFIG_TYPE) -> mi.Type | None:
    """The schema type at a dotted path (``client.token.hmac_secret_key``), or None."""
    t: mi.Type = root
    for part in path.split("."):
        if not isinstance(t, mi.StructType):
            return None
        nxt = fields_of(t).get(part)
        if nxt is None:
            return None
        t = _unwrap(nxt)
    return t


def join(path: str, key: object) -> str:
    """``join("client", "token")`` -> ``client.token``; ``join("", "client")`` -> ``client``."""
    return f"{path}.{key}" if path else str(key)


def type_name(t: mi.Type) -> str:
    """Human name of a schema type for messages and docs."""
    t = _unwrap(t)
    if isinstance(t, mi.FloatType):
        return "duration"
    if isinstance(t, mi.ListType):
        return f"list of {type_name(t.item_type)}"
    if isinstance(t, mi.StructType):
        return "object"
    if isinstance(t, mi.DictType):
        return "object"
    return {mi.BoolType: "bool", mi.IntType: "int", mi.StrType: "string"}.get(type(t), "value")


def parse_bool(text: str) -> bool:
    """Parse a boolean the way Go's ``strconv.ParseBool`` (plus yes/no/on/off) does."""
    low = text.strip().lower()
    if low in _TRUE:
        return True
    if low in _FALSE:
        return False
    raise ValueError(f"invalid bool {text!r}")


def coerce_text(text: str, t: mi.Type, path: str) -> object:
    """Turn the text of an environment variable or flag into a value of type ``t``.

    Lists are JSON arrays or space-separated words; objects and lists of objects are JSON.
    """
    t = _unwrap(t)
    try:
        if isinstance(t, mi.BoolType):
            return parse_bool(text)
        if isinstance(t, mi.IntType):
            return int(text.strip())
        if isinstance(t, mi.FloatType):
            return parse_duration(text)
        if isinstance(t, mi.StrType):
            return text
        if isinstance(t, mi.ListType):
            stripped = text.strip()
            if stripped.startswith("["):
                value = json.loads(stripped)
            elif isinstance(t.item_type, mi.StructType):
                raise ValueError("expected a JSON array")
            else:
                value = stripped.split()
            return coerce_tree(value, t, path)
        if isinstance(t, mi.StructType | mi.DictType):
            value = json.loads(text)
            return coerce_tree(value, t, path)
    except (ValueError, json.JSONDecodeError) as exc:
        raise ConfigError(f"{path}: invalid {type_name(t)} {text!r} ({exc})") from None
    return text


def coerce_tree(value: object, t: mi.Type, path: str) -> object:
    """Convert duration strings at float positions, recursively; other values pass as-is
    (msgspec decodes and type-checks them later)."""
    t = _unwrap(t)
    if isinstance(t, mi.FloatType):
        if isinstance(value, str | int | float) and not isinstance(value, bool):
            try:
                return parse_duration(value)
            except ValueError:
                raise ConfigError(f"{path}: invalid duration {value!r}") from None
        return value
    if isinstance(t, mi.StructType) and isinstance(value, dict):
        fields = fields_of(t)
        out: dict[str, object] = {}
        for key, item in value.items():
            sub = fields.get(key)
            out[key] = item if sub is None else coerce_tree(item, sub, join(path, key))
        return out
    if isinstance(t, mi.ListType) and isinstance(value, list):
        return [coerce_tree(v, t.item_type, f"{path}[{i}]") for i, v in enumerate(value)]
    return value


def unknown_keys(value: object, t: mi.Type, path: str = "") -> list[str]:
    """Key paths present in ``value`` that the schema does not know."""
    t = _unwrap(t)
    found: list[str] = []
    if isinstance(t, mi.StructType) and isinstance(value, dict):
        fields = fields_of(t)
        for key, item in value.items():
            sub_path = join(path, key)
            sub = fields.get(key)
            if sub is None:
                found.append(sub_path)
            else:
                found.extend(unknown_keys(item, sub, sub_path))
    elif isinstance(t, mi.ListType) and isinstance(value, list):
        for i, item in enumerate(value):
            found.extend(unknown_keys(item, t.item_type, f"{path}[{i}]"))
    return found


def leaf_paths(t: mi.StructType = CONFIG_TYPE, prefix: str = "") -> Iterator[tuple[str, mi.Type]]:
    """Every leaf key path of a struct type; lists and dicts are leaves."""
    for name, sub in fields_of(t).items():
        path = f"{prefix}.{name}" if prefix else name
        sub = _unwrap(sub)
        if isinstance(sub, mi.StructType):
            yield from leaf_paths(sub, path)
        else:
            yield path, sub


def _plain(value: Any, t: mi.Type) -> Any:
    t = _unwrap(t)
    if isinstance(t, mi.FloatType) and isinstance(value, int | float):
        return format_duration(float(value))
    if isinstance(t, mi.StructType) and isinstance(value, dict):
        fields = fields_of(t)
        return {k: _plain(v, fields[k]) if k in fields else v for k, v in value.items()}
    if isinstance(t, mi.ListType) and isinstance(value, list):
        return [_plain(v, t.item_type) for v in value]
    return value


def to_plain(config: schema.Config) -> dict[str, Any]:
    """The config as plain data (v6 layout) with durations as Go strings (``"25s"``)."""
    raw = msgspec.to_builtins(config)
    raw["admin"] = {**ADMIN_DEFAULTS, **raw.get("admin", {})}
    result: dict[str, Any] = _plain(raw, CONFIG_TYPE)
    return result
