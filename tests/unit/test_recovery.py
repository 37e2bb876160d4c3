"""Recovery and positioning arithmetic (HR-03, HR-05, HR-07, HR-08; reliability plan R-2)."""

from __future__ import annotations

import pytest

from centripetal.core.recovery import (
    PositionVerdict,
    check_position,
    is_cache_recovered,
    is_lagging,
    is_position_check_due,
    is_position_valid,
    is_stream_recovered,
    merge_after_cache,
    merge_publications,
)
from centripetal.engines.base import Publication, StreamPosition

EPOCH = "AbCdEfGh"


def pubs(*offsets: int) -> list[Publication]:
    return [Publication(data=b"%d" % o, offset=o) for o in offsets]


def offs(items: list[Publication]) -> list[int]:
    return [p.offset for p in items]


# -- HR-05 stream recovery -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("read", "top", "req_offset", "req_epoch", "expected"),
    [
        ([], 0, 0, EPOCH, True),  # empty stream, client at 0
        ([], 7, 7, EPOCH, True),  # client already at top
        ([], 7, 5, EPOCH, False),  # publications gone (expired / trimmed)
        ([], 7, 9, EPOCH, False),  # client ahead of the stream
        ([9, 10], 10, 8, EPOCH, True),  # full gap
        ([6, 7], 10, 5, EPOCH, False),  # limited read: last != top
        ([11, 12, 13], 20, 8, EPOCH, False),  # head trimmed: first != req + 1
        ([1, 2, 3, 4], 4, 0, EPOCH, True),  # from the very beginning
        ([9, 10], 10, 8, "otherone", False),  # another epoch
        ([9, 10], 10, 8, "", True),  # empty epoch accepted (as Centrifugo)
    ],
)
def test_is_stream_recovered(
    read: list[int], top: int, req_offset: int, req_epoch: str, expected: bool
) -> None:
    current = StreamPosition(top, EPOCH)
    assert is_stream_recovered(pubs(*read), current, req_offset, req_epoch) is expected


# -- HR-08 cache recovery --------------------------------------------------------------------


def test_cache_recovery_returns_latest_when_it_is_top() -> None:
    latest = pubs(10)[0]
    out, ok = is_cache_recovered(latest, StreamPosition(10, EPOCH), 8, EPOCH)
    assert (offs(out), ok) == ([10], True)


def test_cache_recovery_client_at_top_gets_nothing_but_recovered() -> None:
    out, ok = is_cache_recovered(pubs(7)[0], StreamPosition(7, EPOCH), 7, EPOCH)
    assert (out, ok) == ([], True)


def test_cache_recovery_empty_stream() -> None:
    assert is_cache_recovered(None, StreamPosition(0, EPOCH), 0, EPOCH) == ([], False)
    assert is_cache_recovered(None, StreamPosition(3, EPOCH), 3, EPOCH) == ([], True)
    assert is_cache_recovered(None, StreamPosition(3, EPOCH), 3, "otherone") == ([], False)


def test_cache_recovery_latest_not_top() -> None:
    out, ok = is_cache_recovered(pubs(9)[0], StreamPosition(10, EPOCH), 8, EPOCH)
    assert (out, ok) == ([], False)


# -- HR-07 merge -----------------------------------------------------------------------------


def test_merge_orders_and_deduplicates() -> None:
    merged, ok = merge_publications(pubs(3, 4, 5), pubs(6, 5, 7))
    assert (offs(merged), ok) == ([3, 4, 5, 6, 7], True)


def test_merge_keeps_first_copy_of_duplicate() -> None:
    recovered = pubs(1, 2)
    buffered = [Publication(data=b"dup", offset=2), *pubs(3)]
    merged, ok = merge_publications(recovered, buffered)
    assert ok and [p.data for p in merged] == [b"1", b"2", b"3"]


def test_merge_detects_gap_with_buffered() -> None:
    assert merge_publications(pubs(1, 2), pubs(4)) == ([], False)


def test_merge_without_buffered_trusts_recovered() -> None:
    merged, ok = merge_publications(pubs(2, 1), [])
    assert (offs(merged), ok) == ([1, 2], True)


def test_merge_checks_continuity_from_read_offset() -> None:
    assert merge_publications([], pubs(6, 7), since_offset=5)[1] is True
    assert merge_publications([], pubs(7), since_offset=5) == ([], False)
    merged, ok = merge_publications(pubs(4, 5), pubs(6), since_offset=3)
    assert (offs(merged), ok) == ([4, 5, 6], True)


def test_merge_empty() -> None:
    assert merge_publications([], []) == ([], True)


def test_merge_after_cache_continues_from_the_top_hr08() -> None:
    """The cache-recovered publication may sit below the top (tags filter): continuity of the
    live publications is counted from the top, not from it."""
    merged, ok = merge_after_cache(pubs(4), pubs(8, 7), top_offset=6)
    assert (offs(merged), ok) == ([4, 7, 8], True)
    assert merge_after_cache(pubs(6), pubs(8), top_offset=6) == ([], False)  # 7 lost
    assert merge_after_cache([], [], top_offset=6) == ([], True)
    merged, ok = merge_after_cache([], pubs(7), top_offset=6)
    assert (offs(merged), ok) == ([7], True)


# -- HR-03 positioning (R-2) -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("last", "pub", "verdict"),
    [
        ((5, EPOCH), (6, EPOCH), PositionVerdict.DELIVER),  # next offset
        ((5, EPOCH), (8, EPOCH), PositionVerdict.INSUFFICIENT_STATE),  # gap -> 2500 / 3010
        ((5, EPOCH), (5, EPOCH), PositionVerdict.SKIP_STALE),  # duplicate
        ((5, EPOCH), (2, EPOCH), PositionVerdict.SKIP_STALE),  # stale (PUB/SUB lag)
        ((5, EPOCH), (6, "otherone"), PositionVerdict.INSUFFICIENT_STATE),  # epoch change
        ((5, EPOCH), (1, "otherone"), PositionVerdict.INSUFFICIENT_STATE),  # restarted stream
        ((0, ""), (1, EPOCH), PositionVerdict.DELIVER),  # empty epoch adopts the first pub's
        ((0, ""), (2, EPOCH), PositionVerdict.INSUFFICIENT_STATE),  # missed offset 1
        ((3, ""), (4, EPOCH), PositionVerdict.INSUFFICIENT_STATE),  # unknown epoch mid-stream
        ((0, EPOCH), (1, EPOCH), PositionVerdict.DELIVER),
    ],
)
def test_check_position(
    last: tuple[int, str], pub: tuple[int, str], verdict: PositionVerdict
) -> None:
    assert check_position(last[0], last[1], pub[0], pub[1]) is verdict


def test_idle_position_check_with_fake_clock() -> None:
    """R-2: the periodic check runs once more than 40 s passed since the last one."""
    now = 1000.0
    last_check = now
    due = []
    for step in range(9):  # 0, 10, ..., 80 s
        t = now + step * 10
        if is_position_check_due(last_check, t, 40.0):
            due.append(step * 10)
            last_check = t
    assert due == [50]
    assert is_position_check_due(0.0, 1e9, 0.0) is False  # 0 disables the check


@pytest.mark.parametrize(
    ("pub_time", "now", "max_lag", "lagging"),
    [
        (10_000, 11_000, 1_000, False),  # exactly the allowed lag
        (10_000, 11_001, 1_000, True),  # one ms over
        (10_000, 10_500, 1_000, False),
        (10_000, 99_000, 0, False),  # 0 disables the check
        (0, 99_000, 1_000, False),  # a publication without a time is never lagging
        (12_000, 11_000, 1_000, False),  # clock skew: published "in the future"
    ],
)
def test_is_lagging_hr03(pub_time: int, now: int, max_lag: int, lagging: bool) -> None:
    assert is_lagging(pub_time, now, max_lag) is lagging


def test_position_valid_only_at_stream_top() -> None:
    assert is_position_valid(StreamPosition(7, EPOCH), StreamPosition(7, EPOCH)) is True
    assert is_position_valid(StreamPosition(6, EPOCH), StreamPosition(7, EPOCH)) is False
    assert is_position_valid(StreamPosition(7, EPOCH), StreamPosition(7, "otherone")) is False
