"""Restart back-off for one worker slot, so a crash loop does not spin (docs/scaling.md).

A worker that dies after running at least ``stable_after`` seconds is restarted at once. Each
further death that follows a shorter run waits longer: ``first``, then twice as long each
time, up to ``maximum``. A run of ``stable_after`` seconds clears the streak again.
"""

from __future__ import annotations

__all__ = ["RestartBackoff"]


class RestartBackoff:
    """The delay before the next start of one worker slot."""

    __slots__ = ("first", "maximum", "stable_after", "streak")

    def __init__(
        self, first: float = 0.5, maximum: float = 30.0, stable_after: float = 10.0
    ) -> None:
        self.first = first
        self.maximum = maximum
        self.stable_after = stable_after
        self.streak = 0  # deaths in a row, each after a run shorter than stable_after

    def delay_after(self, lifetime: float) -> float:
        """Record a death after ``lifetime`` seconds of running; return the seconds to wait
        before starting the replacement."""
        if lifetime >= self.stable_after:
            self.streak = 0
        self.streak += 1
        if self.streak == 1:
            return 0.0
        return min(self.first * 2.0 ** (self.streak - 2), self.maximum)
