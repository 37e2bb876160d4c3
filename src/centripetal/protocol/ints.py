"""Protobuf integer types for msgspec decoding (spec P-13, API-05, PX-07).

msgspec decodes a JSON integer of any size into a Python ``int``; Go decodes it into the
field's fixed-width type and rejects what does not fit. These annotated types give msgspec the
same bounds, so an out-of-range number is a decode error (a 3501 disconnect for a client
command, HTTP 400 for a server API body) instead of an ``OverflowError`` somewhere later.

msgspec only takes bounds that fit in an int64, so :data:`Uint64` carries the lower bound
only; a Struct with ``Uint64`` fields calls :func:`check_uint64` from its ``__post_init__``
(msgspec turns the ``ValueError`` into a ``ValidationError`` with the field's path).
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec

__all__ = [
    "INT32_MAX",
    "INT32_MIN",
    "INT64_MAX",
    "INT64_MIN",
    "UINT32_MAX",
    "UINT64_MAX",
    "Int32",
    "Int64",
    "Uint32",
    "Uint64",
    "check_uint64",
    "int_type",
]

INT32_MIN = -(2**31)
INT32_MAX = 2**31 - 1
UINT32_MAX = 2**32 - 1
INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
UINT64_MAX = 2**64 - 1

Int32 = Annotated[int, msgspec.Meta(ge=INT32_MIN, le=INT32_MAX)]
Uint32 = Annotated[int, msgspec.Meta(ge=0, le=UINT32_MAX)]
Int64 = Annotated[int, msgspec.Meta(ge=INT64_MIN, le=INT64_MAX)]
Uint64 = Annotated[int, msgspec.Meta(ge=0)]  # upper bound: check_uint64

_TYPES: dict[tuple[int, int], Any] = {
    (INT32_MIN, INT32_MAX): Int32,
    (0, UINT32_MAX): Uint32,
    (INT64_MIN, INT64_MAX): Int64,
    (0, UINT64_MAX): Uint64,
}


def int_type(lo: int, hi: int) -> Any:
    """The annotated type of the integer range ``[lo, hi]`` (one of the four above)."""
    return _TYPES[(lo, hi)]


def check_uint64(obj: object, names: tuple[str, ...]) -> None:
    """Raise ``ValueError`` when one of the ``Uint64`` fields ``names`` of ``obj`` is above
    2^64 - 1 (call it from ``__post_init__``)."""
    for name in names:
        if getattr(obj, name) > UINT64_MAX:
            raise ValueError(f"`{name}` out of range for uint64")
