"""The client protocol over WebSocket (JSON), answer for answer against Centrifugo v6.9.1.

Each test is one conversation (``differential.harness``); the ``converse`` fixture fails on
any difference in replies, pushes, their order, error codes, ``temporary`` flags, close codes
and reasons. Rows: P-20..P-56 (commands), AU-01..AU-04 (tokens), CH-01..CH-08 (permissions),
P-12/P-13 (malformed input).
"""

from __future__ import annotations

import time
from typing import Any

import jwt
from differential.common import OPEN, config, token
from differential.conftest import Converse
from differential.harness import Api, Send

CONFIG = config(
    {
        "without_namespace": OPEN,
        "namespaces": [
            {"name": "closed"},
            {"name": "dm", "allow_user_limited_channels": True},
            {
                "name": "room",
                "allow_subscribe_for_client": True,
                "allow_publish_for_subscriber": True,
            },
        ],
    }
)


def connect(id_: int = 1, **fields: Any) -> dict[str, Any]:
    return {"id": id_, "connect": {"token": token(), **fields}}


# -- connect (P-30, AU-01..AU-04) ----------------------------------------------------------------


async def test_connect_with_a_valid_token(converse: Converse) -> None:
    await converse([Send([connect()])])


async def test_connect_without_a_token_is_refused(converse: Converse) -> None:
    await converse([Send([{"id": 1, "connect": {}}])])


async def test_connect_with_an_expired_token(converse: Converse) -> None:
    expired = token(exp=int(time.time()) - 60)
    await converse([Send([{"id": 1, "connect": {"token": expired}}])])


async def test_connect_with_a_token_signed_by_another_key(converse: Converse) -> None:
    forged = jwt.encode({"sub": "u1"}, "another-secret-of-enough-length!!", algorithm="HS256")
    await converse([Send([{"id": 1, "connect": {"token": forged}}])])


async def test_connect_with_a_token_that_is_not_a_jwt(converse: Converse) -> None:
    await converse([Send([{"id": 1, "connect": {"token": "not-a-jwt"}}])])


async def test_connect_with_a_token_expiring_later(converse: Converse) -> None:
    soon = token(exp=int(time.time()) + 600)
    await converse([Send([{"id": 1, "connect": {"token": soon}}])])


async def test_connect_twice(converse: Converse) -> None:
    await converse([Send([connect()]), Send([connect(2)])])


# -- commands before connect, malformed frames (P-13, P-20) -------------------------------------


async def test_subscribe_before_connect(converse: Converse) -> None:
    await converse([Send([{"id": 1, "subscribe": {"channel": "before"}}])])


async def test_malformed_json_frame(converse: Converse) -> None:
    await converse([Send(raw="{not json")])


async def test_a_command_without_an_id(converse: Converse) -> None:
    await converse([Send([connect()]), Send([{"subscribe": {"channel": "noid"}}])])


async def test_an_unknown_command(converse: Converse) -> None:
    await converse([Send([connect()]), Send([{"id": 2, "frobnicate": {}}])])


async def test_an_empty_command(converse: Converse) -> None:
    await converse([Send([connect()]), Send([{"id": 2}])])


# -- subscribe and permissions (P-31, CH-01..CH-08) ---------------------------------------------


async def test_subscribe_and_unsubscribe(converse: Converse) -> None:
    await converse(
        [
            Send([connect()]),
            Send([{"id": 2, "subscribe": {"channel": "plain-sub"}}]),
            Send([{"id": 3, "unsubscribe": {"channel": "plain-sub"}}]),
        ]
    )


async def test_subscribe_twice_to_one_channel(converse: Converse) -> None:
    await converse(
        [
            Send([connect()]),
            Send([{"id": 2, "subscribe": {"channel": "twice"}}]),
            Send([{"id": 3, "subscribe": {"channel": "twice"}}]),
        ]
    )


async def test_subscribe_to_a_closed_namespace(converse: Converse) -> None:
    await converse([Send([connect()]), Send([{"id": 2, "subscribe": {"channel": "closed:x"}}])])


async def test_subscribe_to_an_unknown_namespace(converse: Converse) -> None:
    await converse([Send([connect()]), Send([{"id": 2, "subscribe": {"channel": "nope:x"}}])])


async def test_subscribe_to_a_channel_name_too_long(converse: Converse) -> None:
    await converse([Send([connect()]), Send([{"id": 2, "subscribe": {"channel": "x" * 300}}])])


async def test_subscribe_without_a_channel(converse: Converse) -> None:
    await converse([Send([connect()]), Send([{"id": 2, "subscribe": {}}])])


async def test_unsubscribe_from_a_channel_never_subscribed(converse: Converse) -> None:
    await converse([Send([connect()]), Send([{"id": 2, "unsubscribe": {"channel": "never"}}])])


# -- publish, history, presence (P-33..P-36, HR-01, PR-01) ----------------------------------------


async def test_publish_then_history(converse: Converse) -> None:
    await converse(
        [
            Send([connect()]),
            Send([{"id": 2, "publish": {"channel": "hist-a", "data": {"n": 1}}}]),
            Send([{"id": 3, "publish": {"channel": "hist-a", "data": {"n": 2}}}]),
            Send([{"id": 4, "history": {"channel": "hist-a", "limit": -1}}]),
            Send([{"id": 5, "history": {"channel": "hist-a", "limit": 1, "reverse": True}}]),
        ]
    )


async def test_subscriber_receives_its_publication_and_joins(converse: Converse) -> None:
    await converse(
        [
            Send([connect()]),
            Send([{"id": 2, "subscribe": {"channel": "live-a"}}]),
            Send([{"id": 3, "publish": {"channel": "live-a", "data": {"text": "hi"}}}]),
            Send([{"id": 4, "presence": {"channel": "live-a"}}]),
            Send([{"id": 5, "presence_stats": {"channel": "live-a"}}]),
        ]
    )


async def test_publish_to_a_room_without_subscribing(converse: Converse) -> None:
    await converse(
        [Send([connect()]), Send([{"id": 2, "publish": {"channel": "room:a", "data": {}}}])]
    )


async def test_publish_without_data(converse: Converse) -> None:
    await converse([Send([connect()]), Send([{"id": 2, "publish": {"channel": "nodata"}}])])


async def test_history_with_a_future_offset(converse: Converse) -> None:
    await converse(
        [
            Send([connect()]),
            Send([{"id": 2, "publish": {"channel": "hist-f", "data": 1}}]),
            Send(
                [
                    {
                        "id": 3,
                        "history": {"channel": "hist-f", "limit": 10, "since": {"offset": 99}},
                    }
                ]
            ),
        ]
    )


async def test_recovery_from_a_position(converse: Converse) -> None:
    await converse(
        [
            Send([connect()]),
            Send([{"id": 2, "publish": {"channel": "rec-a", "data": {"n": 1}}}]),
            Send([{"id": 3, "publish": {"channel": "rec-a", "data": {"n": 2}}}]),
            Send([{"id": 4, "subscribe": {"channel": "rec-a", "recover": True, "offset": 1}}]),
        ]
    )


async def test_rpc_without_a_proxy(converse: Converse) -> None:
    await converse([Send([connect()]), Send([{"id": 2, "rpc": {"method": "m", "data": {}}}])])


async def test_refresh_without_expiry(converse: Converse) -> None:
    await converse([Send([connect()]), Send([{"id": 2, "refresh": {"token": token()}}])])


async def test_several_commands_in_one_frame(converse: Converse) -> None:
    await converse(
        [
            Send(
                [
                    connect(),
                    {"id": 2, "subscribe": {"channel": "batch-a"}},
                    {"id": 3, "subscribe": {"channel": "batch-b"}},
                    {"id": 4, "publish": {"channel": "batch-a", "data": "x"}},
                ]
            )
        ]
    )


# -- the server API reaching a connected client (API-10, API-12..API-15) --------------------------


async def test_api_publish_reaches_the_subscriber(converse: Converse) -> None:
    await converse(
        [
            Send([connect()]),
            Send([{"id": 2, "subscribe": {"channel": "api-a"}}]),
            Api("publish", {"channel": "api-a", "data": {"from": "api"}}),
        ]
    )


async def test_api_unsubscribe_and_disconnect(converse: Converse) -> None:
    await converse(
        [
            Send([connect()]),
            Send([{"id": 2, "subscribe": {"channel": "api-b"}}]),
            Api("unsubscribe", {"user": "u1", "channel": "api-b"}),
            Api("disconnect", {"user": "u1"}),
        ]
    )


# -- subscription tokens, private and user-limited channels (CH-05, CH-06, AU-10..AU-14) ---------


def sub_token(channel: str, sub: str = "u1", **claims: Any) -> str:
    return token(sub, channel=channel, **claims)


async def test_user_limited_channels(converse: Converse) -> None:
    await converse(
        [
            Send([connect()]),
            Send([{"id": 2, "subscribe": {"channel": "dm:chat#u1"}}]),
            Send([{"id": 3, "subscribe": {"channel": "dm:chat#u2"}}]),
            Send([{"id": 4, "subscribe": {"channel": "dm:chat#u1,u2"}}]),
        ]
    )


async def test_subscription_tokens(converse: Converse) -> None:
    expired = int(time.time()) - 60
    await converse(
        [
            Send([connect()]),
            Send([{"id": 2, "subscribe": {"channel": "closed:a", "token": sub_token("closed:a")}}]),
            Send([{"id": 3, "subscribe": {"channel": "closed:b", "token": sub_token("closed:x")}}]),
            Send(
                [
                    {
                        "id": 4,
                        "subscribe": {"channel": "closed:c", "token": sub_token("closed:c", "u2")},
                    }
                ]
            ),
            Send(
                [
                    {
                        "id": 5,
                        "subscribe": {
                            "channel": "closed:d",
                            "token": sub_token("closed:d", exp=expired),
                        },
                    }
                ]
            ),
            Send([{"id": 6, "subscribe": {"channel": "closed:e", "token": "garbage"}}]),
        ]
    )


async def test_private_channel_without_a_token(converse: Converse) -> None:
    await converse([Send([connect()]), Send([{"id": 2, "subscribe": {"channel": "$secret"}}])])
