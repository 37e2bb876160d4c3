"""Origin checks for connection endpoints (spec TR-12, S-2).

Patterns are ``client.allowed_origins`` entries: exact origins, ``*`` for any, or ``*``
wildcards inside (``https://*.example.com``), compared case-insensitively. A request without
an ``Origin`` header is always allowed (not a browser). With an empty list every request that
carries an ``Origin`` is refused, as Centrifugo does.
"""

from __future__ import annotations

import re


class OriginChecker:
    def __init__(self, patterns: list[str]) -> None:
        self._any = "*" in patterns
        self._exact = {p.lower() for p in patterns if "*" not in p}
        self._wild = [
            re.compile("^" + ".*".join(re.escape(part) for part in p.lower().split("*")) + "$")
            for p in patterns
            if "*" in p and p != "*"
        ]
        self._empty = not patterns

    def allowed(self, origin: str | None) -> bool:
        """True when a handshake with ``Origin: origin`` may proceed."""
        if not origin:  # absent or empty: not a browser request
            return True
        o = origin.strip().lower()
        if self._any:
            return True
        if self._empty:
            return False
        if o in self._exact:
            return True
        return any(w.match(o) for w in self._wild)
