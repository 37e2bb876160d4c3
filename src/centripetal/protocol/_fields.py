"""Field tables of the message Structs, computed once from their annotations.

Both codecs walk messages generically with these tables: the JSON codec to apply the
omission rules (P-10, P-11) and raw-JSON embedding (P-08), the protobuf codec to copy
fields to and from the generated classes (§1.9).
"""

from __future__ import annotations

import types
import typing
from dataclasses import dataclass
from typing import Any

import msgspec

from centripetal.protocol import messages

SCALAR = 0
RAW = 1  # bytes payload: raw JSON in the JSON codec (P-08)
MSG = 2
MSG_LIST = 3
SCALAR_LIST = 4
MSG_MAP = 5
SCALAR_MAP = 6


@dataclass(frozen=True, slots=True)
class FieldSpec:
    name: str
    kind: int
    cls: Any  # nested message class for MSG* kinds, else None
    always: bool  # emitted in JSON even when empty (P-10)


def _strip_none(tp: Any) -> Any:
    args = typing.get_args(tp)
    if (typing.get_origin(tp) in (typing.Union, types.UnionType)) and type(None) in args:
        rest = [a for a in args if a is not type(None)]
        return rest[0]
    return tp


def _is_struct(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, msgspec.Struct)


def _classify(tp: Any) -> tuple[int, type[msgspec.Struct] | None]:
    tp = _strip_none(tp)
    if tp is bytes:
        return RAW, None
    if _is_struct(tp):
        return MSG, tp
    origin = typing.get_origin(tp)
    if origin is list:
        (item,) = typing.get_args(tp)
        return (MSG_LIST, item) if _is_struct(item) else (SCALAR_LIST, None)
    if origin is dict:
        _, value = typing.get_args(tp)
        return (MSG_MAP, value) if _is_struct(value) else (SCALAR_MAP, None)
    return SCALAR, None


_SPECS: dict[type, tuple[FieldSpec, ...]] = {}


def specs(cls: type[msgspec.Struct]) -> tuple[FieldSpec, ...]:
    """The field table of a message class (cached)."""
    found = _SPECS.get(cls)
    if found is not None:
        return found
    always = messages.ALWAYS_EMIT.get(cls, frozenset())
    table = []
    for info in msgspec.structs.fields(cls):
        kind, sub = _classify(info.type)
        table.append(FieldSpec(info.name, kind, sub, info.name in always))
    result = tuple(table)
    _SPECS[cls] = result
    return result


def message_classes() -> list[type[msgspec.Struct]]:
    """Every message Struct defined in ``messages``."""
    return [
        obj
        for obj in vars(messages).values()
        if _is_struct(obj) and obj.__module__ == messages.__name__
    ]
