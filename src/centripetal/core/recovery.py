"""Recovery and positioning arithmetic (HR-03, HR-05, HR-07, HR-08), sans-I/O.

Theory of operation
-------------------
A channel stream is identified by ``(epoch, offset)`` (HR-01). Every decision here is plain
arithmetic on those two values, so the session and the hub share one implementation:

* **Stream recovery** (HR-05): the client sends the last position it saw; the server reads the
  stream since that offset (at most ``recovery_max_publication_limit`` publications). Recovery
  succeeds only when the epoch is the same and the read is complete: no publications and the
  top equals the requested offset, or publications that start right after the requested offset
  and end at the top. Otherwise nothing is returned (never a partial fill).
* **Cache recovery** (HR-08, CH-30): only the latest publication matters; it is returned when
  it is the top of the stream, nothing when the client already has the top. Publications that
  arrived over PUB/SUB meanwhile must continue the stream right after its top.
* **Merge** (HR-07): publications that arrived over PUB/SUB while the stream was read are merged
  with the recovered ones, ascending and without duplicates; a hole means lost state.
* **Positioning** (HR-03): each live publication is compared with the subscriber's last offset:
  the next offset is delivered, older ones are dropped as stale, a hole or another epoch is
  insufficient state (unsubscribe 2500 for client-side subscriptions, disconnect 3010 for
  server-side ones). The periodic check compares the last offset with the stream top.
* **Time lag** (HR-03, ``client.channel_position_max_time_lag``): a publication that reaches
  this node later than the allowed lag after it was published means PUB/SUB fell behind; a
  positioned subscriber gets insufficient state as for a hole.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable

from centripetal.engines.base import Publication, StreamPosition

__all__ = [
    "PositionVerdict",
    "check_position",
    "is_cache_recovered",
    "is_lagging",
    "is_position_check_due",
    "is_position_valid",
    "is_stream_recovered",
    "merge_after_cache",
    "merge_publications",
]


def is_stream_recovered(
    pubs: list[Publication], current: StreamPosition, req_offset: int, req_epoch: str
) -> bool:
    """HR-05: whether ``pubs`` (read since ``req_offset``, ascending) fill the whole gap.

    An empty ``req_epoch`` is accepted as "any epoch", as Centrifugo does.
    """
    if req_epoch and req_epoch != current.epoch:
        return False
    if not pubs:
        return current.offset == req_offset
    return pubs[0].offset == req_offset + 1 and pubs[-1].offset == current.offset


def is_cache_recovered(
    latest: Publication | None, current: StreamPosition, req_offset: int, req_epoch: str
) -> tuple[list[Publication], bool]:
    """HR-08 cache recovery: ``(publications to send, recovered)``.

    ``latest`` is the newest publication still in the stream (``None`` when the stream is
    empty). A client already at the top (same epoch, offset > 0) gets nothing but is recovered;
    otherwise the latest publication is sent when it is the top of the stream.
    """
    same_state = req_offset > 0 and req_offset == current.offset and req_epoch == current.epoch
    if latest is None:
        return [], same_state
    recovered = latest.offset == current.offset
    if recovered and not same_state:
        return [latest], True
    return [], recovered


def merge_publications(
    recovered: list[Publication],
    buffered: list[Publication],
    since_offset: int | None = None,
) -> tuple[list[Publication], bool]:
    """HR-07: merge recovered and buffered publications, ascending and deduplicated by offset.

    The second value is False when the buffered publications reveal a hole: consecutive
    offsets of the merged list must differ by exactly one, and, when ``since_offset`` (the
    position the stream was read from) is given, the list must start right after it.
    Without buffered publications the recovered list is trusted as read (its completeness is
    :func:`is_stream_recovered`'s job).
    """
    merged = _unique_sorted([*recovered, *buffered])
    if not buffered:
        return merged, True
    expected = None if since_offset is None else since_offset + 1
    for pub in merged:
        if since_offset is not None and pub.offset <= since_offset:
            continue
        if expected is not None and pub.offset != expected:
            return [], False
        expected = pub.offset + 1
    return merged, True


def merge_after_cache(
    recovered: list[Publication], buffered: list[Publication], top_offset: int
) -> tuple[list[Publication], bool]:
    """HR-08 + HR-07: the cache-recovered publication (at most one) followed by the buffered
    live publications newer than ``top_offset``, which must continue the stream from there.

    The recovered publication may be older than the top (a tags filter skipped newer ones), so
    continuity is checked from ``top_offset`` and not from the recovered publication.
    """
    later, ok = merge_publications([], buffered, since_offset=top_offset)
    if not ok:
        return [], False
    return [*recovered, *(p for p in later if p.offset > top_offset)], True


def _unique_sorted(pubs: Iterable[Publication]) -> list[Publication]:
    seen: set[int] = set()
    out: list[Publication] = []
    for pub in sorted(pubs, key=lambda p: p.offset):
        if pub.offset in seen:
            continue
        seen.add(pub.offset)
        out.append(pub)
    return out


class PositionVerdict(enum.Enum):
    """What to do with a live publication of a positioned subscription (HR-03)."""

    DELIVER = "deliver"  # the next offset: deliver and remember (pub_offset, pub_epoch)
    SKIP_STALE = "skip_stale"  # already delivered (offset <= last): drop silently
    INSUFFICIENT_STATE = "insufficient_state"  # hole or new epoch: 2500 / 3010


def check_position(
    last_offset: int, last_epoch: str, pub_offset: int, pub_epoch: str
) -> PositionVerdict:
    """HR-03: compare a publication's position with the subscriber's last position.

    A subscriber that does not know the epoch yet (empty ``last_epoch`` at offset 0, e.g. the
    stream had no meta when it subscribed) adopts the epoch of a stream's first publication
    (offset 1); any other epoch change is insufficient state.
    """
    if pub_epoch != last_epoch:
        if not last_epoch and last_offset == 0 and pub_offset == 1:
            return PositionVerdict.DELIVER
        return PositionVerdict.INSUFFICIENT_STATE
    expected = last_offset + 1
    if pub_offset > expected:
        return PositionVerdict.INSUFFICIENT_STATE
    if pub_offset < expected:
        return PositionVerdict.SKIP_STALE
    return PositionVerdict.DELIVER


def is_lagging(pub_time_ms: int, now_ms: int, max_lag_ms: int) -> bool:
    """HR-03 ``client.channel_position_max_time_lag``: True when a publication stamped at
    ``pub_time_ms`` (unix ms, 0 = unknown) arrives more than ``max_lag_ms`` after it was
    published. A lag of 0 disables the check, as does a publication without a time."""
    return max_lag_ms > 0 and pub_time_ms > 0 and now_ms - pub_time_ms > max_lag_ms


def is_position_check_due(last_check: float, now: float, delay: float) -> bool:
    """HR-03 periodic check: due once more than ``delay`` seconds passed since the last one.

    ``delay`` is ``client.channel_position_check_delay`` (40 s); 0 disables the check.
    """
    if delay <= 0:
        return False
    return now - last_check > delay


def is_position_valid(last: StreamPosition, top: StreamPosition) -> bool:
    """HR-03 periodic check: the subscriber's position must equal the stream top."""
    return last.epoch == top.epoch and last.offset == top.offset
