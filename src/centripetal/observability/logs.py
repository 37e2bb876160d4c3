"""Failure logs that stay readable when a failure repeats thousands of times.

During an engine outage every API publish fails the same way; under attack every request can
fail the same way. :class:`FailureLog` writes each failure as **one line** saying what failed,
for what, and why — ``publish to 'chat:index' failed: redis: ConnectionError: Error 111
connecting to 127.0.0.1:6379. Connection refused.`` — at warning or error level, with the
traceback only at debug level, and counts repeats instead of printing them.

Theory of operation: each failure has a *key* (by default the text before the reason, e.g.
``"publish to 'chat:index'"`` plus the reason; callers pass a coarser key such as
``("api publish", reason)`` to fold many channels into one). The first occurrence of a key is
printed and opens a window of ``window`` seconds; occurrences inside the window are counted.
The count is printed as one line ``<first line>; repeated N more times in the last 10s``
when the window ends, or earlier when another failure is printed (so lines stay in order),
or at :meth:`FailureLog.flush`. A window that ends with nothing counted prints nothing.

Windows end without a thread or a task per key: every call first closes the windows that
ended, and one loop timer per ``FailureLog`` (armed only while counts are pending, and only
when called from a running event loop) closes them when no further failure comes. At most
``max_keys`` keys are tracked; the oldest is closed (its count printed) to make room.

Messages are forced onto one line: CR/LF in the text (a channel name, a backend's reason)
are escaped, so a hostile value cannot forge log lines.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Hashable

__all__ = ["FailureLog", "describe_exception", "failure_log", "one_line"]

WINDOW = 10.0  # seconds a repeated failure is counted instead of printed
MAX_KEYS = 256  # failure keys tracked at once per FailureLog


def one_line(text: str) -> str:
    """``text`` with CR and LF escaped: one log line whatever the text holds."""
    if "\n" in text or "\r" in text:
        return text.replace("\r", "\\r").replace("\n", "\\n")
    return text


def describe_exception(exc: BaseException | str | None) -> str:
    """A short reason: ``"TimeoutError"``, ``"ConnectionError: Error 111 ..."``; the message
    alone for the engine's own errors, which are written to be read as they are."""
    if exc is None:
        return "unknown error"
    if isinstance(exc, str):
        return exc
    text = str(exc).strip()
    name = type(exc).__name__
    if not text:
        return name
    if name == "EngineError" or type(exc).__module__.startswith("centripetal."):
        return text
    return f"{name}: {text}"


class _Window:
    __slots__ = ("count", "line", "started")

    def __init__(self, line: str, started: float) -> None:
        self.line = line
        self.started = started
        self.count = 0


class FailureLog:
    """One-line failure logging with repeats summarised (see the module docstring).

    ``failure("publish to 'chat:index'", exc)`` logs ``publish to 'chat:index' failed:
    <reason>`` at ``level`` (error by default; ``warning`` for expected faults) and, when the
    logger is enabled for debug, the traceback of ``exc`` in a debug record after it.
    """

    def __init__(
        self,
        logger: logging.Logger | str,
        *,
        window: float = WINDOW,
        max_keys: int = MAX_KEYS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.logger = logging.getLogger(logger) if isinstance(logger, str) else logger
        self.window = window
        self.max_keys = max(1, max_keys)
        self._clock = clock
        self._windows: dict[Hashable, _Window] = {}
        self._timer: asyncio.TimerHandle | None = None

    def failure(
        self,
        what: str,
        exc: BaseException | str | None = None,
        *,
        key: Hashable | None = None,
        level: int = logging.ERROR,
    ) -> bool:
        """Log that ``what`` failed because of ``exc``; True when printed, False when counted
        as a repeat of ``key`` (default: ``what`` and the reason)."""
        reason = describe_exception(exc)
        if key is None:
            key = (what, reason)
        now = self._clock()
        self._close_ended(now)
        win = self._windows.get(key)
        if win is not None:
            win.count += 1
            self._arm()
            return False
        line = one_line(f"{what} failed: {reason}")
        self._print_counts()  # earlier repeats first: lines stay in order
        if len(self._windows) >= self.max_keys:
            oldest = next(iter(self._windows))
            self._summary(self._windows.pop(oldest))
        self._windows[key] = _Window(line, now)
        logger = self.logger
        logger.log(level, "%s", line)
        if isinstance(exc, BaseException) and logger.isEnabledFor(logging.DEBUG):
            logger.debug("traceback of: %s", line, exc_info=(type(exc), exc, exc.__traceback__))
        return True

    def flush(self) -> None:
        """Print every pending count now and forget all windows (shutdown, tests)."""
        for win in self._windows.values():
            self._summary(win)
        self._windows.clear()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def pending(self) -> int:
        """Repeats counted and not yet printed, over all keys."""
        return sum(win.count for win in self._windows.values())

    # -- internals -------------------------------------------------------------------------

    def _summary(self, win: _Window) -> None:
        if win.count:
            times = "time" if win.count == 1 else "times"
            self.logger.warning(
                "%s; repeated %d more %s in the last %gs", win.line, win.count, times, self.window
            )
            win.count = 0

    def _print_counts(self) -> None:
        for win in self._windows.values():
            self._summary(win)

    def _close_ended(self, now: float) -> None:
        windows = self._windows
        if not windows:
            return
        ended = []
        for k, win in windows.items():  # insertion order is start order
            if now - win.started < self.window:
                break
            ended.append(k)
        for k in ended:
            self._summary(windows.pop(k))

    def _arm(self) -> None:
        """One loop timer closes the windows when no further failure comes (needs a running
        loop; without one, the next call or ``flush`` prints the counts)."""
        if self._timer is not None:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        first = next(iter(self._windows.values())).started  # the oldest window
        delay = max(0.0, first + self.window - self._clock())
        self._timer = loop.call_later(delay, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        self._close_ended(self._clock())
        if any(win.count for win in self._windows.values()):
            self._arm()


_LOGS: dict[str, FailureLog] = {}


def failure_log(name: str) -> FailureLog:
    """The shared :class:`FailureLog` of the logger ``name`` (one per logger name, so every
    caller of one logger shares its windows)."""
    log = _LOGS.get(name)
    if log is None:
        log = _LOGS[name] = FailureLog(name)
    return log
