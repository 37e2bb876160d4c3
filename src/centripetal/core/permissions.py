"""Channel permission decisions as pure functions (spec P-90, P-91, P-92, TR-10, CH-20..CH-49).

Each function applies Centrifugo's ORDERED rules to already-resolved inputs and returns a
decision; executing it (verifying a token, calling a proxy, answering an error) is the
caller's job. Namespace resolution comes first and is done by ``ChannelRules.options``, which
raises ``UnknownNamespaceError`` (P-90 step 1: 102, TR-10: 3501).
"""

from __future__ import annotations

import json
from enum import Enum
from typing import Any

from centripetal.config import schema
from centripetal.core.channels import ChannelRules

__all__ = [
    "SUBSCRIPTION_TYPES",
    "PublishAccess",
    "SubscribeAccess",
    "check_publication_data",
    "history_allowed",
    "presence_allowed",
    "publish_access",
    "server_side_channel_allowed",
    "subscribe_access",
    "subscribe_opt_ins",
]

SUBSCRIPTION_TYPES: dict[str, int] = {
    "stream": 0,
    "map": 1,
    "map_clients": 2,
    "map_users": 3,
    "shared_poll": 4,
}
"""Namespace ``subscription_type`` (CH-49) -> ``SubscribeRequest.type`` value (P-31)."""


class SubscribeAccess(Enum):
    """Outcome of ``subscribe_access`` (P-90)."""

    BAD_NAME = "bad_name"  # step 2: error 107
    TOKEN = "token"  # step 5: verify the sub token; its options replace the namespace ones
    ALLOW = "allow"  # steps 6, 9, 10
    PROXY = "proxy"  # step 7: subscribe proxy decides (108 when none is configured)
    STREAM_PROXY = "stream_proxy"  # step 8
    DENY = "deny"  # steps 3, 4 and the final else: error 103


class PublishAccess(Enum):
    """Outcome of ``publish_access`` (P-91)."""

    ALLOW = "allow"
    PROXY = "proxy"  # publish proxy decides (108 when none is configured)
    STREAM_PROXY = "stream_proxy"  # bidirectional subscribe stream carries the publication
    DENY = "deny"  # 103


def subscribe_access(
    rules: ChannelRules,
    opts: schema.ChannelOptions,
    channel: str,
    user: str,
    *,
    has_token: bool,
    insecure: bool,
    sub_type: int = 0,
) -> SubscribeAccess:
    """P-90 steps (2)..(10); step (1) already happened in ``rules.options(channel)``.

    ``sub_type`` is ``SubscribeRequest.type`` (0 = stream). Library checks (empty channel,
    length, already subscribed, channel limit, delta) run before this.
    """
    if not rules.valid_name(channel, opts):  # (2)
        return SubscribeAccess.BAD_NAME
    if SUBSCRIPTION_TYPES.get(opts.subscription_type, 0) != sub_type:  # (3)
        return SubscribeAccess.DENY
    if not has_token and rules.is_private(channel):  # (4)
        return SubscribeAccess.DENY
    if has_token:  # (5)
        return SubscribeAccess.TOKEN
    user_limited = rules.is_user_limited(channel, opts)
    if user_limited and rules.user_allowed(channel, user):  # (6)
        return SubscribeAccess.ALLOW
    if opts.subscribe_proxy_enabled:  # (7)
        return SubscribeAccess.PROXY
    if opts.subscribe_stream_proxy_enabled:  # (8)
        return SubscribeAccess.STREAM_PROXY
    if (
        opts.allow_subscribe_for_client
        and (user != "" or opts.allow_subscribe_for_anonymous)
        and not user_limited
    ):  # (9)
        return SubscribeAccess.ALLOW
    if insecure:  # (10)
        return SubscribeAccess.ALLOW
    return SubscribeAccess.DENY


def _forced(opts: schema.ChannelOptions, override: schema.Override | None) -> tuple[bool, ...]:
    positioning, recovery, push = (
        opts.force_positioning,
        opts.force_recovery,
        opts.force_push_join_leave,
    )
    if override is not None:
        if override.force_positioning is not None:
            positioning = override.force_positioning
        if override.force_recovery is not None:
            recovery = override.force_recovery
        if override.force_push_join_leave is not None:
            push = override.force_push_join_leave
    return positioning, recovery, push


def subscribe_opt_ins(
    opts: schema.ChannelOptions,
    user: str,
    *,
    positioned: bool,
    recoverable: bool,
    join_leave: bool,
    subscribed_via_proxy: bool,
    insecure: bool = False,
    override: schema.Override | None = None,
) -> tuple[bool, bool, bool]:
    """(positioned, recoverable, push_join_leave) for a granted subscription (end of P-90).

    Forced by the namespace (CH-22, CH-26, CH-28), or by a token ``override`` (AU-20). The
    client's opt-ins are granted when ``allow_positioning``/``allow_recovery`` or history
    permission (CH-27, CH-29), and ``join_leave`` when the namespace has ``join_leave`` and
    presence permission; permissions are judged as for a subscriber. On the (stream) proxy
    path opt-ins are not applied: only the namespace's forced values are returned and the
    proxy result overrides them. Recoverable implies positioned (CH-28).
    """
    force_pos, force_rec, force_push = _forced(opts, override)
    if subscribed_via_proxy:
        return force_pos or force_rec, force_rec, force_push
    history = history_allowed(opts, user, subscribed=True, insecure=insecure)
    rec = force_rec or (recoverable and (opts.allow_recovery or history))
    pos = force_pos or rec or (positioned and (opts.allow_positioning or history))
    push = force_push or (
        join_leave
        and opts.join_leave
        and presence_allowed(opts, user, subscribed=True, insecure=insecure)
    )
    return pos, rec, push


def publish_access(
    opts: schema.ChannelOptions, user: str, *, subscribed: bool, insecure: bool
) -> PublishAccess:
    """P-91 after the namespace (102), name (107) and data-format (107) checks."""
    if opts.publish_proxy_enabled:
        return PublishAccess.PROXY
    if opts.subscribe_stream_proxy_enabled and opts.subscribe_stream_proxy_bidirectional:
        return PublishAccess.STREAM_PROXY
    user_ok = user != "" or opts.allow_publish_for_anonymous
    if opts.allow_publish_for_client and user_ok:
        return PublishAccess.ALLOW
    if opts.allow_publish_for_subscriber and subscribed and user_ok:
        return PublishAccess.ALLOW
    if insecure:
        return PublishAccess.ALLOW
    return PublishAccess.DENY


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def check_publication_data(fmt: str | schema.ChannelOptions, data: bytes) -> bool:
    """``publication_data_format`` check (CH-43, P-91): ``""`` rejects empty data, ``json``
    needs valid JSON, ``json_object`` a JSON object, ``binary`` accepts anything."""
    if isinstance(fmt, schema.ChannelOptions):
        fmt = fmt.publication_data_format
    if fmt == "binary":
        return True
    if fmt == "":
        return len(data) > 0
    try:
        value = json.loads(data.decode("utf-8"), parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError, RecursionError):
        return False
    if fmt == "json_object":
        return isinstance(value, dict)
    return fmt == "json"


def history_allowed(
    opts: schema.ChannelOptions, user: str, *, subscribed: bool, insecure: bool
) -> bool:
    """P-92 for history; the 108 check (``opts.history_enabled``) is separate and first."""
    user_ok = user != "" or opts.allow_history_for_anonymous
    if opts.allow_history_for_client and user_ok:
        return True
    if opts.allow_history_for_subscriber and subscribed and user_ok:
        return True
    return insecure


def presence_allowed(
    opts: schema.ChannelOptions, user: str, *, subscribed: bool, insecure: bool
) -> bool:
    """P-92 for presence and presence_stats; the 108 check (``opts.presence``) is separate."""
    user_ok = user != "" or opts.allow_presence_for_anonymous
    if opts.allow_presence_for_client and user_ok:
        return True
    if opts.allow_presence_for_subscriber and subscribed and user_ok:
        return True
    return insecure


def server_side_channel_allowed(
    rules: ChannelRules,
    opts: schema.ChannelOptions,
    channel: str,
    user: str,
    insecure: bool,
) -> bool:
    """Whether a ``connect.subs`` key becomes a server-side subscription (TR-10).

    Skipped (False): private ``$`` channels, subscribe (stream) proxy namespaces, too long or
    invalid names. Granted: user-limited match, ``allow_subscribe_for_client`` (+anonymous) on a
    non user-limited channel, or ``client.insecure``. Unknown namespace (3501) is raised by
    ``rules.options`` before this is called.
    """
    if rules.is_private(channel) or rules.too_long(channel):
        return False
    if not rules.valid_name(channel, opts):
        return False
    if opts.subscribe_proxy_enabled or opts.subscribe_stream_proxy_enabled:
        return False
    if SUBSCRIPTION_TYPES.get(opts.subscription_type, 0) != 0:
        return False
    user_limited = rules.is_user_limited(channel, opts)
    if user_limited and rules.user_allowed(channel, user):
        return True
    if (
        opts.allow_subscribe_for_client
        and (user != "" or opts.allow_subscribe_for_anonymous)
        and not user_limited
    ):
        return True
    return insecure
