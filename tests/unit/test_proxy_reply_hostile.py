"""Whatever a backend answers, a proxy event fails closed with error 100 and one log line
(PX-06, PX-07, R-11): deep nesting, numbers outside their Go type, wrong types, invalid
base64, non-JSON. The backend's own ``error``/``disconnect`` still pass through."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from multidict import CIMultiDict

from centripetal.config import config_from_mapping
from centripetal.core.errors import CommandError, DisconnectRequest
from centripetal.protocol import messages
from centripetal.proxy import reply
from centripetal.proxy.handlers import ProxyHooks, failures


def _deep(n: int) -> bytes:
    return b"[" * n + b"]" * n


HOSTILE: dict[str, bytes] = {
    "html": b"<html>502 Bad Gateway</html>",
    "empty": b"",
    "truncated": b'{"result":{',
    "invalid utf-8": b'{"result":{"user":"\xff\xfe"}}',
    "deep 1000": _deep(1_000),
    "deep 100000": _deep(100_000),
    "deep result": b'{"result":' + _deep(100_000) + b"}",
    "deep data": b'{"result":{"data":' + _deep(100_000) + b"}}",
    "deep info": b'{"result":{"info":' + _deep(100_000) + b"}}",
    "deep error": b'{"error":' + _deep(100_000) + b"}",
    "error code 2^32": b'{"error":{"code":4294967296,"message":"x"}}',
    "error code -1": b'{"error":{"code":-1}}',
    "error code 10^40": b'{"error":{"code":' + b"1" + b"0" * 40 + b"}}",
    "error code float": b'{"error":{"code":1000.5}}',
    "error code string": b'{"error":{"code":"1000"}}',
    "disconnect code 2^64": b'{"disconnect":{"code":18446744073709551616,"reason":"x"}}',
    "disconnect code -4000": b'{"disconnect":{"code":-4000}}',
    "expire_at 2^63": b'{"result":{"expire_at":9223372036854775808}}',
    "expire_at -2^63-1": b'{"result":{"expire_at":-9223372036854775809}}',
    "expire_at 10^40": b'{"result":{"expire_at":' + b"1" + b"0" * 40 + b"}}",
    "expire_at float": b'{"result":{"expire_at":1.5}}',
    "result is a list": b'{"result":[]}',
    "b64data invalid": b'{"result":{"b64data":"!!notbase64"}}',
    "b64info invalid": b'{"result":{"b64info":"AAE"}}',
    "b64data not ascii": b'{"result":{"b64data":"\xc3\xa9t\xc3\xa9"}}',
    "override wrong type": b'{"result":{"override":{"presence":true}}}',
}

EVENTS = ("connect", "refresh", "subscribe", "publish", "sub_refresh", "rpc")
# a result ignores the fields it does not have (unknown fields are skipped, as in Go)
_NO_EXPIRE = {"expire_at 2^63", "expire_at -2^63-1", "expire_at 10^40", "expire_at float"}
_NO_DATA = {"b64data invalid", "b64data not ascii"}
_IGNORED = {
    "connect": {"override wrong type"},
    "refresh": {"invalid utf-8", "override wrong type", *_NO_DATA},
    "subscribe": {"invalid utf-8"},
    "publish": {"invalid utf-8", "b64info invalid", "override wrong type", *_NO_EXPIRE},
    "sub_refresh": {"invalid utf-8", "override wrong type", *_NO_DATA},
    "rpc": {"invalid utf-8", "b64info invalid", "override wrong type", *_NO_EXPIRE},
}
# refresh and sub_refresh honour only ``result`` (PX-07): an error/disconnect object is read
# but not acted on, so only its decoding can fail


class FakeCodec:
    name = "json"


class FakeSession:
    client_id = "c-hostile"
    transport = "websocket"
    codec = FakeCodec()
    user = "u"
    meta = None
    emulated_headers: dict[str, str] = {}

    def __init__(self) -> None:
        self.headers: CIMultiDict[str] = CIMultiDict()


class FakeSub:
    channel = "room"

    def __init__(self, options: Any) -> None:
        self.options = options


class FakeNode:
    def __init__(self) -> None:
        self.config = config_from_mapping(
            {
                "client": {
                    "proxy": {
                        "connect": {"enabled": True, "endpoint": "http://backend/connect"},
                        "refresh": {"enabled": True, "endpoint": "http://backend/refresh"},
                    }
                },
                "channel": {
                    "proxy": {
                        "subscribe": {"endpoint": "http://backend/subscribe"},
                        "publish": {"endpoint": "http://backend/publish"},
                        "sub_refresh": {"endpoint": "http://backend/sub_refresh"},
                    },
                    "without_namespace": {
                        "subscribe_proxy_enabled": True,
                        "publish_proxy_enabled": True,
                        "sub_refresh_proxy_enabled": True,
                    },
                },
                "rpc": {
                    "proxy": {"endpoint": "http://backend/rpc"},
                    "without_namespace": {"proxy_enabled": True},
                },
            }
        )
        self.metrics = None


def _hooks(answer: bytes) -> tuple[ProxyHooks, dict[str, Callable[[], Awaitable[Any]]]]:
    node = FakeNode()
    hooks = ProxyHooks(node)  # type: ignore[arg-type]

    async def fake_call(kind: str, ep: Any, session: Any, body: bytes) -> bytes:
        return answer

    hooks._call = fake_call  # type: ignore[method-assign]
    session: Any = FakeSession()
    opts = node.config.channel.without_namespace
    calls: dict[str, Callable[[], Awaitable[Any]]] = {
        "connect": lambda: hooks.connect(session, messages.ConnectRequest()),
        "refresh": lambda: hooks.refresh(session),
        "subscribe": lambda: hooks.subscribe(session, "room", opts, messages.SubscribeRequest()),
        "publish": lambda: hooks.publish(
            session, "room", opts, messages.PublishRequest(channel="room", data=b"{}")
        ),
        "sub_refresh": lambda: hooks.sub_refresh(session, FakeSub(opts)),  # type: ignore[arg-type]
        "rpc": lambda: hooks.rpc(session, messages.RPCRequest(method="m", data=b"{}")),
    }
    return hooks, calls


@pytest.mark.parametrize("what", sorted(HOSTILE))
@pytest.mark.parametrize("event", EVENTS)
async def test_hostile_answer_fails_closed_with_one_log_line(
    event: str, what: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="centripetal.proxy")
    _, calls = _hooks(HOSTILE[what])
    failures.flush()  # no window left open by an earlier test
    caplog.clear()
    try:
        result = await calls[event]()
    except CommandError as exc:
        assert (exc.code, exc.temporary) == (100, True), (event, what)
    except DisconnectRequest as exc:
        pytest.fail(f"{event} {what}: disconnect {exc.code}")
    else:
        assert what in _IGNORED.get(event, set()), f"{event} {what}: accepted {result!r}"
        assert not caplog.records
        return
    errors = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(errors) == 1, [r.getMessage() for r in caplog.records]
    line = errors[0].getMessage()
    assert f"{event} proxy reply from http://backend/" in line and "c-hostile" in line
    assert "\n" not in line
    assert "Traceback" not in caplog.text
    failures.flush()


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        (b'{"error":{"code":4294967295,"message":"m"}}', CommandError(4294967295, "m")),
        (b'{"disconnect":{"code":4500,"reason":"bye"}}', DisconnectRequest(4500, "bye")),
    ],
)
async def test_in_range_backend_errors_pass_through_px07(answer: bytes, expected: Any) -> None:
    _, calls = _hooks(answer)
    with pytest.raises(type(expected)) as exc:
        await calls["rpc"]()
    assert exc.value.args == expected.args


async def test_in_range_extremes_are_accepted_px10() -> None:
    _, calls = _hooks(b'{"result":{"expire_at":9223372036854775807,"expired":false}}')
    res = await calls["refresh"]()
    assert res.expire_at == 2**63 - 1
    _, calls = _hooks(b'{"result":{"expire_at":-9223372036854775808}}')
    assert (await calls["subscribe"]()).expire_at == -(2**63)


def test_decode_reply_raises_only_invalid_reply() -> None:
    for what, body in HOSTILE.items():
        try:
            reply.decode_reply(body, reply.ConnectReply)
        except reply.InvalidReply as exc:
            assert exc.code == 100 and exc.reason, what
