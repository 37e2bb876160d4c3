"""Go durations: ``"25s"``, ``"1000ms"``, ``"720h"``, ``"1m30s"`` <-> float seconds (SV-02).

``parse_duration`` is Go's ``time.ParseDuration``, which Centrifugo applies to every duration
given as text (file strings, ``CENTRIFUGO_*`` variables, flags): a sequence of decimal numbers,
each with a unit (``ns``, ``us``/``µs``, ``ms``, ``s``, ``m``, ``h``), optionally signed;
``"0"`` is the only number allowed without a unit. Bare numbers in files are a separate rule
(``config.weak``). The schema stores float seconds. ``format_duration`` renders Go's
``time.Duration.String()`` used by ``defaultconfig``, ``defaultenv`` and ``gentoken``
(``168h0m0s``).
"""

from __future__ import annotations

__all__ = ["format_duration", "parse_duration"]

_UNIT_NANOS: dict[str, int] = {
    "ns": 1,
    "us": 1_000,
    "\u00b5s": 1_000,  # MICRO SIGN
    "\u03bcs": 1_000,  # GREEK SMALL LETTER MU
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60_000_000_000,
    "h": 3_600_000_000_000,
}
_MAX_NANOS = 2**63 - 1


def _digits(text: str, pos: int) -> int:
    while pos < len(text) and "0" <= text[pos] <= "9":
        pos += 1
    return pos


def parse_duration(text: str) -> float:
    """Go's ``time.ParseDuration``; returns seconds. Raises ``ValueError`` with Go's reason
    (``invalid duration "x"``, ``missing unit in duration "25"``, ``unknown unit ...``)."""
    quoted = '"' + text + '"'
    rest = text
    negative = False
    if rest[:1] in ("-", "+"):
        negative = rest[0] == "-"
        rest = rest[1:]
    if rest == "0":
        return 0.0
    if not rest:
        raise ValueError(f"invalid duration {quoted}")
    total = 0
    pos = 0
    while pos < len(rest):
        if not (rest[pos] == "." or "0" <= rest[pos] <= "9"):
            raise ValueError(f"invalid duration {quoted}")
        end = _digits(rest, pos)
        whole = rest[pos:end]
        fraction = ""
        pos = end
        if pos < len(rest) and rest[pos] == ".":
            end = _digits(rest, pos + 1)
            fraction = rest[pos + 1 : end]
            if not whole and not fraction:
                raise ValueError(f"invalid duration {quoted}")
            pos = end
        unit_end = pos
        while unit_end < len(rest) and not (rest[unit_end] == "." or "0" <= rest[unit_end] <= "9"):
            unit_end += 1
        if unit_end == pos:
            raise ValueError(f"missing unit in duration {quoted}")
        unit = rest[pos:unit_end]
        nanos = _UNIT_NANOS.get(unit)
        if nanos is None:
            raise ValueError(f'unknown unit "{unit}" in duration {quoted}')
        pos = unit_end
        value = int(whole or "0") * nanos
        if fraction:
            value += int(int(fraction) * (nanos / 10 ** len(fraction)))
        total += value
        if total > _MAX_NANOS + (1 if negative else 0):
            raise ValueError(f"invalid duration {quoted}")
    return (-total if negative else total) / 1e9


def _trim(number: float) -> str:
    """Shortest decimal form without trailing zeros (``1.5``, ``2``)."""
    text = f"{number:.9f}".rstrip("0").rstrip(".")
    return text or "0"


def format_duration(seconds: float) -> str:
    """Render float seconds as Go's ``time.Duration.String()`` does (``"25s"``, ``"720h0m0s"``,
    ``"1m30s"``, ``"500ms"``, ``"0s"``)."""
    nanos = round(seconds * 1e9)
    if nanos == 0:
        return "0s"
    sign = "-" if nanos < 0 else ""
    nanos = abs(nanos)
    if nanos < 1_000:
        return f"{sign}{nanos}ns"
    if nanos < 1_000_000:
        return f"{sign}{_trim(nanos / 1e3)}µs"
    if nanos < 1_000_000_000:
        return f"{sign}{_trim(nanos / 1e6)}ms"
    hours, rest = divmod(nanos, 3_600_000_000_000)
    minutes, rest = divmod(rest, 60_000_000_000)
    secs = _trim(rest / 1e9)
    if hours:
        return f"{sign}{hours}h{minutes}m{secs}s"
    if minutes:
        return f"{sign}{minutes}m{secs}s"
    return f"{sign}{secs}s"
