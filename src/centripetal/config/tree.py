"""Walking raw configuration trees alongside the typed schema (SV-02, DESIGN §6).

The schema (``config.schema``) is the one source of truth: this module derives from it the
type at any key path (every ``float`` in the schema is a duration in seconds), lists unknown
keys, and renders a decoded config back to plain data with durations as Go strings. The value
conversions live in ``config.weak``. Paths are written ``channel.namespaces[0].history_ttl``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import msgspec
from msgspec import inspect as mi

from centripetal.config import schema
from centripetal.config.durations import format_duration

__all__ = [
    "ADMIN_DEFAULTS",
    "CONFIG_TYPE",
    "AdminSection",
    "ConfigError",
    "fields_of",
    "join",
    "leaf_paths",
    "to_plain",
    "type_at",
    "type_name",
    "unknown_keys",
    "unwrap",
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


def fields_of(struct: mi.StructType) -> dict[str, mi.Type]:
    """Field name -> type of a schema struct (``admin`` is seen through its known keys)."""
    cached = _FIELDS_CACHE.get(struct.cls)
    if cached is None:
        cached = {f.encode_name: f.type for f in struct.fields}
        if struct.cls is schema.Config:
            cached["admin"] = _ADMIN_TYPE
        _FIELDS_CACHE[struct.cls] = cached
    return cached


def unwrap(t: mi.Type) -> mi.Type:
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
        t = unwrap(nxt)
    return t


def join(path: str, key: object) -> str:
    """``join("client", "token")`` -> ``client.token``; ``join("", "client")`` -> ``client``."""
    return f"{path}.{key}" if path else str(key)


def type_name(t: mi.Type) -> str:
    """Human name of a schema type for messages and docs."""
    t = unwrap(t)
    if isinstance(t, mi.FloatType):
        return "duration"
    if isinstance(t, mi.ListType):
        return f"list of {type_name(t.item_type)}"
    if isinstance(t, mi.StructType):
        return "object"
    if isinstance(t, mi.DictType):
        return "object"
    return {mi.BoolType: "bool", mi.IntType: "int", mi.StrType: "string"}.get(type(t), "value")


def unknown_keys(value: object, t: mi.Type, path: str = "") -> list[str]:
    """Key paths present in ``value`` that the schema does not know."""
    t = unwrap(t)
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
        sub = unwrap(sub)
        if isinstance(sub, mi.StructType):
            yield from leaf_paths(sub, path)
        else:
            yield path, sub


def _plain(value: Any, t: mi.Type) -> Any:
    t = unwrap(t)
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
