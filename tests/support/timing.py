"""One timeout factor for every wait in the live tests (DESIGN §7)."""

from __future__ import annotations

import os
import time
from collections.abc import Callable

__all__ = ["TIMEOUT_FACTOR", "scaled", "wait_until"]


def _read_factor() -> float:
    raw = os.environ.get("CENTRIPETAL_TEST_TIMEOUT_FACTOR", "").strip()
    if not raw:
        return 1.0
    try:
        value = float(raw)
    except ValueError as exc:
        raise ValueError(f"CENTRIPETAL_TEST_TIMEOUT_FACTOR={raw!r} is not a number") from exc
    if value <= 0:
        raise ValueError(f"CENTRIPETAL_TEST_TIMEOUT_FACTOR={raw!r} must be > 0")
    return value


TIMEOUT_FACTOR: float = _read_factor()


def scaled(seconds: float) -> float:
    """Return ``seconds`` multiplied by :data:`TIMEOUT_FACTOR`."""
    return seconds * TIMEOUT_FACTOR


def wait_until(
    predicate: Callable[[], bool],
    timeout: float,
    *,
    interval: float = 0.05,
    message: str = "condition",
) -> None:
    """Poll ``predicate`` until it is true; raise ``TimeoutError`` after ``scaled(timeout)``."""
    deadline = time.monotonic() + scaled(timeout)
    while True:
        if predicate():
            return
        if time.monotonic() >= deadline:
            raise TimeoutError(f"timed out after {scaled(timeout):.1f}s waiting for {message}")
        time.sleep(interval)
