"""Where a new subscriber stands in the channel stream: position, recovery, cache recovery.

Spec: HR-03 (positioning), HR-05/HR-06 (stream recovery and the reply flags), HR-07 (the
subscribe/live race), HR-08 with CH-30/CH-31 (cache recovery and ``auto_cache_recover``).

Theory of operation
-------------------
``sync_position`` runs while the subscriber is registered in the hub with a ``buffer`` (see
``core.subscribing``). It reads the stream once:

* no recovery: only the top (``limit 0``);
* stream recovery: everything after the client's position, at most
  ``recovery_max_publication_limit`` publications, all-or-nothing (HR-05);
* cache recovery (namespace ``force_recovery_mode: "cache"``): only the newest publication
  (``limit 1``, newest first), or the newest one passing the subscriber's tags filter. With
  ``auto_cache_recover`` (or a connect proxy ``cache_recover``) the server recovers on every
  subscribe, also when the client did not ask, so a fresh subscriber gets the latest
  publication (HR-08). Without fossil delta only the latest publication is sent.

Publications buffered meanwhile are merged into the reply when recovered, otherwise kept for
``activate`` to deliver after the reply; the subscriber's position ends at the newest offset
it was given or will be given.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import msgspec

from centripetal.core import tags_filter
from centripetal.core.errors import CommandError, DisconnectRequest
from centripetal.core.recovery import (
    is_cache_recovered,
    is_stream_recovered,
    merge_after_cache,
    merge_publications,
)
from centripetal.engines.base import (
    HistoryFilter,
    Publication,
    StreamPosition,
    UnrecoverablePositionError,
)
from centripetal.observability.logs import failure_log
from centripetal.protocol import messages

if TYPE_CHECKING:
    from centripetal.engines.base import Broker
    from centripetal.hub import Subscriber
    from centripetal.node import Node
    from centripetal.protocol.messages import FilterNode

CACHE_MODE = "cache"

failures = failure_log("centripetal.client")


def to_wire_publication(pub: Publication, *, as_json_string: bool) -> messages.Publication:
    """Engine publication -> protocol Publication; JSON delta subscribers get the payload as a
    JSON string (HR-09)."""
    data = pub.data
    if as_json_string:
        data = msgspec.json.encode(data.decode("utf-8", "replace"))
    info = None
    if pub.info is not None:
        i = pub.info
        info = messages.ClientInfo(
            user=i.user, client=i.client, conn_info=i.conn_info or b"", chan_info=i.chan_info or b""
        )
    return messages.Publication(data=data, info=info, offset=pub.offset, tags=pub.tags or {})


def uses_cache_recovery(sub: Subscriber) -> bool:
    """CH-30: recovering subscribers of a ``force_recovery_mode: "cache"`` namespace."""
    return sub.recoverable and sub.options.force_recovery_mode == CACHE_MODE


def warn_cache_recover_ignored(channel: str) -> None:
    """PX-10 ``subs[ch].cache_recover`` on a channel that does not recover in cache mode: said
    loudly, once per channel in a while, rather than ignored silently."""
    failures.failure(
        f"connect proxy cache_recover for channel {channel!r}",
        "the channel is not recoverable in cache mode (needs force_recovery and "
        "force_recovery_mode 'cache'); subscribed without cache recovery",
        key=("cache_recover", channel),
        level=logging.WARNING,
    )


async def sync_position(
    node: Node,
    sub: Subscriber,
    result: messages.SubscribeResult,
    *,
    recover: bool,
    since: StreamPosition | None,
    reject_unrecovered: bool,
    cache_recover: bool,
    binary: bool,
) -> None:
    """Fill ``result`` (epoch, offset, recovery fields) and the subscriber's position."""
    broker = node.broker
    channel = sub.channel
    meta_ttl = sub.options.history_meta_ttl or node.config.channel.history_meta_ttl
    cache_mode = uses_cache_recovery(sub)
    if cache_mode and (cache_recover or sub.options.auto_cache_recover):
        recover = True  # CH-31: the server recovers on every (re)subscribe (HR-06)
        if since is None:  # a server-side subscription nobody gave a position
            since = StreamPosition()
    recovered = False
    pubs: list[Publication] = []
    if recover and sub.recoverable and since is not None:
        limit = node.config.client.recovery_max_publication_limit
        if cache_mode:
            top, pubs, recovered = await _read_cache(
                broker, channel, since, meta_ttl, sub.tags_filter, limit
            )
        else:
            top, pubs, recovered = await _read_since(broker, channel, since, meta_ttl, limit)
        if not recovered and reject_unrecovered:
            raise CommandError(112)
        result.was_recovering = True
    else:
        top = (await broker.history(channel, HistoryFilter(meta_ttl=meta_ttl))).position
    buffered = sub.buffer or []
    sub.buffer = []
    newer = [p for p, pos in buffered if pos.epoch == top.epoch and p.offset > top.offset]
    if recovered:
        if cache_mode:
            merged, ok = merge_after_cache(pubs, newer, top.offset)
        else:
            merged, ok = merge_publications(pubs, newer)
        if not ok:
            raise DisconnectRequest(3010)
        flt = sub.tags_filter
        sent = [p for p in merged if flt is None or tags_filter.matches(flt, p.tags)]
        if cache_mode and not sub.delta:
            sent = sent[-1:]  # HR-08: only the latest publication matters
        as_string = sub.delta and not binary
        result.recovered = True
        result.offset = since.offset if since else 0
        result.publications = [to_wire_publication(p, as_json_string=as_string) for p in sent]
        sub.last_offset = max(top.offset, merged[-1].offset) if merged else top.offset
        sub.delta_ready = bool(sent)
    else:
        sub.last_offset = top.offset
        result.offset = top.offset
        sub.buffer = [(p, pos) for p, pos in buffered if p.offset > top.offset]
    sub.epoch = top.epoch
    result.epoch = top.epoch


async def _read_since(
    broker: Broker, channel: str, since: StreamPosition, meta_ttl: float, limit: int
) -> tuple[StreamPosition, list[Publication], bool]:
    """HR-05 stream recovery: (top, publications to send, recovered)."""
    try:
        hist = await broker.history(
            channel, HistoryFilter(limit=limit, since=since, meta_ttl=meta_ttl)
        )
    except UnrecoverablePositionError as exc:
        top = exc.position
        if top is None:
            top = (await broker.history(channel, HistoryFilter(meta_ttl=meta_ttl))).position
        return top, [], False
    top = hist.position
    if is_stream_recovered(hist.publications, top, since.offset, since.epoch):
        return top, hist.publications, True
    return top, [], False


async def _read_cache(
    broker: Broker,
    channel: str,
    since: StreamPosition,
    meta_ttl: float,
    flt: FilterNode | None,
    scan_limit: int,
) -> tuple[StreamPosition, list[Publication], bool]:
    """HR-08 cache recovery: (top, [the latest publication] or [], recovered).

    With a tags filter (HR-14) the publication sent is the newest one passing it, looked for
    among the ``scan_limit`` newest ones; ``recovered`` depends on the latest one.
    """
    limit = 1 if flt is None else scan_limit
    hist = await broker.history(
        channel, HistoryFilter(limit=limit, reverse=True, meta_ttl=meta_ttl)
    )
    top = hist.position
    latest = hist.publications[0] if hist.publications else None
    pubs, recovered = is_cache_recovered(latest, top, since.offset, since.epoch)
    if pubs and flt is not None:
        pubs = _newest_matching(hist.publications, flt)
    return top, pubs, recovered


def _newest_matching(newest_first: list[Publication], flt: FilterNode) -> list[Publication]:
    for pub in newest_first:
        if tags_filter.matches(flt, pub.tags):
            return [pub]
    return []
