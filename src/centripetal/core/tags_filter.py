"""Publication tags filter of a subscription (spec HR-14, PF-30, P-31 ``tf``).

A filter is a tree of ``FilterNode``: inner nodes ``and`` / ``or`` / ``not`` (exactly one
child), leaves compare one tag: ``eq neq in nin ex nex sw ew ct`` on strings and
``lt lte gt gte`` on decimal numbers (a value that is not a number never matches). A missing
tag fails every leaf except ``neq``, ``nin`` and ``nex``. ``validate`` runs once at subscribe
time (invalid → error 107); ``matches`` runs per publication for that subscriber only.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from centripetal.protocol.messages import FilterNode

MAX_DEPTH = 32

_STRING_CMPS = {"eq", "neq", "sw", "ew", "ct"}
_NUMBER_CMPS = {"gt", "gte", "lt", "lte"}
_SET_CMPS = {"in", "nin"}
_EXISTS_CMPS = {"ex", "nex"}


class FilterError(ValueError):
    """The filter tree is malformed."""


def validate(node: FilterNode, depth: int = 0) -> None:
    """Raise ``FilterError`` unless ``node`` is a well-formed filter tree."""
    if depth > MAX_DEPTH:
        raise FilterError("filter is nested too deeply")
    op = node.op
    if op == "":
        cmp = node.cmp
        if cmp in _STRING_CMPS or cmp in _NUMBER_CMPS:
            if not node.val or node.vals:
                raise FilterError(f"{cmp!r} needs val and no vals")
        elif cmp in _SET_CMPS:
            if not node.vals or node.val:
                raise FilterError(f"{cmp!r} needs vals and no val")
        elif cmp in _EXISTS_CMPS:
            if node.val or node.vals:
                raise FilterError(f"{cmp!r} takes no val")
        else:
            raise FilterError(f"unknown comparison {cmp!r}")
        if not node.key and cmp not in _EXISTS_CMPS:
            raise FilterError("leaf needs a key")
    elif op in ("and", "or"):
        if not node.nodes:
            raise FilterError(f"{op!r} needs at least one child")
        for child in node.nodes:
            validate(child, depth + 1)
    elif op == "not":
        if len(node.nodes) != 1:
            raise FilterError("'not' needs exactly one child")
        validate(node.nodes[0], depth + 1)
    else:
        raise FilterError(f"unknown op {op!r}")


def _number(text: str) -> Decimal | None:
    try:
        value = Decimal(text)
    except InvalidOperation:
        return None
    return value if value.is_finite() else None


def matches(node: FilterNode, tags: dict[str, str] | None) -> bool:
    """Does a publication with ``tags`` pass the (validated) filter?"""
    op = node.op
    if op == "and":
        return all(matches(child, tags) for child in node.nodes)
    if op == "or":
        return any(matches(child, tags) for child in node.nodes)
    if op == "not":
        return not matches(node.nodes[0], tags)
    value = tags.get(node.key) if tags else None
    cmp = node.cmp
    if cmp == "eq":
        return value == node.val
    if cmp == "neq":
        return value != node.val
    if cmp == "in":
        return (value or "") in node.vals
    if cmp == "nin":
        return (value or "") not in node.vals
    if cmp == "ex":
        return value is not None
    if cmp == "nex":
        return value is None
    if value is None:
        return False
    if cmp == "sw":
        return value.startswith(node.val)
    if cmp == "ew":
        return value.endswith(node.val)
    if cmp == "ct":
        return node.val in value
    left, right = _number(value), _number(node.val)
    if left is None or right is None:
        return False
    if cmp == "gt":
        return left > right
    if cmp == "gte":
        return left >= right
    if cmp == "lt":
        return left < right
    return left <= right
