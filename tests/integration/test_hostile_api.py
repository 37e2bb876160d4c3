"""Hostile server API bodies against a live server (spec API-05, API-03, API-23).

Centrifugo decodes a method body into its ``api.proto`` types before running it: anything that
does not decode - deep nesting, numbers outside the field's Go type, floats where integers go,
wrong types, a bad batch item - is HTTP 400 ``Bad Request``. In the legacy format, params
that do not decode answer their command with error 107 and a line that is not a command
makes the request HTTP 400. No client input ever gets HTTP 5xx or error 100, and the
server log never holds a traceback for it.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import typing
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest
from centrifuge import Client as WsClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support.hostile import Record
from support.server import ServerProcess
from support.timing import scaled
from support.tokens import connection_token

from centripetal.api import messages as m

SECRET = "hostile-api-secret-0123456789abcdef0123"
CONFIG: dict[str, Any] = {
    "http_api": {"insecure": True},
    "client": {"token": {"hmac_secret_key": SECRET}},
    "channel": {
        "without_namespace": {"presence": True, "history_size": 10, "history_ttl": "300s"},
        "namespaces": [{"name": "srv", "presence": True}],
    },
}

REQUESTS: dict[str, type[msgspec.Struct]] = {
    "publish": m.PublishRequest,
    "broadcast": m.BroadcastRequest,
    "subscribe": m.SubscribeRequest,
    "unsubscribe": m.UnsubscribeRequest,
    "disconnect": m.DisconnectRequest,
    "refresh": m.RefreshRequest,
    "presence": m.PresenceRequest,
    "presence_stats": m.PresenceStatsRequest,
    "history": m.HistoryRequest,
    "history_remove": m.HistoryRemoveRequest,
    "channels": m.ChannelsRequest,
    "info": m.EmptyRequest,
    "rpc": m.RPCRequest,
    "batch": m.BatchRequest,
}
INT64 = (-(2**63), 2**63 - 1)
INT_RANGES: dict[str, tuple[int, int]] = {  # api.proto types (API-10..API-18)
    "publish.version": (0, 2**64 - 1),
    "broadcast.version": (0, 2**64 - 1),
    "subscribe.expire_at": INT64,
    "subscribe.recover_since.offset": (0, 2**64 - 1),
    "disconnect.disconnect.code": (0, 2**32 - 1),
    "refresh.expire_at": INT64,
    "history.limit": (-(2**31), 2**31 - 1),
    "history.since.offset": (0, 2**64 - 1),
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    srv = ServerProcess(CONFIG, workdir=Path(tmp_path_factory.mktemp("api-hostile")))
    srv.start()
    yield srv
    srv.stop()


class Api:
    """One keep-alive HTTP/1.1 connection to the server."""

    def __init__(self, server: ServerProcess) -> None:
        self.server = server
        self.conn = http.client.HTTPConnection(server.host, server.port, timeout=scaled(10))

    def post(
        self, path: str, body: bytes, headers: dict[str, str] | None = None
    ) -> tuple[int, bytes]:
        for attempt in (0, 1):
            try:
                self.conn.request("POST", path, body=body, headers=headers or {})
                resp = self.conn.getresponse()
                return resp.status, resp.read()
            except (OSError, http.client.HTTPException):  # reset, closed keep-alive, timeout
                self.conn.close()
                self.conn = http.client.HTTPConnection(
                    self.server.host, self.server.port, timeout=scaled(10)
                )
                if attempt:
                    raise
        raise AssertionError("unreachable")


@pytest.fixture
def api(server: ServerProcess) -> Iterator[Api]:
    client = Api(server)
    yield client
    client.conn.close()
    log = server.log_text()
    assert "Traceback" not in log, server.describe("a traceback in the server log")
    assert " 500 " not in log


def assert_not_internal(method: str, status: int, body: bytes, what: object) -> None:
    """200 with ``result`` or an ``error`` other than 100, or 400 ``Bad Request``."""
    assert status in (200, 400), (method, what, status, body[:200])
    if status == 400:
        assert body == b"Bad Request", (method, what, body[:200])
        return
    out = json.loads(body)
    replies = out.get("replies", []) if method == "batch" else [out]  # no commands: {}
    for reply in replies:
        assert "error" in reply or "result" in reply or method == "batch", (what, out)
        if "error" in reply:
            assert reply["error"]["code"] != 100, (method, what, out)
        for item in (reply.get("result") or {}).get("responses", []):
            assert item.get("error", {}).get("code") != 100, (method, what, out)


# -- hostile values in every field -----------------------------------------------------------


def deep(n: int) -> bytes:
    return b"[" * n + b"]" * n


def deep_obj(n: int) -> bytes:
    return b'{"a":' * n + b"1" + b"}" * n


DEEP = [deep(1_000), deep_obj(1_000), deep(100_000), deep_obj(100_000)]


def _base(tp: Any) -> Any:
    if typing.get_origin(tp) is typing.Annotated:
        return typing.get_args(tp)[0]
    args = [a for a in typing.get_args(tp) if a is not type(None)]
    if typing.get_origin(tp) in (typing.Union, type(int | None)) and len(args) == 1:
        return _base(args[0])
    return tp


def _fields(cls: type[msgspec.Struct], prefix: str = "") -> Iterator[tuple[str, Any]]:
    for f in msgspec.structs.fields(cls):
        yield prefix + f.name, f.type
        inner = _base(f.type)
        if isinstance(inner, type) and issubclass(inner, msgspec.Struct):
            yield from _fields(inner, f"{prefix}{f.name}.")


def _wrap(path: str, value: bytes) -> bytes:
    for name in reversed(path.split(".")):
        value = b'{"' + name.encode() + b'":' + value + b"}"
    return value


def hostile_bodies(method: str) -> Iterator[tuple[str, bytes]]:
    """``(what, body)``: nesting too deep at the top and in every field, wrong types, and
    every integer outside its api.proto range."""
    for i, value in enumerate(DEEP):
        yield f"deep #{i}", value
    if method == "batch":
        for name in m.BATCH_METHODS:
            for what, body in hostile_bodies(name):
                if body.startswith(b"{"):
                    yield (
                        f"batch {name} {what}",
                        b'{"commands":[{"' + name.encode() + b'":' + body + b"}]}",
                    )
        return
    for path, tp in _fields(REQUESTS[method]):
        base = _base(tp)
        yield f"{path} deep", _wrap(path, DEEP[2])
        if base is str:
            bad = [b"5", b"true", b"{}", b"[]"]
        elif base is bool:
            bad = [b"1", b'"true"', b"{}"]
        elif base is int:
            lo, hi = INT_RANGES[f"{method}.{path}"]
            bad = [str(v).encode() for v in (lo - 1, hi + 1, 2**64, 10**40, -(2**63) - 1)]
            bad = [b for b in bad if not lo <= int(b) <= hi] + [b"1.5", b"1e3", b'"1"', b"true"]
        elif base is msgspec.Raw:
            bad = []  # raw JSON: any value is valid
        else:
            bad = [b"5", b'"x"'] + ([b"{}"] if typing.get_origin(base) is list else [b"[]"])
        for value in bad:
            yield f"{path}={value.decode()}", _wrap(path, value)


@pytest.mark.parametrize("method", sorted(REQUESTS))
def test_hostile_bodies_are_400_bad_request_api_05(
    method: str, api: Api, record_property: Record
) -> None:
    answers: Counter[str] = Counter()
    for what, body in hostile_bodies(method):
        status, out = api.post(f"/api/{method}", body)
        answers[f"{status} {out[:40].decode(errors='replace')}"] += 1
        assert (status, out) == (400, b"Bad Request"), (method, what, status, out[:200])
    record_property("answers", dict(answers))
    assert answers.total() >= 4


def test_transport_error_mode_still_400_for_undecodable_bodies_api_06(api: Api) -> None:
    headers = {"X-Centrifugo-Error-Mode": "transport"}
    for body in (deep(100_000), b'{"expire_at":18446744073709551616}', b'{"user":5}'):
        assert api.post("/api/refresh", body, headers) == (400, b"Bad Request")


async def test_in_range_extremes_never_error_100_with_a_connected_client_api_05(
    server: ServerProcess,
) -> None:
    """The largest and smallest values each type admits reach a real session (server-side
    subscribe, refresh, history, disconnect): the answer is a result or a client error."""
    client = WsClient(server.ws_url(), token=connection_token(SECRET, "u"), timeout=scaled(5))
    await client.connect()
    await asyncio.sleep(0.2)
    api = Api(server)
    u64, i64 = 2**64 - 1, (-(2**63), 2**63 - 1)
    calls: list[tuple[str, dict[str, Any]]] = [
        ("publish", {"channel": "room", "data": {}, "version": u64, "version_epoch": "e"}),
        ("broadcast", {"channels": ["room", "srv:a"], "data": {}, "version": u64}),
        (
            "subscribe",
            {
                "user": "u",
                "channel": "srv:a",
                "expire_at": i64[1],
                "recover_since": {"offset": u64, "epoch": "x"},
                "override": {"force_recovery": {"value": True}},
            },
        ),
        ("subscribe", {"user": "u", "channel": "srv:b", "expire_at": 1}),
        ("history", {"channel": "room", "limit": -(2**31), "since": {"offset": u64}}),
        ("history", {"channel": "room", "limit": 2**31 - 1, "reverse": True}),
        ("history", {"channel": "room", "limit": 1, "since": {"offset": 0, "epoch": "?"}}),
        ("refresh", {"user": "u", "expire_at": i64[1]}),
        ("refresh", {"user": "u", "expire_at": i64[0], "info": {"x": 1}}),
        ("presence", {"channel": "room"}),
        ("disconnect", {"user": "u", "disconnect": {"code": 2**32 - 1, "reason": "r" * 300}}),
        ("disconnect", {"user": "u", "disconnect": {"code": 0}}),
    ]
    try:
        for method, params in calls:
            status, out = api.post(f"/api/{method}", json.dumps(params).encode())
            assert_not_internal(method, status, out, params)
            assert status == 200, (method, out)
            await asyncio.sleep(0.05)
    finally:
        api.conn.close()
        await client.disconnect()
    await asyncio.sleep(0.3)
    assert "Traceback" not in server.log_text(), server.describe("traceback")


# -- legacy format (API-03) -----------------------------------------------------------------


def test_legacy_bad_params_answer_107_per_command_api_03(api: Api, record_property: Record) -> None:
    """Params that do not decode for their method: that command's error 107, the others
    run. (Params nested too deep cannot even be skipped: the line itself is undecodable.)"""
    lines = [
        b'{"id":1,"method":"publish","params":{"channel":"room","data":{}}}',
        b'{"id":2,"method":"refresh","params":{"user":"u","expire_at":18446744073709551616}}',
        b'{"id":3,"method":3,"params":{"user":"u","disconnect":{"code":-1}}}',
        b'{"id":4,"method":"history","params":{"channel":"room","limit":2147483648}}',
        b'{"id":5,"method":"history","params":{"channel":"room","since":{"offset":1e40}}}',
        b'{"id":6,"method":"subscribe","params":"nope"}',
        b'{"id":7,"method":"subscribe","params":{"channel":"room","expire_at":1.5}}',
        b'{"id":8,"method":"publish","params":{"channel":5}}',
        b'{"id":9,"method":"broadcast","params":{"channels":["room"],"data":{},"version":-1}}',
        b'{"id":10,"method":"publish"}',
        b'{"id":11,"method":"info"}',
    ]
    status, out = api.post("/api", b"\n".join(lines))
    assert status == 200, out[:300]
    replies = [json.loads(x) for x in out.split(b"\n")]
    record_property(
        "reply_by_id", {r.get("id"): r.get("error", {}).get("code", "result") for r in replies}
    )
    assert [r["id"] for r in replies] == list(range(1, 12))
    assert "result" in replies[0] and "result" in replies[10]
    for reply in replies[1:10]:
        assert reply["error"] == {"code": 107, "message": "bad request"}, reply


@pytest.mark.parametrize(
    "line",
    [
        b'{"id":4294967296,"method":"info"}',
        b'{"id":-1,"method":"info"}',
        b'{"id":1.5,"method":"info"}',
        b'{"method":2147483648}',
        b'{"method":-2147483649}',
        b'{"method":1.5}',
        b'{"method":["info"]}',
        b'{"method":"info","params":' + deep(100_000) + b"}",
        b'{"method":"publish","params":{"channel":"room","data":' + deep_obj(1_000) + b"}}",
        deep(1_000),
        deep_obj(100_000),
        b"not json",
        b'{"method":"info"',
    ],
)
def test_legacy_undecodable_line_is_400_api_03(api: Api, line: bytes) -> None:
    body = b'{"id":1,"method":"info"}\n' + line
    assert api.post("/api", body) == (400, b"Bad Request")


# -- random bodies --------------------------------------------------------------------------

_CHANNELS = st.sampled_from(["room", "room", "srv:a", "nope:x", "", "room\n", "a" * 300])
_ints = st.integers() | st.sampled_from([2**64 - 1, 2**64, 2**63, -(2**63) - 1, 2**32, -1, 0])
_json = st.recursive(
    st.none() | st.booleans() | _ints | st.floats(allow_nan=False) | st.text(max_size=6),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=8,
)


def _value(tp: Any, depth: int = 0) -> st.SearchStrategy[Any]:
    """Values of the field's type most of the time, anything JSON otherwise."""
    base = _base(tp)
    typed: st.SearchStrategy[Any]
    if base is str:
        typed = _CHANNELS | st.sampled_from(["u", "other"]) | st.text(max_size=8)
    elif base is bool:
        typed = st.booleans()
    elif base is int:
        typed = _ints
    elif base is msgspec.Raw:
        typed = _json
    elif isinstance(base, type) and issubclass(base, msgspec.Struct) and depth < 3:
        typed = _object(base, depth + 1)
    elif typing.get_origin(base) is list:
        (item,) = typing.get_args(base)
        typed = st.lists(_value(item, depth + 1), max_size=3)
    elif typing.get_origin(base) is dict:
        typed = st.dictionaries(
            st.text(max_size=4), _value(typing.get_args(base)[1], depth + 1), max_size=2
        )
    else:
        typed = _json
    return st.one_of(*[typed] * 8, _json)


_USUALLY_SET = frozenset({"channel", "channels", "data", "user", "commands"})


def _object(cls: type[msgspec.Struct], depth: int = 0) -> st.SearchStrategy[dict[str, Any]]:
    """Mostly well-typed request objects (so most reach the executor), with the fields a
    method needs usually present."""
    # no b64data: a binary publication makes a later JSON history answer error 100 on purpose
    # (test_api_executor::test_history_of_binary_publications_is_error_100_api_18)
    fields = {
        f.name: _value(f.type, depth) for f in msgspec.structs.fields(cls) if f.name != "b64data"
    }
    required = {k: v for k, v in fields.items() if k in _USUALLY_SET}
    optional = {k: v for k, v in fields.items() if k not in _USUALLY_SET}
    return st.fixed_dictionaries(required, optional=optional)


@st.composite
def random_body(draw: st.DrawFn, method: str) -> bytes:
    choice = draw(st.integers(0, 9))
    if choice == 0:
        return draw(st.binary(max_size=64))
    obj = draw(_object(REQUESTS[method]))
    text = json.dumps(obj).encode()
    if choice == 1:  # nesting too deep somewhere
        text = text.replace(b"{", b'{"x":' + deep(draw(st.sampled_from([1_000, 50_000]))) + b",", 1)
    return text


@pytest.mark.parametrize("method", sorted(REQUESTS))
def test_random_bodies_never_5xx_or_error_100_api_05(
    method: str, api: Api, record_property: Record
) -> None:
    statuses: Counter[int] = Counter()

    @settings(
        max_examples=200,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )
    @given(random_body(method))
    def run(body: bytes) -> None:
        status, out = api.post(f"/api/{method}", body)
        statuses[status] += 1
        assert_not_internal(method, status, out, body[:200])

    run()
    record_property("statuses", dict(statuses))


_legacy_line = st.fixed_dictionaries(
    {},
    optional={
        "id": _ints,
        "method": st.sampled_from(sorted(REQUESTS)) | st.integers(-3, 15) | _ints | _json,
        "params": st.sampled_from(sorted(REQUESTS)).flatmap(lambda n: _object(REQUESTS[n])) | _json,
    },
).map(lambda d: json.dumps(d).encode())


def test_random_legacy_bodies_never_5xx_or_error_100_api_03(api: Api) -> None:
    @settings(
        max_examples=300,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )
    @given(st.lists(_legacy_line, min_size=1, max_size=4))
    def run(lines: list[bytes]) -> None:
        status, out = api.post("/api", b"\n".join(lines))
        assert status in (200, 400), (lines, status, out[:200])
        if status == 400:
            assert out == b"Bad Request"
            return
        for reply in map(json.loads, out.split(b"\n")):
            assert reply.get("error", {}).get("code") != 100, (lines, reply)

    run()
