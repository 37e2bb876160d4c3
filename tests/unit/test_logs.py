"""One-line failure logs with repeats summarised (observability.logs)."""

from __future__ import annotations

import asyncio
import itertools
import logging

import pytest

from centripetal.engines.base import EngineError
from centripetal.observability.logs import (
    FailureLog,
    describe_exception,
    failure_log,
    one_line,
)

_names = itertools.count()


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def log(caplog: pytest.LogCaptureFixture) -> tuple[FailureLog, Clock]:
    name = f"test.failures.{next(_names)}"
    caplog.set_level(logging.INFO, logger=name)
    clock = Clock()
    return FailureLog(name, clock=clock), clock


def lines(caplog: pytest.LogCaptureFixture) -> list[tuple[str, str]]:
    return [(r.levelname, r.getMessage()) for r in caplog.records]


def refused() -> EngineError:
    try:
        try:
            raise ConnectionRefusedError(111, "Connection refused")
        except OSError as exc:
            raise EngineError("redis: connection refused") from exc
    except EngineError as exc:
        return exc


def test_first_failure_is_one_line_with_reason(
    log: tuple[FailureLog, Clock], caplog: pytest.LogCaptureFixture
) -> None:
    flog, _ = log
    assert flog.failure("publish to 'chat:index'", refused()) is True
    assert lines(caplog) == [("ERROR", "publish to 'chat:index' failed: redis: connection refused")]
    assert all(r.exc_info is None for r in caplog.records)  # no traceback at info level


def test_repeats_are_counted_then_summarised_when_the_window_ends(
    log: tuple[FailureLog, Clock], caplog: pytest.LogCaptureFixture
) -> None:
    flog, clock = log
    for i in range(500):
        clock.now += 0.01
        printed = flog.failure("publish to 'a'", refused(), key="publish")
        assert printed is (i == 0)
    assert len(caplog.records) == 1 and flog.pending() == 499
    clock.now += 10
    flog.failure("publish to 'b'", refused(), key="publish")
    assert lines(caplog)[1:] == [
        (
            "WARNING",
            "publish to 'a' failed: redis: connection refused; "
            "repeated 499 more times in the last 10s",
        ),
        ("ERROR", "publish to 'b' failed: redis: connection refused"),
    ]


def test_another_failure_prints_pending_counts_first(
    log: tuple[FailureLog, Clock], caplog: pytest.LogCaptureFixture
) -> None:
    flog, clock = log
    flog.failure("history of 'x'", "redis: timeout")
    flog.failure("history of 'x'", "redis: timeout")
    flog.failure("history of 'x'", "redis: timeout")
    flog.failure("presence of 'y'", "redis: timeout")
    assert [m for _, m in lines(caplog)] == [
        "history of 'x' failed: redis: timeout",
        "history of 'x' failed: redis: timeout; repeated 2 more times in the last 10s",
        "presence of 'y' failed: redis: timeout",
    ]
    # the window of the first key is still open: its later repeats keep being counted
    clock.now += 1
    assert flog.failure("history of 'x'", "redis: timeout") is False
    flog.flush()
    assert lines(caplog)[-1][1].endswith("repeated 1 more time in the last 10s")
    assert flog.pending() == 0


def test_a_window_without_repeats_prints_nothing(
    log: tuple[FailureLog, Clock], caplog: pytest.LogCaptureFixture
) -> None:
    flog, clock = log
    flog.failure("a", "x")
    clock.now += 11
    flog.failure("a", "x")
    assert [m for _, m in lines(caplog)] == ["a failed: x", "a failed: x"]


def test_traceback_only_at_debug_level(caplog: pytest.LogCaptureFixture) -> None:
    name = f"test.failures.{next(_names)}"
    flog = FailureLog(name)
    caplog.set_level(logging.INFO, logger=name)
    flog.failure("publish to 'a'", refused())
    assert [r.exc_info for r in caplog.records] == [None]
    caplog.clear()
    caplog.set_level(logging.DEBUG, logger=name)
    flog.failure("publish to 'b'", refused())
    (first, debug) = caplog.records
    assert first.levelno == logging.ERROR and first.exc_info is None
    assert debug.levelno == logging.DEBUG and debug.exc_info is not None
    assert "Traceback" in caplog.text and "ConnectionRefusedError" in caplog.text


def test_level_is_the_callers(
    log: tuple[FailureLog, Clock], caplog: pytest.LogCaptureFixture
) -> None:
    flog, _ = log
    flog.failure("redis pubsub connect", "refused", level=logging.WARNING)
    assert lines(caplog) == [("WARNING", "redis pubsub connect failed: refused")]


def test_messages_are_forced_onto_one_line(
    log: tuple[FailureLog, Clock], caplog: pytest.LogCaptureFixture
) -> None:
    flog, _ = log
    flog.failure("publish to 'a\nERROR forged'", "bad\r\nreason")
    (record,) = caplog.records
    assert "\n" not in record.getMessage() and "\r" not in record.getMessage()
    assert one_line("a\nb\rc") == "a\\nb\\rc"


def test_keys_are_bounded(log: tuple[FailureLog, Clock], caplog: pytest.LogCaptureFixture) -> None:
    flog, _ = log
    flog.max_keys = 3
    for i in range(10):
        flog.failure(f"op {i}", "x")
        flog.failure(f"op {i}", "x")  # one repeat each
    assert len(flog._windows) == 3
    # every repeat was printed in a summary (evicted or printed before the next failure)
    summaries = [m for _, m in lines(caplog) if "repeated" in m]
    assert len(summaries) == 9 and flog.pending() == 1


async def test_the_window_end_prints_the_summary_without_another_failure(
    caplog: pytest.LogCaptureFixture,
) -> None:
    name = f"test.failures.{next(_names)}"
    caplog.set_level(logging.INFO, logger=name)
    flog = FailureLog(name, window=0.05)
    for _ in range(7):
        flog.failure("publish to 'a'", "redis: down")
    await asyncio.sleep(0.2)
    assert [m for _, m in lines(caplog)] == [
        "publish to 'a' failed: redis: down",
        "publish to 'a' failed: redis: down; repeated 6 more times in the last 0.05s",
    ]
    assert flog._timer is None


def test_describe_exception() -> None:
    assert describe_exception(TimeoutError()) == "TimeoutError"
    assert describe_exception(ValueError("bad")) == "ValueError: bad"
    assert describe_exception(EngineError("redis: down")) == "redis: down"
    assert describe_exception("plain reason") == "plain reason"
    assert describe_exception(None) == "unknown error"


def test_failure_log_is_shared_per_logger_name() -> None:
    assert failure_log("centripetal.x") is failure_log("centripetal.x")
    assert failure_log("centripetal.x") is not failure_log("centripetal.y")
