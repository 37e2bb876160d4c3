"""Loose value types: the conversions Centrifugo applies before a value reaches its key (SV-02).

Centrifugo decodes files (and flags) with viper + mapstructure ``WeaklyTypedInput`` and its own
decode hooks, and environment variables with its ``envconfig`` fork. This module applies the
same rules by schema type at every key path, so msgspec only ever sees well-typed values.

``coerce`` (files, JSON inside variables, typed flag values), by target type:

* bool: a bool; a number (``!= 0``); a string by Go ``ParseBool``, ``""`` -> false.
* int: an int; a float truncated toward zero; a bool (1/0); a string by Go ``ParseInt`` with
  base prefixes, ``""`` -> 0.
* duration: a Go duration string (``"25s"``; ``"0"`` is the only unitless one); a number is
  nanoseconds, as Go's ``time.Duration`` reads it (a warning says so below one millisecond).
* string: a string; an int in base 10; a float in Go's shortest form; a bool as ``"1"``/``"0"``.
* list: a list; any single value becomes a one-element list; an empty object is an empty list.
* object: an object; keys match field names case-insensitively.
* map of strings (``http.static_headers``): an object whose values are strings, or a list of
  ``{"key": ..., "value": ...}`` objects; ``${CENTRIFUGO_VAR_<NAME>}`` in a value is replaced
  by that environment variable.
* other maps: an object, or a list of objects merged in order; an empty list is an empty map.
* ``null`` leaves the key unset (its default applies).

``parse_text`` (``CENTRIFUGO_*`` variables and flags): strings as given; ints by ``ParseInt``;
bools by ``ParseBool``; durations by ``ParseDuration``; lists as a JSON array or
whitespace-separated words (each word parsed by the item type); objects, maps and lists of
objects as JSON, then ``coerce``.

Every failure is a ``ConfigError`` ``"<key path>: expected <type>, got <value>"``.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from msgspec import inspect as mi

from centripetal.config.durations import format_duration, parse_duration
from centripetal.config.gosyntax import INT64_MAX, INT64_MIN, format_float, parse_bool, parse_int
from centripetal.config.tree import ConfigError, fields_of, join, type_name, unwrap

__all__ = ["Loose", "coerce", "parse_text"]

_MILLISECOND = 1_000_000  # nanoseconds; a smaller number for a duration is most likely a slip
_VAR_REFERENCE = re.compile(r"\$\{(CENTRIFUGO_VAR_[^}]+)}")


@dataclass
class Loose:
    """What the rules need besides the value: the environment (``${CENTRIFUGO_VAR_*}``) and
    a list collecting warnings (numbers read as nanoseconds)."""

    env: Mapping[str, str]
    warnings: list[str] = field(default_factory=list)


def _fail(path: str, t: mi.Type, value: object, reason: str = "") -> ConfigError:
    suffix = f" ({reason})" if reason else ""
    return ConfigError(f"{path or '<root>'}: expected {type_name(t)}, got {value!r}{suffix}")


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _to_bool(value: object, t: mi.Type, path: str) -> bool:
    if isinstance(value, bool):
        return value
    if _is_number(value):
        return bool(value != 0)
    if isinstance(value, str):
        if value == "":
            return False
        try:
            return parse_bool(value)
        except ValueError:
            raise _fail(path, t, value) from None
    raise _fail(path, t, value)


def _to_int(value: object, t: mi.Type, path: str) -> int:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int | float):
        if not math.isfinite(value):
            raise _fail(path, t, value)
        if not INT64_MIN <= value <= INT64_MAX:
            raise _fail(path, t, value, "value out of range")
        return int(value)
    if isinstance(value, str):
        try:
            return parse_int(value) if value else 0
        except ValueError as exc:
            raise _fail(path, t, value, "" if str(exc) == "invalid syntax" else str(exc)) from None
    raise _fail(path, t, value)


def _text_duration(text: str, t: mi.Type, path: str) -> float:
    try:
        return parse_duration(text)
    except ValueError as exc:
        reason = str(exc)
        if reason.startswith("missing unit"):
            reason = f"a number needs a unit, e.g. '{text}s'"
        raise _fail(path, t, text, reason) from None


def _to_duration(value: object, t: mi.Type, path: str, loose: Loose) -> float:
    if isinstance(value, str):
        return _text_duration(value, t, path)
    if isinstance(value, bool | int | float):
        nanos = _to_int(value, t, path)
        if 0 < abs(nanos) < _MILLISECOND and not isinstance(value, bool):
            loose.warnings.append(
                f"{path}: {value!r} is read as {format_duration(nanos / 1e9)} (a number is "
                f"nanoseconds, as in Centrifugo); write '{value}s' for seconds"
            )
        return nanos / 1e9
    raise _fail(path, t, value)


def _to_string(value: object, t: mi.Type, path: str) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return format_float(value)
    raise _fail(path, t, value)


def _to_list(value: object, t: mi.ListType, path: str, loose: Loose) -> list[Any]:
    if isinstance(value, list):
        items = value
    elif isinstance(value, dict) and not value:
        return []
    elif isinstance(unwrap(t.item_type), mi.StructType | mi.DictType) and not isinstance(
        value, dict
    ):
        raise _fail(path, t, value)
    else:
        items = [value]
    out = []
    for i, item in enumerate(items):
        item_path = f"{path}[{i}]"
        if item is None:
            item = _zero(t.item_type)
        out.append(coerce(item, t.item_type, item_path, loose))
    return out


def _zero(t: mi.Type) -> object:
    """A ``null`` list item decodes to the item type's zero value, as in Go."""
    t = unwrap(t)
    zeros: dict[type, object] = {mi.BoolType: False, mi.IntType: 0, mi.FloatType: 0, mi.StrType: ""}
    if isinstance(t, mi.ListType):
        return []
    if isinstance(t, mi.StructType | mi.DictType):
        return {}
    return zeros.get(type(t))


def _match_field(key: str, fields: dict[str, mi.Type]) -> str | None:
    if key in fields:
        return key
    folded = key.casefold()
    for name in fields:
        if name.casefold() == folded:
            return name
    return None


def _to_struct(value: object, t: mi.StructType, path: str, loose: Loose) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _fail(path, t, value)
    fields = fields_of(t)
    out: dict[str, Any] = {}
    for key, item in value.items():
        name = _match_field(key, fields) if isinstance(key, str) else None
        if name is None:
            out[key] = item
            continue
        sub = fields[name]
        if item is None:
            if unwrap(sub) is not sub:
                out[name] = None
            continue
        out[name] = coerce(item, sub, join(path, name), loose)
    return out


def _expand(text: str, path: str, loose: Loose) -> str:
    """``${CENTRIFUGO_VAR_<NAME>}`` -> that variable; a missing one is an error."""
    for name in _VAR_REFERENCE.findall(text):
        if name not in loose.env:
            raise ConfigError(f"{path}: environment variable {name!r} not found")
    return _VAR_REFERENCE.sub(lambda m: loose.env[m.group(1)], text)


def _to_string_map(value: object, t: mi.DictType, path: str, loose: Loose) -> dict[str, str]:
    pairs: list[tuple[str, object, str]] = []
    if isinstance(value, dict):
        pairs = [(str(k), v, join(path, k)) for k, v in value.items()]
    elif isinstance(value, list):
        seen: set[str] = set()
        for i, item in enumerate(value):
            item_path = f"{path}[{i}]"
            key = item.get("key") if isinstance(item, dict) else None
            if not isinstance(key, str) or not isinstance(item, dict):
                raise ConfigError(
                    f"{item_path}: expected an object with string 'key' and 'value', got {item!r}"
                )
            if key in seen:
                raise ConfigError(f"{item_path}: duplicate key {key!r}")
            seen.add(key)
            pairs.append((key, item.get("value"), f"{item_path}.value"))
    else:
        raise _fail(path, t, value)
    out: dict[str, str] = {}
    for key, item, item_path in pairs:
        if not isinstance(item, str):
            raise _fail(item_path, t.value_type, item)
        out[key] = _expand(item, item_path, loose)
    return out


def _to_map(value: object, t: mi.DictType, path: str, loose: Loose) -> dict[Any, Any]:
    if isinstance(unwrap(t.value_type), mi.StrType):
        return _to_string_map(value, t, path, loose)
    if isinstance(value, dict):
        return value
    if isinstance(value, list):
        merged: dict[Any, Any] = {}
        for i, item in enumerate(value):
            if not isinstance(item, dict):
                raise _fail(f"{path}[{i}]", t, item)
            merged.update(item)
        return merged
    raise _fail(path, t, value)


def coerce(value: object, t: mi.Type, path: str, loose: Loose) -> Any:
    """Convert a parsed value to schema type ``t`` by Centrifugo's weak rules (module doc)."""
    inner = unwrap(t)
    if value is None:
        if inner is not t:
            return None
        raise _fail(path, t, value)
    if isinstance(inner, mi.BoolType):
        return _to_bool(value, inner, path)
    if isinstance(inner, mi.IntType):
        return _to_int(value, inner, path)
    if isinstance(inner, mi.FloatType):
        return _to_duration(value, inner, path, loose)
    if isinstance(inner, mi.StrType):
        return _to_string(value, inner, path)
    if isinstance(inner, mi.ListType):
        return _to_list(value, inner, path, loose)
    if isinstance(inner, mi.StructType):
        return _to_struct(value, inner, path, loose)
    if isinstance(inner, mi.DictType):
        return _to_map(value, inner, path, loose)
    return value


def _json(text: str, t: mi.Type, path: str) -> object:
    try:
        return json.loads(text)
    except ValueError as exc:
        raise _fail(path, t, text, f"invalid JSON: {exc}") from None


def parse_text(text: str, t: mi.Type, path: str, loose: Loose) -> Any:
    """Convert the text of a ``CENTRIFUGO_*`` variable or a flag to schema type ``t``."""
    inner = unwrap(t)
    if isinstance(inner, mi.StrType):
        return text
    if isinstance(inner, mi.BoolType):
        try:
            return parse_bool(text)
        except ValueError:
            raise _fail(path, inner, text) from None
    if isinstance(inner, mi.IntType):
        try:
            return parse_int(text)
        except ValueError as exc:
            reason = "" if str(exc) == "invalid syntax" else str(exc)
            raise _fail(path, inner, text, reason) from None
    if isinstance(inner, mi.FloatType):
        return _text_duration(text, inner, path)
    if isinstance(inner, mi.ListType):
        stripped = text.strip()
        if stripped.startswith("["):
            return coerce(_json(stripped, inner, path), inner, path, loose)
        if isinstance(unwrap(inner.item_type), mi.StructType | mi.DictType):
            raise _fail(path, inner, text, "a JSON array")
        words = stripped.split()
        return [parse_text(w, inner.item_type, f"{path}[{i}]", loose) for i, w in enumerate(words)]
    if isinstance(inner, mi.StructType | mi.DictType):
        return coerce(_json(text, inner, path), inner, path, loose)
    return text
