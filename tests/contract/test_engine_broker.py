"""Broker contract: publish, history arithmetic, TTLs, idempotency, versions (HR-01..HR-13).

Runs against every engine in ``ENGINE_FACTORIES``; P-36 / API-18 / API-19 rows are cited per test.
"""

from __future__ import annotations

import pytest
from contract.engine_harness import EngineHarness

from centripetal.engines.base import (
    ClientInfo,
    HistoryFilter,
    PublishOptions,
    StreamPosition,
    UnrecoverablePositionError,
)

HIST = PublishOptions(history_size=100, history_ttl=300.0)


def hist_opts(**kw: object) -> PublishOptions:
    base: dict[str, object] = {"history_size": 100, "history_ttl": 300.0}
    base.update(kw)
    return PublishOptions(**base)  # type: ignore[arg-type]


async def publish_n(engine: EngineHarness, channel: str, n: int, **kw: object) -> StreamPosition:
    pos = StreamPosition()
    for i in range(1, n + 1):
        pos, suppressed = await engine.broker.publish(channel, b'{"n":%d}' % i, hist_opts(**kw))
        assert not suppressed
    return pos


async def offsets(engine: EngineHarness, channel: str, **flt: object) -> list[int]:
    res = await engine.broker.history(channel, HistoryFilter(**flt))  # type: ignore[arg-type]
    return [p.offset for p in res.publications]


# -- publish ----------------------------------------------------------------------------------


async def test_publish_without_history_has_no_position(engine: EngineHarness) -> None:
    """HR-02: without history the result is offset 0, epoch ''; the handler gets offset 0."""
    info = ClientInfo(user="42", client="c1", conn_info=b'{"a":1}')
    pos, suppressed = await engine.broker.publish(
        "ch", b'{"x":1}', PublishOptions(client_info=info, tags={"k": "v"})
    )
    assert (pos.offset, pos.epoch, suppressed) == (0, "", False)
    [event] = engine.handler.events
    kind, channel, pub, position, use_delta, prev = event
    assert (kind, channel, use_delta, prev) == ("pub", "ch", False, None)
    assert (pub.data, pub.offset, pub.info, pub.tags) == (b'{"x":1}', 0, info, {"k": "v"})
    assert (position.offset, position.epoch) == (0, "")
    if engine.wall_ms:
        assert pub.time == engine.wall_ms


async def test_publish_with_history_assigns_consecutive_offsets(engine: EngineHarness) -> None:
    """HR-01: offsets start at 1 and grow by one; the epoch stays; the handler sees the same."""
    results = [await engine.broker.publish("ch", b"%d" % i, HIST) for i in range(3)]
    assert [(p.offset, s) for p, s in results] == [(1, False), (2, False), (3, False)]
    epochs = {p.epoch for p, _ in results}
    assert len(epochs) == 1 and next(iter(epochs)) != ""
    handled = [(e[2].offset, e[3].offset, e[3].epoch) for e in engine.handler.events]
    assert handled == [
        (1, 1, results[0][0].epoch),
        (2, 2, results[0][0].epoch),
        (3, 3, results[0][0].epoch),
    ]


async def test_handler_called_before_publish_returns(engine: EngineHarness) -> None:
    """Append and fan-out are one step: not subscribed, the publication is delivered when
    publish returns."""
    pos, _ = await engine.broker.publish("ch", b"a", HIST)
    assert [p.offset for p in engine.handler.publications()] == [pos.offset]


async def test_use_delta_passes_previous_publication(engine: EngineHarness) -> None:
    """HR-09: with use_delta the handler gets the previous publication of the stream."""
    await engine.broker.publish("ch", b"first", hist_opts(use_delta=True))
    await engine.broker.publish("ch", b"second", hist_opts(use_delta=True))
    await engine.broker.publish("ch", b"third", hist_opts(use_delta=False))
    prevs = [e[5] for e in engine.handler.events]
    assert prevs[0] is None
    assert prevs[1] is not None and (prevs[1].data, prevs[1].offset) == (b"first", 1)
    assert prevs[2] is None
    assert [e[4] for e in engine.handler.events] == [True, True, False]


async def test_join_and_leave_reach_the_handler(engine: EngineHarness) -> None:
    """PR-04: joins and leaves go through the broker to the handler, in order."""
    info = ClientInfo(user="u", client="c")
    await engine.broker.publish_join("ch", info)
    await engine.broker.publish_leave("ch", info)
    assert engine.handler.events == [("join", "ch", info), ("leave", "ch", info)]


async def test_subscribe_and_unsubscribe_are_accepted(engine: EngineHarness) -> None:
    await engine.broker.subscribe("ch")
    await engine.broker.publish("ch", b"x", PublishOptions())
    await engine.handler.settled(1)
    await engine.broker.unsubscribe("ch")
    assert len(engine.handler.publications()) == 1


# -- history (P-36, API-18, HR-11) ------------------------------------------------------------


async def test_history_of_unknown_channel_creates_position(engine: EngineHarness) -> None:
    """P-36: an empty channel still answers with a position carrying an epoch."""
    first = await engine.broker.history("ch", HistoryFilter(limit=-1))
    assert first.publications == [] and first.position.offset == 0 and first.position.epoch
    again = await engine.broker.history("ch", HistoryFilter())
    assert (again.position.offset, again.position.epoch) == (0, first.position.epoch)
    pos, _ = await engine.broker.publish("ch", b"x", HIST)
    assert (pos.offset, pos.epoch) == (1, first.position.epoch)


async def test_history_limit_zero_gives_only_position(engine: EngineHarness) -> None:
    top = await publish_n(engine, "ch", 5)
    res = await engine.broker.history("ch", HistoryFilter(limit=0))
    assert res.publications == []
    assert (res.position.offset, res.position.epoch) == (5, top.epoch)


async def test_history_limit_negative_gives_whole_stream(engine: EngineHarness) -> None:
    await publish_n(engine, "ch", 5)
    res = await engine.broker.history("ch", HistoryFilter(limit=-1))
    assert [p.offset for p in res.publications] == [1, 2, 3, 4, 5]
    assert [p.data for p in res.publications] == [b'{"n":%d}' % i for i in range(1, 6)]


async def test_history_limit_positive_takes_oldest_first(engine: EngineHarness) -> None:
    await publish_n(engine, "ch", 5)
    assert await offsets(engine, "ch", limit=2) == [1, 2]


async def test_history_reverse_without_since(engine: EngineHarness) -> None:
    await publish_n(engine, "ch", 5)
    assert await offsets(engine, "ch", limit=-1, reverse=True) == [5, 4, 3, 2, 1]
    assert await offsets(engine, "ch", limit=2, reverse=True) == [5, 4]


async def test_history_since_forward(engine: EngineHarness) -> None:
    """HR-11: forward pages return offsets > since.offset, ascending."""
    top = await publish_n(engine, "ch", 10)
    since = StreamPosition(4, top.epoch)
    assert await offsets(engine, "ch", limit=-1, since=since) == [5, 6, 7, 8, 9, 10]
    assert await offsets(engine, "ch", limit=3, since=since) == [5, 6, 7]
    assert await offsets(engine, "ch", limit=-1, since=StreamPosition(0, top.epoch)) == list(
        range(1, 11)
    )


async def test_history_since_reverse(engine: EngineHarness) -> None:
    """HR-11: backward pages return offsets < since.offset, newest first."""
    top = await publish_n(engine, "ch", 10)
    since = StreamPosition(6, top.epoch)
    assert await offsets(engine, "ch", limit=-1, since=since, reverse=True) == [5, 4, 3, 2, 1]
    assert await offsets(engine, "ch", limit=2, since=since, reverse=True) == [5, 4]


async def test_history_since_top_or_beyond_is_empty(engine: EngineHarness) -> None:
    top = await publish_n(engine, "ch", 3)
    for offset in (3, 4, 108):
        res = await engine.broker.history(
            "ch", HistoryFilter(limit=-1, since=StreamPosition(offset, top.epoch))
        )
        assert res.publications == []
        assert (res.position.offset, res.position.epoch) == (3, top.epoch)


async def test_history_since_other_epoch_is_unrecoverable(engine: EngineHarness) -> None:
    """P-36 / API-18: since.epoch != current epoch => error 112, carrying the current top."""
    top = await publish_n(engine, "ch", 3)
    with pytest.raises(UnrecoverablePositionError) as exc:
        await engine.broker.history(
            "ch", HistoryFilter(limit=-1, since=StreamPosition(1, "otherepo"))
        )
    assert exc.value.position is not None
    assert (exc.value.position.offset, exc.value.position.epoch) == (3, top.epoch)


async def test_history_since_empty_epoch_matches_any(engine: EngineHarness) -> None:
    await publish_n(engine, "ch", 3)
    assert await offsets(engine, "ch", limit=-1, since=StreamPosition(1, "")) == [2, 3]


async def test_forward_pagination_visits_every_publication(engine: EngineHarness) -> None:
    """HR-11 iteration recipe: pages of 7 from the start position cover 50 publications once."""
    start = (await engine.broker.history("ch", HistoryFilter())).position
    await publish_n(engine, "ch", 50)
    seen: list[int] = []
    offset = start.offset
    while True:
        page = await offsets(engine, "ch", limit=7, since=StreamPosition(offset, start.epoch))
        if not page:
            break
        seen.extend(page)
        offset = page[-1]
    assert seen == list(range(1, 51))


async def test_reverse_pagination_visits_every_publication(engine: EngineHarness) -> None:
    top = await publish_n(engine, "ch", 50)
    seen: list[int] = []
    since: StreamPosition | None = None
    while True:
        page = await offsets(engine, "ch", limit=7, since=since, reverse=True)
        seen.extend(page)
        if len(page) < 7:
            break
        since = StreamPosition(page[-1], top.epoch)
    assert seen == list(range(50, 0, -1))


async def test_history_keeps_info_and_tags(engine: EngineHarness) -> None:
    info = ClientInfo(user="u", client="c", conn_info=b"{}", chan_info=b'{"x":1}')
    await engine.broker.publish("ch", b"d", hist_opts(client_info=info, tags={"a": "b"}))
    [pub] = (await engine.broker.history("ch", HistoryFilter(limit=-1))).publications
    assert (pub.data, pub.offset, pub.info, pub.tags) == (b"d", 1, info, {"a": "b"})


# -- trimming and expiry ----------------------------------------------------------------------


async def test_stream_trimmed_to_history_size(engine: EngineHarness) -> None:
    """HR-01: at most history_size publications are kept; the top keeps counting."""
    await publish_n(engine, "ch", 5, history_size=3)
    res = await engine.broker.history("ch", HistoryFilter(limit=-1))
    assert [p.offset for p in res.publications] == [3, 4, 5]
    assert res.position.offset == 5


async def test_publications_expire_after_history_ttl(engine: EngineHarness) -> None:
    """HR-01: after history_ttl the publications are gone, the position (meta) stays."""
    top = await publish_n(engine, "ch", 3, history_ttl=1.0)
    await engine.advance(2.0)
    res = await engine.broker.history("ch", HistoryFilter(limit=-1))
    assert res.publications == []
    assert (res.position.offset, res.position.epoch) == (3, top.epoch)
    pos, _ = await engine.broker.publish("ch", b"x", hist_opts(history_ttl=1.0))
    assert (pos.offset, pos.epoch) == (4, top.epoch)


async def test_meta_expiry_starts_new_epoch(engine: EngineHarness) -> None:
    """HR-01: a stream whose meta expired is recreated with a new epoch, offsets restart."""
    top = await publish_n(engine, "ch", 3, history_ttl=1.0, history_meta_ttl=2.0)
    await engine.advance(3.0)
    res = await engine.broker.history("ch", HistoryFilter(limit=-1, meta_ttl=2.0))
    assert res.publications == []
    assert res.position.offset == 0
    assert res.position.epoch not in ("", top.epoch)
    pos, _ = await engine.broker.publish("ch", b"x", hist_opts(history_meta_ttl=2.0))
    assert (pos.offset, pos.epoch) == (1, res.position.epoch)


async def test_history_read_refreshes_meta(engine: EngineHarness) -> None:
    top = await publish_n(engine, "ch", 1, history_ttl=1.0, history_meta_ttl=3.0)
    for _ in range(3):
        await engine.advance(2.0)
        res = await engine.broker.history("ch", HistoryFilter(meta_ttl=3.0))
        assert (res.position.offset, res.position.epoch) == (1, top.epoch)


async def test_publish_refreshes_meta(engine: EngineHarness) -> None:
    top = await publish_n(engine, "ch", 1, history_ttl=1.0, history_meta_ttl=3.0)
    for i in range(3):
        await engine.advance(2.0)
        pos, _ = await engine.broker.publish(
            "ch", b"x", hist_opts(history_ttl=1.0, history_meta_ttl=3.0)
        )
        assert (pos.offset, pos.epoch) == (i + 2, top.epoch)


async def test_remove_history_keeps_position(engine: EngineHarness) -> None:
    """API-19: history_remove clears publications but keeps offset and epoch."""
    top = await publish_n(engine, "ch", 4)
    await engine.broker.remove_history("ch")
    res = await engine.broker.history("ch", HistoryFilter(limit=-1))
    assert res.publications == []
    assert (res.position.offset, res.position.epoch) == (4, top.epoch)
    pos, _ = await engine.broker.publish("ch", b"x", HIST)
    assert (pos.offset, pos.epoch) == (5, top.epoch)
    assert await offsets(engine, "ch", limit=-1) == [5]
    await engine.broker.remove_history("unknown")  # no error for a channel without stream


# -- idempotency (HR-12) and versions (HR-13) -------------------------------------------------


async def test_idempotent_publish_returns_first_result(engine: EngineHarness) -> None:
    first, s1 = await engine.broker.publish("ch", b"a", hist_opts(idempotency_key="k"))
    second, s2 = await engine.broker.publish("ch", b"b", hist_opts(idempotency_key="k"))
    assert (s1, s2) == (False, True)
    assert (second.offset, second.epoch) == (first.offset, first.epoch) == (1, first.epoch)
    assert [p.data for p in engine.handler.publications()] == [b"a"]
    assert await offsets(engine, "ch", limit=-1) == [1]


async def test_idempotency_key_is_per_channel(engine: EngineHarness) -> None:
    _, s1 = await engine.broker.publish("a", b"x", hist_opts(idempotency_key="k"))
    _, s2 = await engine.broker.publish("b", b"x", hist_opts(idempotency_key="k"))
    assert (s1, s2) == (False, False)
    assert len(engine.handler.publications()) == 2


async def test_idempotent_result_expires(engine: EngineHarness) -> None:
    opts = hist_opts(idempotency_key="k", idempotent_result_ttl=1.0)
    await engine.broker.publish("ch", b"a", opts)
    await engine.advance(2.0)
    pos, suppressed = await engine.broker.publish("ch", b"b", opts)
    assert (pos.offset, suppressed) == (2, False)
    assert [p.data for p in engine.handler.publications()] == [b"a", b"b"]


async def test_idempotent_publish_without_history(engine: EngineHarness) -> None:
    opts = PublishOptions(idempotency_key="k")
    r1 = await engine.broker.publish("ch", b"a", opts)
    r2 = await engine.broker.publish("ch", b"a", opts)
    assert [(p.offset, p.epoch, s) for p, s in (r1, r2)] == [(0, "", False), (0, "", True)]
    assert len(engine.handler.publications()) == 1


async def test_versioned_publish_drops_old_versions(engine: EngineHarness) -> None:
    """HR-13: version <= last version of the same version epoch is suppressed."""
    b = engine.broker
    p1, s1 = await b.publish("ch", b"v2", hist_opts(version=2, version_epoch="e"))
    p2, s2 = await b.publish("ch", b"v1", hist_opts(version=1, version_epoch="e"))
    p3, s3 = await b.publish("ch", b"v2", hist_opts(version=2, version_epoch="e"))
    p4, s4 = await b.publish("ch", b"v3", hist_opts(version=3, version_epoch="e"))
    assert [(p.offset, s) for p, s in ((p1, s1), (p2, s2), (p3, s3), (p4, s4))] == [
        (1, False),
        (1, True),
        (1, True),
        (2, False),
    ]
    assert p2.epoch == p1.epoch
    assert [p.data for p in engine.handler.publications()] == [b"v2", b"v3"]


async def test_versioned_publish_new_version_epoch_resets(engine: EngineHarness) -> None:
    b = engine.broker
    await b.publish("ch", b"a", hist_opts(version=5, version_epoch="one"))
    _, s_other = await b.publish("ch", b"b", hist_opts(version=1, version_epoch="two"))
    _, s_any = await b.publish("ch", b"c", hist_opts(version=1))  # empty epoch: compare only
    _, s_zero = await b.publish("ch", b"d", hist_opts(version=0))  # 0 = not versioned
    assert (s_other, s_any, s_zero) == (False, True, False)
    assert [p.data for p in engine.handler.publications()] == [b"a", b"b", b"d"]
