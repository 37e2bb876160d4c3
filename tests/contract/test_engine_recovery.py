"""R-1: centrifuge's ``clientRecoverTests`` decision table over recovery arithmetic + engine.

Each row publishes ``num_pubs`` publications with ``history_size``/``history_ttl``, lets
``sleep`` seconds pass, then recovers from ``since_offset`` in the current epoch, in stream
mode (HR-05; ``limit`` is the recovery publication limit, 0 = unlimited as in the original
table) or cache mode (HR-08). The expected ``recovered`` flag and publication count are the
table's, unchanged (22 rows).
"""

from __future__ import annotations

from typing import NamedTuple

import pytest
from contract.engine_harness import EngineHarness

from centripetal.core.recovery import is_cache_recovered, is_stream_recovered
from centripetal.engines.base import HistoryFilter, Publication, PublishOptions, StreamPosition


class Row(NamedTuple):
    name: str
    history_size: int
    history_ttl: int
    num_pubs: int
    since_offset: int
    num_recovered: int
    sleep: int
    limit: int
    recovered: bool
    mode: str


STREAM, CACHE = "stream", "cache"

ROWS = [
    Row("empty_stream", 10, 60, 0, 0, 0, 0, 0, True, STREAM),
    Row("from_position", 10, 60, 10, 8, 2, 0, 0, True, STREAM),
    Row("from_position_limited", 10, 60, 10, 5, 0, 0, 2, False, STREAM),
    Row("from_position_with_server_limit", 10, 60, 10, 5, 0, 0, 1, False, STREAM),
    Row("from_position_that_already_gone", 10, 60, 20, 8, 0, 0, 0, False, STREAM),
    Row("from_position_that_not_exist_yet", 10, 60, 20, 108, 0, 0, 0, False, STREAM),
    Row("same_position_no_pubs_expected", 10, 60, 7, 7, 0, 0, 0, True, STREAM),
    Row("empty_position_recover_expected", 10, 60, 4, 0, 4, 0, 0, True, STREAM),
    Row("from_position_in_expired_stream", 10, 1, 10, 8, 0, 3, 0, False, STREAM),
    Row("from_same_position_in_expired_stream", 10, 1, 1, 1, 0, 3, 0, True, STREAM),
    Row("from_same_position_in_expired_stream_2", 10, 1, 1, 1, 0, 3, 0, True, STREAM),
    Row("cache_empty_stream", 10, 60, 0, 0, 0, 0, 0, False, CACHE),
    Row("cache_from_position", 10, 60, 10, 8, 1, 0, 0, True, CACHE),
    Row("cache_from_position_limited", 10, 60, 10, 5, 1, 0, 2, True, CACHE),
    Row("cache_from_position_with_server_limit", 10, 60, 10, 5, 1, 0, 1, True, CACHE),
    Row("cache_from_position_that_already_gone", 10, 60, 20, 8, 1, 0, 0, True, CACHE),
    Row("cache_from_position_that_not_exist_yet", 10, 60, 20, 108, 1, 0, 0, True, CACHE),
    Row("cache_same_position_no_pubs_expected", 10, 60, 7, 7, 0, 0, 0, True, CACHE),
    Row("cache_empty_position_recover_expected", 10, 60, 4, 0, 1, 0, 0, True, CACHE),
    Row("cache_from_position_in_expired_stream", 10, 1, 10, 8, 0, 3, 0, False, CACHE),
    Row("cache_from_same_position_in_expired_stream", 10, 1, 1, 1, 0, 3, 0, True, CACHE),
    Row("cache_from_same_position_in_expired_stream_2", 10, 1, 1, 1, 0, 3, 0, True, CACHE),
]


def test_table_has_22_rows() -> None:
    assert len(ROWS) == 22


async def recover(engine: EngineHarness, channel: str, row: Row) -> tuple[list[Publication], bool]:
    broker = engine.broker
    top = (await broker.history(channel, HistoryFilter(limit=0))).position
    if row.mode == CACHE:
        res = await broker.history(channel, HistoryFilter(limit=1, reverse=True))
        latest = res.publications[0] if res.publications else None
        return is_cache_recovered(latest, res.position, row.since_offset, top.epoch)
    limit = row.limit if row.limit > 0 else -1
    since = StreamPosition(row.since_offset, top.epoch)
    res = await broker.history(channel, HistoryFilter(limit=limit, since=since))
    if is_stream_recovered(res.publications, res.position, row.since_offset, top.epoch):
        return res.publications, True
    return [], False


@pytest.mark.parametrize("row", ROWS, ids=[r.name for r in ROWS])
async def test_client_recover_table(engine: EngineHarness, row: Row) -> None:
    """R-1 / HR-05 / HR-08: exact ``recovered`` flag and publication count."""
    channel = "test_recovery_" + row.name
    opts = PublishOptions(history_size=row.history_size, history_ttl=float(row.history_ttl))
    for i in range(1, row.num_pubs + 1):
        await engine.broker.publish(channel, b'{"n": %d}' % i, opts)
    await engine.advance(float(row.sleep))
    pubs, recovered = await recover(engine, channel, row)
    assert recovered is row.recovered
    assert len(pubs) == row.num_recovered
    offs = [p.offset for p in pubs]
    assert offs == sorted(offs)
    if pubs and row.mode == STREAM:
        assert offs == list(range(row.since_offset + 1, row.num_pubs + 1))
    if pubs and row.mode == CACHE:
        assert offs == [row.num_pubs]
