"""Go's text syntax for the scalar config values Centrifugo reads (SV-02).

Centrifugo parses numbers and booleans from strings with Go's ``strconv``: ``ParseInt(s, 0,
64)`` for integers (``0x1f``, ``0o17``, ``0b101``, a leading ``0`` for octal, ``_`` between
digits, no surrounding spaces), ``ParseBool`` for booleans (``1 t T TRUE true True`` and
``0 f F FALSE false False``). A number turned into a string uses ``strconv.FormatInt`` or
``FormatFloat(f, 'f', -1, 64)`` (shortest digits, never an exponent: ``3.0`` -> ``"3"``).
Each parser raises ``ValueError`` whose text is the reason (``"invalid syntax"``, ``"value out
of range"``).
"""

from __future__ import annotations

import math
from decimal import Decimal

__all__ = ["INT64_MAX", "INT64_MIN", "format_float", "parse_bool", "parse_int"]

INT64_MAX = 2**63 - 1
INT64_MIN = -(2**63)
_TRUE = frozenset({"1", "t", "T", "TRUE", "true", "True"})
_FALSE = frozenset({"0", "f", "F", "FALSE", "false", "False"})
_PREFIX_BASES = {"b": 2, "o": 8, "x": 16}
_DIGITS = "0123456789abcdef"


def parse_bool(text: str) -> bool:
    """``strconv.ParseBool``."""
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError("invalid syntax")


def _underscores_ok(text: str) -> bool:
    """Go's ``underscoreOK``: each ``_`` sits between digits (a base prefix counts as one)."""
    saw = "^"
    i = 0
    if text[:1] in "+-":
        text = text[1:]
    if len(text) >= 2 and text[0] == "0" and text[1].lower() in _PREFIX_BASES:
        i = 2
        saw = "0"
    while i < len(text):
        ch = text[i]
        if ch.isascii() and (ch.isdigit() or ch.lower() in "abcdef"):
            saw = "0"
        elif ch == "_":
            if saw != "0":
                return False
            saw = "_"
        else:
            return False
        i += 1
    return saw != "_"


def parse_int(text: str) -> int:
    """``strconv.ParseInt(text, 0, 64)``."""
    body = text[1:] if text[:1] in "+-" else text
    negative = text[:1] == "-"
    if not body:
        raise ValueError("invalid syntax")
    base = 10
    digits = body
    if body[0] == "0":
        if len(body) >= 3 and body[1].lower() in _PREFIX_BASES:
            base = _PREFIX_BASES[body[1].lower()]
            digits = body[2:]
        else:
            base = 8
            digits = body[1:]
    value = 0
    underscores = False
    for ch in digits:
        if ch == "_":
            underscores = True
            continue
        digit = _DIGITS.find(ch.lower()) if ch.isascii() else -1
        if not 0 <= digit < base:
            raise ValueError("invalid syntax")
        value = value * base + digit
    if underscores and not _underscores_ok(text):
        raise ValueError("invalid syntax")
    value = -value if negative else value
    if not INT64_MIN <= value <= INT64_MAX:
        raise ValueError("value out of range")
    return value


def format_float(number: float) -> str:
    """``strconv.FormatFloat(number, 'f', -1, 64)``: ``1.5`` -> ``"1.5"``, ``3.0`` -> ``"3"``,
    ``1e21`` -> ``"1000000000000000000000"``."""
    if math.isnan(number):
        return "NaN"
    if math.isinf(number):
        return "+Inf" if number > 0 else "-Inf"
    text = format(Decimal(repr(number)), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text
