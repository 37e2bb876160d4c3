"""Proxy request bodies, headers, reply mapping and config resolution (spec §4), no sockets."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from multidict import CIMultiDict

from centripetal.config import config_from_mapping
from centripetal.config.schema import Override, ProxyEndpoint
from centripetal.core import hooks
from centripetal.core.errors import CommandError, DisconnectRequest
from centripetal.protocol import messages
from centripetal.proxy import config as pconfig
from centripetal.proxy import reply, request
from centripetal.proxy.http import parse_transforms


class FakeCodec:
    def __init__(self, name: str) -> None:
        self.name = name


class FakeSession:
    def __init__(self, protocol: str = "json", user: str = "56", meta: bytes | None = None):
        self.client_id = "c-1"
        self.transport = "websocket"
        self.codec = FakeCodec(protocol)
        self.user = user
        self.meta = meta
        self.headers: CIMultiDict[str] = CIMultiDict()


def body(raw: bytes) -> Any:
    return json.loads(raw)


# -- requests (PX-05, PX-06, PX-10..PX-15) -------------------------------------------------------


def test_px10_connect_body_fields_in_proto_order_and_channels_from_subs() -> None:
    req = messages.ConnectRequest(
        data=b'{"k":1}', name="py", version="1.0", subs={"news": messages.SubscribeRequest()}
    )
    raw = request.connect_body(FakeSession(), ProxyEndpoint(), req)  # type: ignore[arg-type]
    assert list(body(raw)) == [
        "client", "transport", "protocol", "encoding", "data", "name", "version", "channels"
    ]  # fmt: skip
    assert body(raw) == {
        "client": "c-1",
        "transport": "websocket",
        "protocol": "json",
        "encoding": "json",
        "data": {"k": 1},
        "name": "py",
        "version": "1.0",
        "channels": ["news"],
    }


def test_px10_connect_body_omits_empty_fields_and_user() -> None:
    raw = request.connect_body(FakeSession(), ProxyEndpoint(), messages.ConnectRequest())  # type: ignore[arg-type]
    assert body(raw) == {
        "client": "c-1",
        "transport": "websocket",
        "protocol": "json",
        "encoding": "json",
    }


def test_px06_binary_mode_sends_b64data_and_encoding_binary() -> None:
    ep = ProxyEndpoint(binary_encoding=True)
    req = messages.PublishRequest(channel="ch", data=b"\x00\xffraw")
    out = body(request.publish_body(FakeSession("protobuf"), ep, "ch", req))  # type: ignore[arg-type]
    assert out == {
        "client": "c-1",
        "transport": "websocket",
        "protocol": "protobuf",
        "encoding": "binary",
        "user": "56",
        "channel": "ch",
        "b64data": base64.b64encode(b"\x00\xffraw").decode(),
    }


def test_px06_protobuf_client_non_json_payload_fails_closed_without_binary_mode() -> None:
    req = messages.RPCRequest(method="m", data=b"\x00\x01")
    with pytest.raises(CommandError) as exc:
        request.rpc_body(FakeSession("protobuf"), ProxyEndpoint(), req)  # type: ignore[arg-type]
    assert (exc.value.code, exc.value.temporary) == (100, True)


def test_px06_protobuf_client_json_payload_is_embedded_raw() -> None:
    req = messages.RPCRequest(method="m", data=b'{"a":[1]}')
    out = body(request.rpc_body(FakeSession("protobuf"), ProxyEndpoint(), req))  # type: ignore[arg-type]
    assert out["data"] == {"a": [1]}
    assert out["method"] == "m"


def test_px05_meta_only_with_include_connection_meta() -> None:
    session = FakeSession(meta=b'{"plan":"pro"}')
    plain = body(request.refresh_body(session, ProxyEndpoint()))  # type: ignore[arg-type]
    assert "meta" not in plain
    with_meta = body(
        request.refresh_body(session, ProxyEndpoint(include_connection_meta=True))  # type: ignore[arg-type]
    )
    assert with_meta == {
        "client": "c-1",
        "transport": "websocket",
        "protocol": "json",
        "encoding": "json",
        "user": "56",
        "meta": {"plan": "pro"},
    }


def test_px12_px14_subscribe_and_sub_refresh_bodies() -> None:
    session = FakeSession()
    req = messages.SubscribeRequest(channel="rooms:a", data=b'{"x":true}')
    sub = body(request.subscribe_body(session, ProxyEndpoint(), "rooms:a", req))  # type: ignore[arg-type]
    assert sub["channel"] == "rooms:a" and sub["data"] == {"x": True} and sub["user"] == "56"
    assert "token" not in sub
    ref = body(request.sub_refresh_body(session, ProxyEndpoint(), "rooms:a"))  # type: ignore[arg-type]
    assert ref == {
        "client": "c-1",
        "transport": "websocket",
        "protocol": "json",
        "encoding": "json",
        "user": "56",
        "channel": "rooms:a",
    }


# -- headers (PX-04, TR-15, reliability S-4) ----------------------------------------------------


def test_px04_only_listed_transport_headers_case_insensitive() -> None:
    ep = ProxyEndpoint(http_headers=["cookie", "X-Real-Ip"])
    transport = CIMultiDict(
        [("Cookie", "sid=1"), ("X-User-Id", "42"), ("x-real-ip", "1.2.3.4"), ("Host", "h")]
    )
    out = request.request_headers(ep, transport)
    assert sorted(out.items()) == [
        ("Content-Type", "application/json"),
        ("Cookie", "sid=1"),
        ("x-real-ip", "1.2.3.4"),
    ]


def test_s4_emulated_headers_only_when_listed_and_transport_wins() -> None:
    transport = CIMultiDict([("Cookie", "real")])
    emulated = {"Cookie": "forged", "X-User-Id": "1", "X-Emu": "ok"}
    ep = ProxyEndpoint(http_headers=["Cookie"], emulated_headers=["X-Emu", "Cookie"])
    out = request.request_headers(ep, transport, emulated)
    assert out.getall("Cookie") == ["real"]
    assert out["X-Emu"] == "ok"
    assert "X-User-Id" not in out
    none_listed = request.request_headers(ProxyEndpoint(http_headers=["X-User-Id"]), {}, emulated)
    assert "X-User-Id" not in none_listed  # http_headers never takes emulated values (v6.9)


def test_px03_content_type_forced_and_static_headers_win() -> None:
    ep = ProxyEndpoint(http_headers=["X-Secret", "Content-Type"])
    ep.http.static_headers = {"X-Secret": "server"}
    transport = CIMultiDict([("X-Secret", "client"), ("Content-Type", "text/plain")])
    out = request.request_headers(ep, transport)
    assert out.getall("X-Secret") == ["server"]
    assert out.getall("Content-Type") == ["application/json"]


# -- replies (PX-06, PX-07, PX-10..PX-15) -------------------------------------------------------


def test_px07_error_and_disconnect_pass_through_verbatim() -> None:
    rep = reply.decode_reply(
        b'{"error":{"code":403,"message":"permission denied"}}', reply.SubscribeReply
    )
    with pytest.raises(CommandError) as err:
        reply.raise_error_or_disconnect(rep.error, rep.disconnect)
    assert (err.value.code, err.value.message, err.value.temporary) == (
        403,
        "permission denied",
        False,
    )
    rep2 = reply.decode_reply(
        b'{"disconnect":{"code":4501,"reason":"unauthorized"}}', reply.ConnectReply
    )
    with pytest.raises(DisconnectRequest) as dis:
        reply.raise_error_or_disconnect(rep2.error, rep2.disconnect)
    assert (dis.value.code, dis.value.reason) == (4501, "unauthorized")


@pytest.mark.parametrize(
    "raw",
    [
        b"garbage",
        b"[]",
        b'{"result":{"user":56}}',
        b'{"result":{"channels":"news"}}',
        b'{"error":{"code":"x"}}',
        b"",
    ],
)
def test_r11_malformed_or_mistyped_reply_is_error_100(raw: bytes) -> None:
    with pytest.raises(CommandError) as exc:
        reply.decode_reply(raw, reply.ConnectReply)
    assert (exc.value.code, exc.value.message, exc.value.temporary) == (
        100,
        "internal server error",
        True,
    )


def test_px10_connect_result_mapping() -> None:
    raw = (
        b'{"result":{"user":"56","expire_at":1700000000,"info":{"n":"a"},"data":{"d":1},'
        b'"channels":["news"],"subs":{"rooms:a":{"info":{"c":1},"b64data":"eyJ4IjoxfQ==",'
        b'"expire_at":5,"override":{"presence":{"value":false},"join_leave":{"value":true}}}},'
        b'"meta":{"plan":"pro"}}}'
    )
    rep = reply.decode_reply(raw, reply.ConnectReply)
    assert rep.result is not None
    res = reply.to_connect(rep.result)
    assert res == hooks.ConnectResult(
        user="56",
        expire_at=1700000000,
        info=b'{"n":"a"}',
        data=b'{"d":1}',
        meta=b'{"plan":"pro"}',
        subs={
            "news": None,
            "rooms:a": hooks.SubscribeOptions(
                info=b'{"c":1}',
                data=b'{"x":1}',
                expire_at=5,
                override=Override(presence=False, join_leave=True),
            ),
        },
    )


def test_px10_subs_cache_recover_mapped_hr08() -> None:
    """PX-10 (v6.8.3): ``subs[ch].cache_recover`` reaches the subscription options."""
    raw = b'{"result":{"user":"5","subs":{"a":{"cache_recover":true},"b":{}}}}'
    rep = reply.decode_reply(raw, reply.ConnectReply)
    assert rep.result is not None
    subs = reply.to_connect(rep.result).subs
    assert subs == {
        "a": hooks.SubscribeOptions(cache_recover=True),
        "b": hooks.SubscribeOptions(cache_recover=False),
    }


def test_px06_b64_fields_take_precedence_and_bad_base64_is_100() -> None:
    rep = reply.decode_reply(b'{"result":{"data":{"raw":1},"b64data":"AAE="}}', reply.PublishReply)
    assert rep.result is not None
    assert reply.to_publish(rep.result).data == b"\x00\x01"
    bad = reply.decode_reply(b'{"result":{"b64data":"!!notbase64"}}', reply.RPCReply)
    assert bad.result is not None
    with pytest.raises(CommandError) as exc:
        reply.to_rpc(bad.result)
    assert exc.value.code == 100


def test_px13_publish_result_fields() -> None:
    rep = reply.decode_reply(
        b'{"result":{"skip_history":true,"tags":{"t":"v"},"idempotency_key":"k","delta":true}}',
        reply.PublishReply,
    )
    assert rep.result is not None
    assert reply.to_publish(rep.result) == hooks.PublishResult(
        data=None, skip_history=True, tags={"t": "v"}, idempotency_key="k", delta=True
    )


def test_px11_px14_expired_and_null_payloads() -> None:
    rep = reply.decode_reply(b'{"result":{"expired":true,"expire_at":9}}', reply.RefreshReply)
    assert rep.result is not None
    assert reply.to_refresh(rep.result) == hooks.RefreshResult(expired=True)
    sub = reply.decode_reply(b'{"result":{"expire_at":9,"info":null}}', reply.SubRefreshReply)
    assert sub.result is not None
    assert reply.to_sub_refresh(sub.result) == hooks.SubRefreshResult(expire_at=9, info=None)


def test_px03_status_transforms_parsed() -> None:
    out = parse_transforms(
        [
            {"status_code": 404, "to_error": {"code": 404, "message": "nf", "temporary": True}},
            {"status_code": 403, "to_disconnect": {"code": 4403, "reason": "forbidden"}},
            {"status_code": 500, "to_error": {"code": 0}},
        ]
    )
    assert sorted(out) == [403, 404]
    err = out[404].error
    assert err is not None and (err.code, err.message, err.temporary) == (404, "nf", True)
    dis = out[403].disconnect
    assert dis is not None and (dis.code, dis.reason) == (4403, "forbidden")


# -- configuration (PX-20..PX-28, CH-10, P-39) --------------------------------------------------


def _config(**over: Any) -> Any:
    raw: dict[str, Any] = {
        "proxies": [{"name": "chat", "endpoint": "http://b/chat"}],
        "channel": {
            "proxy": {"subscribe": {"endpoint": "http://b/sub"}},
            "namespaces": [
                {"name": "rooms", "subscribe_proxy_enabled": True},
                {"name": "named", "subscribe_proxy_enabled": True, "subscribe_proxy_name": "chat"},
                {"name": "plain"},
            ],
        },
        "rpc": {
            "proxy": {"endpoint": "http://b/rpc"},
            "without_namespace": {"proxy_enabled": True},
            "namespaces": [
                {"name": "ext", "proxy_enabled": True, "proxy_name": "chat"},
                {"name": "off"},
            ],
        },
    }
    raw.update(over)
    return config_from_mapping(raw)


def test_px28_namespace_proxy_name_picks_named_or_default_proxy() -> None:
    cfg = _config()
    rooms, named, plain = cfg.channel.namespaces
    assert pconfig.channel_proxy(cfg, "subscribe", rooms).endpoint == "http://b/sub"
    assert pconfig.channel_proxy(cfg, "subscribe", named).endpoint == "http://b/chat"
    assert pconfig.channel_proxy(cfg, "subscribe", plain) is None
    assert pconfig.channel_proxy(cfg, "publish", rooms) is None
    assert pconfig.channel_proxy_used(cfg, "subscribe")
    assert not pconfig.channel_proxy_used(cfg, "publish")


def test_p39_rpc_namespaces_104_and_108() -> None:
    cfg = _config()
    assert pconfig.rpc_proxy(cfg, pconfig.rpc_namespace(cfg, "getPrice")).endpoint == (
        "http://b/rpc"
    )
    assert pconfig.rpc_proxy(cfg, pconfig.rpc_namespace(cfg, "ext:m")).endpoint == "http://b/chat"
    assert pconfig.rpc_proxy(cfg, pconfig.rpc_namespace(cfg, "off:m")) is None  # -> 108
    with pytest.raises(CommandError) as exc:
        pconfig.rpc_namespace(cfg, "nope:m")
    assert exc.value.code == 104


def test_px28_unknown_proxy_name_fails_with_key_path() -> None:
    cfg = _config()  # the loader validates names too; a programmatic config is checked here
    cfg.channel.namespaces[2].publish_proxy_name = "missing"
    with pytest.raises(ValueError, match=r"channel\.namespaces\[plain\]\.publish_proxy_name"):
        pconfig.check_names(cfg)


def test_px20_tutorial_flat_keys_resolve_to_v6_proxies() -> None:
    cfg = config_from_mapping(
        {
            "token_hmac_secret_key": "s",
            "proxy_connect_endpoint": "http://localhost:8000/chat/centrifugo/connect/",
            "proxy_publish_endpoint": "http://localhost:8000/chat/centrifugo/publish/",
            "proxy_subscribe_endpoint": "http://localhost:8000/chat/centrifugo/subscribe/",
            "proxy_http_headers": ["Cookie"],
            "namespaces": [
                {"name": "rooms", "publish": True, "proxy_publish": True, "proxy_subscribe": True}
            ],
        }
    )
    assert cfg.client.proxy.connect.enabled
    assert cfg.client.proxy.connect.http_headers == ["Cookie"]
    rooms = cfg.channel.namespaces[0]
    sub = pconfig.channel_proxy(cfg, "subscribe", rooms)
    pub = pconfig.channel_proxy(cfg, "publish", rooms)
    assert sub is not None and sub.endpoint.endswith("/subscribe/")
    assert pub is not None and pub.endpoint.endswith("/publish/")
    assert pub.http_headers == ["Cookie"]
