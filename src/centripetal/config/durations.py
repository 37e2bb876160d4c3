"""Go-style durations: ``"25s"``, ``"1000ms"``, ``"720h"``, ``"1m30s"`` <-> float seconds.

Files, environment variables and flags carry durations as Go ``time.Duration`` strings
(SV-02, MG-17); v2-style integer keys such as ``history_lifetime`` carry plain seconds
(CH-24). The schema stores float seconds. ``format_duration`` renders the canonical Go form
used by ``defaultconfig``, ``defaultenv`` and ``gentoken`` (``168h0m0s``).
"""

from __future__ import annotations

import math
import re

__all__ = ["format_duration", "parse_duration"]

_UNITS: dict[str, float] = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,
    "μs": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
}
_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)")
_PLAIN_NUMBER = re.compile(r"[-+]?(\d+(\.\d*)?|\.\d+)")


def parse_duration(value: object) -> float:
    """Convert a duration value to float seconds.

    Accepts Go duration strings (``"1h2m3.5s"``, ``"-1s"``, ``"0"``), numbers (seconds,
    v2-style) and strings holding a plain number (seconds). Raises ``ValueError`` otherwise.
    """
    if isinstance(value, bool):
        raise ValueError(f"invalid duration {value!r}")
    if isinstance(value, int | float):
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(f"invalid duration {value!r}")
        return float(value)
    if not isinstance(value, str):
        raise ValueError(f"invalid duration {value!r}")
    text = value.strip()
    if _PLAIN_NUMBER.fullmatch(text):
        return float(text)
    sign = 1.0
    if text and text[0] in "+-":
        sign = -1.0 if text[0] == "-" else 1.0
        text = text[1:]
    if not text:
        raise ValueError(f"invalid duration {value!r}")
    total = 0.0
    pos = 0
    while pos < len(text):
        match = _PART.match(text, pos)
        if match is None:
            raise ValueError(f"invalid duration {value!r}")
        total += float(match.group(1)) * _UNITS[match.group(2)]
        pos = match.end()
    return sign * total


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
