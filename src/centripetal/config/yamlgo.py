"""YAML read the way Centrifugo's YAML library (Go ``yaml.v3``) reads it (SV-02).

PyYAML follows YAML 1.1: ``yes``/``no``/``on``/``off`` are booleans, ``1:30`` is 90,
``2024-01-01`` is a date. Go's ``yaml.v3`` decoding into untyped maps (what viper does) keeps
all of those as strings. Plain scalars are resolved here as ``yaml.v3`` does:

* null: empty, ``~``, ``null``, ``Null``, ``NULL``;
* bool: ``true``/``True``/``TRUE``/``false``/``False``/``FALSE`` only;
* int: Go ``ParseInt(s, 0, 64)`` after removing ``_`` (``0x1f``, ``0o17``, ``017``, ``0b1``);
* float: ``[-+]?(\\.[0-9]+|[0-9]+(\\.[0-9]*)?)([eE][-+]?[0-9]+)?`` and ``.inf``/``.nan``;
* anything else, timestamps included: a string.

Quoted scalars and explicit tags (``!!str``) behave as in any YAML reader.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

from centripetal.config.gosyntax import INT64_MAX, parse_int

__all__ = ["load_yaml"]

_NULL = frozenset({"", "~", "null", "Null", "NULL"})
_BOOL = frozenset({"true", "True", "TRUE", "false", "False", "FALSE"})
_FLOAT = re.compile(r"^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$")
_SPECIAL_FLOATS = {
    ".inf": "inf", ".Inf": "inf", ".INF": "inf",
    "+.inf": "inf", "+.Inf": "inf", "+.INF": "inf",
    "-.inf": "-inf", "-.Inf": "-inf", "-.INF": "-inf",
    ".nan": "nan", ".NaN": "nan", ".NAN": "nan",
}  # fmt: skip
_TAG = "tag:yaml.org,2002:"
UINT64_MAX = 2**64 - 1


def _go_int(text: str) -> int | None:
    """``ParseInt(s, 0, 64)``, then decimal ``ParseUint`` for values above int64, or None."""
    plain = text.replace("_", "")
    try:
        return parse_int(plain)
    except ValueError:
        if plain.isascii() and plain.isdigit() and INT64_MAX < int(plain) <= UINT64_MAX:
            return int(plain)
        return None


class _GoLoader(yaml.SafeLoader):
    """SafeLoader with ``yaml.v3``'s resolution of plain scalars."""

    def resolve(self, kind: Any, value: Any, implicit: Any) -> Any:
        if kind is yaml.ScalarNode and implicit[0] and value != "<<":
            if value in _NULL:
                return _TAG + "null"
            if value in _BOOL:
                return _TAG + "bool"
            if _go_int(value) is not None:
                return _TAG + "int"
            if value in _SPECIAL_FLOATS or _FLOAT.match(value.replace("_", "")):
                return _TAG + "float"
            return _TAG + "str"
        return super().resolve(kind, value, implicit)


def _construct_int(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> int:
    value = _go_int(str(loader.construct_scalar(node)))
    if value is None:
        raise yaml.constructor.ConstructorError(None, None, "invalid int", node.start_mark)
    return value


def _construct_float(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> float:
    text = str(loader.construct_scalar(node))
    return float(_SPECIAL_FLOATS.get(text, text.replace("_", "")))


_GoLoader.add_constructor(_TAG + "int", _construct_int)
_GoLoader.add_constructor(_TAG + "float", _construct_float)


def load_yaml(data: bytes | str) -> Any:
    """Parse a YAML document with ``yaml.v3``'s scalar resolution."""
    return yaml.load(data, Loader=_GoLoader)  # a SafeLoader subclass
