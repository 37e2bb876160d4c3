"""Channel patterns of the ``channels`` method (API-20), with gobwas/glob syntax and no
separators: ``*`` any run of characters, ``?`` one character, ``[abc]``/``[a-z]`` a class,
``[!abc]`` a negated class, ``{a,b}`` alternatives, ``\\`` escapes the next character.

Patterns compile to an anchored regular expression once per request.
"""

from __future__ import annotations

import re
from collections.abc import Callable

__all__ = ["GlobError", "compile_glob"]


class GlobError(ValueError):
    """The pattern is malformed (unclosed ``[`` or ``{``): the API answers 107."""


def compile_glob(pattern: str) -> Callable[[str], bool]:
    """A predicate telling whether a channel matches ``pattern``; "" matches everything."""
    if not pattern:
        return lambda _channel: True
    regex, pos = _translate(pattern, 0, in_braces=False)
    if pos != len(pattern):
        raise GlobError(f"unexpected {pattern[pos]!r} at {pos} in pattern {pattern!r}")
    compiled = re.compile(regex, re.DOTALL)
    return lambda channel: compiled.fullmatch(channel) is not None


def _translate(pattern: str, pos: int, *, in_braces: bool) -> tuple[str, int]:
    """Translate from ``pos`` until the end (or, inside braces, until ``,`` or ``}``)."""
    out: list[str] = []
    n = len(pattern)
    while pos < n:
        ch = pattern[pos]
        if in_braces and ch in ",}":
            return "".join(out), pos
        if ch == "\\":
            if pos + 1 >= n:
                raise GlobError(f"dangling escape in pattern {pattern!r}")
            out.append(re.escape(pattern[pos + 1]))
            pos += 2
        elif ch == "*":
            while pos < n and pattern[pos] == "*":
                pos += 1
            out.append(".*")
        elif ch == "?":
            out.append(".")
            pos += 1
        elif ch == "[":
            cls, pos = _char_class(pattern, pos + 1)
            out.append(cls)
        elif ch == "{":
            alts: list[str] = []
            pos += 1
            while True:
                alt, pos = _translate(pattern, pos, in_braces=True)
                alts.append(alt)
                if pos >= n:
                    raise GlobError(f"unclosed '{{' in pattern {pattern!r}")
                pos += 1
                if pattern[pos - 1] == "}":
                    break
            out.append("(?:" + "|".join(alts) + ")")
        else:
            out.append(re.escape(ch))
            pos += 1
    return "".join(out), pos


def _char_class(pattern: str, pos: int) -> tuple[str, int]:
    """``[...]`` starting after the ``[``; returns the regex class and the position after
    ``]``."""
    end = pattern.find("]", pos)
    if end < 0:
        raise GlobError(f"unclosed '[' in pattern {pattern!r}")
    body = pattern[pos:end]
    negate = body.startswith("!")
    if negate:
        body = body[1:]
    if not body:
        raise GlobError(f"empty character class in pattern {pattern!r}")
    parts: list[str] = []
    i = 0
    while i < len(body):
        if i + 2 < len(body) and body[i + 1] == "-":
            lo, hi = body[i], body[i + 2]
            if lo > hi:
                raise GlobError(f"bad range {lo}-{hi} in pattern {pattern!r}")
            parts.append(f"{re.escape(lo)}-{re.escape(hi)}")
            i += 3
        else:
            parts.append(re.escape(body[i]))
            i += 1
    return "[" + ("^" if negate else "") + "".join(parts) + "]", end + 1
