"""The reusable ``centripetal_django`` package: settings, proxy-view decorator, tokens, the
``cent``-based API client against a real server, management commands and system checks; and
the chat's personal-channel broadcasts observed in the real server's history (API-03)."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from typing import Any

import cent
import jwt
import pytest
from chat.models import Membership, Room
from chat.realtime_config import build_config
from chat.services import notify_message, post_message
from chat_stack import CHAT_DIR
from django.contrib.auth.models import User
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import RequestFactory
from support.server import ServerProcess

from centripetal_django import api, proxy, tokens
from centripetal_django.checks import check_centripetal_secrets
from centripetal_django.conf import get_settings

rf = RequestFactory()


def proxied(view: Any, body: Any, **meta: str) -> Any:
    raw = body if isinstance(body, (bytes, str)) else json.dumps(body)
    return view(rf.post("/p/", raw, content_type="application/json", **meta))


# -- settings ----------------------------------------------------------------------------------


def test_settings_defaults_and_unknown_keys(settings: Any) -> None:
    settings.CENTRIPETAL = {"API_KEY": "k", "WS_PORT": "9001"}
    conf = get_settings()
    assert (conf.API_URL, conf.API_KEY, conf.WS_PORT, conf.TOKEN_TTL) == (
        "http://127.0.0.1:8000/api",
        "k",
        9001,
        3600,
    )
    assert conf.proxy_secret_meta_key == "HTTP_X_CENTRIPETAL_PROXY_SECRET"
    settings.CENTRIPETAL = {"API_KYE": "k"}
    with pytest.raises(ImproperlyConfigured, match="unknown key\\(s\\) 'API_KYE'"):
        get_settings()


# -- proxy_view --------------------------------------------------------------------------------


def test_proxy_view_result_error_disconnect(settings: Any) -> None:
    settings.CENTRIPETAL = {"PROXY_SECRET": "s3cret", "PROXY_SECRET_HEADER": "X-Backend-Key"}
    seen: list[proxy.ProxyRequest] = []

    @proxy.proxy_view
    def handler(request: Any, req: proxy.ProxyRequest) -> dict[str, Any]:
        seen.append(req)
        if req.method == "fail":
            raise proxy.ProxyError(1500, "nope", temporary=True)
        if req.method == "bye":
            raise proxy.ProxyDisconnect(4500, "go away")
        return proxy.result(data={"echo": req.data}, info=None)

    key = {"HTTP_X_BACKEND_KEY": "s3cret"}
    ok = proxied(handler, {"client": "c", "user": "7", "data": {"a": 1}, "extra": True}, **key)
    assert json.loads(ok.content) == {"result": {"data": {"echo": {"a": 1}}}}
    assert (seen[0].client, seen[0].user, seen[0].raw["extra"]) == ("c", "7", True)
    fail = proxied(handler, {"method": "fail"}, **key)
    assert json.loads(fail.content) == {
        "error": {"code": 1500, "message": "nope", "temporary": True}
    }
    bye = proxied(handler, {"method": "bye"}, **key)
    assert json.loads(bye.content) == {"disconnect": {"code": 4500, "reason": "go away"}}
    assert proxied(handler, {}, HTTP_X_BACKEND_KEY="s3cre").status_code == 403
    assert proxied(handler, "[1, 2]", **key).status_code == 400
    assert len(seen) == 3


async def test_proxy_view_async_handler(settings: Any) -> None:
    settings.CENTRIPETAL = {}

    @proxy.proxy_view
    async def handler(request: Any, req: proxy.ProxyRequest) -> dict[str, Any]:
        return proxy.result(user=req.user or "anon")

    response = await handler(rf.post("/p/", "{}", content_type="application/json"))
    assert json.loads(response.content) == {"result": {"user": "anon"}}


# -- tokens ------------------------------------------------------------------------------------


def test_tokens_claims_and_secrets(settings: Any) -> None:
    settings.CENTRIPETAL = {
        "TOKEN_HMAC_SECRET": "c" * 32,
        "SUBSCRIPTION_TOKEN_HMAC_SECRET": "s" * 32,
        "TOKEN_TTL": 60,
    }
    conn = tokens.connection_token(42, info={"n": 1}, channels=["personal:42"], meta={"m": 2})
    claims = jwt.decode(conn, "c" * 32, algorithms=["HS256"])
    assert {k: claims[k] for k in ("sub", "info", "channels", "meta")} == {
        "sub": "42",
        "info": {"n": 1},
        "channels": ["personal:42"],
        "meta": {"m": 2},
    }
    assert claims["exp"] - claims["iat"] == 60
    sub = tokens.subscription_token("42", "rooms:x", ttl=0)
    sub_claims = tokens.decode_token(sub, subscription=True)
    assert sub_claims["channel"] == "rooms:x" and "exp" not in sub_claims
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(sub, "c" * 32, algorithms=["HS256"])
    settings.CENTRIPETAL = {}
    with pytest.raises(ImproperlyConfigured, match="TOKEN_HMAC_SECRET"):
        tokens.connection_token(1)


def test_gentoken_command(settings: Any) -> None:
    settings.CENTRIPETAL = {"TOKEN_HMAC_SECRET": "k" * 32}
    out = io.StringIO()
    call_command("gentoken", "17", "--ttl", "30", "--info", '{"name": "x"}', stdout=out)
    claims = jwt.decode(out.getvalue().strip(), "k" * 32, algorithms=["HS256"])
    assert (claims["sub"], claims["info"], claims["exp"] - claims["iat"]) == (
        "17",
        {"name": "x"},
        30,
    )
    out = io.StringIO()
    call_command("gentoken", "17", "--channel", "rooms:a", stdout=out)
    assert (
        jwt.decode(out.getvalue().strip(), "k" * 32, algorithms=["HS256"])["channel"] == "rooms:a"
    )
    with pytest.raises(CommandError, match="--info is not JSON"):
        call_command("gentoken", "1", "--info", "{")
    settings.CENTRIPETAL = {}
    with pytest.raises(CommandError, match="TOKEN_HMAC_SECRET"):
        call_command("gentoken", "1")


def test_system_check_warns_about_unprotected_proxies(settings: Any) -> None:
    settings.DEBUG = False
    settings.CENTRIPETAL = {"TOKEN_HMAC_SECRET": "short"}
    ids = sorted(m.id for m in check_centripetal_secrets())
    assert ids == ["centripetal.W001", "centripetal.W002"]
    settings.CENTRIPETAL = {"PROXY_SECRET": "x", "TOKEN_HMAC_SECRET": "z" * 40}
    assert check_centripetal_secrets() == []


# -- API client against a real server ------------------------------------------------------------


def test_api_client_publish_broadcast_and_info(realtime_server: ServerProcess) -> None:
    api.publish("personal:1", {"n": 1})
    result = api.broadcast(["personal:1", "personal:2"], {"n": 2})
    assert len(result.responses) == 2
    history = api.get_client().history(cent.HistoryRequest(channel="personal:1", limit=10))
    assert [p.data for p in history.publications] == [{"n": 1}, {"n": 2}]
    out = io.StringIO()
    call_command("centripetal_info", stdout=out)
    assert out.getvalue().startswith(f"server API at {realtime_server.http_url}/api: 1 node(s)")


async def test_async_api_client(realtime_server: ServerProcess) -> None:
    client = api.async_client()
    try:
        await client.publish(cent.PublishRequest(channel="personal:9", data={"async": True}))
        history = await client.history(cent.HistoryRequest(channel="personal:9", limit=5))
    finally:
        await client.close()
    assert [p.data for p in history.publications] == [{"async": True}]


def test_api_errors_surface_as_cent_errors(realtime_server: ServerProcess, settings: Any) -> None:
    settings.CENTRIPETAL = {**settings.CENTRIPETAL, "API_KEY": "wrong"}
    with pytest.raises(cent.CentError):
        api.publish("personal:1", {"n": 1})
    with pytest.raises(CommandError, match="server API at"):
        call_command("centripetal_info")


# -- the chat's broadcasts -----------------------------------------------------------------------


@pytest.mark.django_db
def test_new_message_reaches_each_members_personal_channel(
    realtime_server: ServerProcess,
) -> None:
    alice = User.objects.create_user("alice")
    bob = User.objects.create_user("bob")
    carol = User.objects.create_user("carol")
    lobby = Room.objects.create(slug="lobby", name="Lobby")
    for user in (alice, bob, carol):
        Membership.objects.create(room=lobby, user=user)
    Membership.objects.filter(user=carol).update(last_read_id=10**9)
    post_message(lobby, alice, "one")
    message, _ = post_message(lobby, alice, "two")
    notify_message(message)
    client = api.get_client()

    def last(user: User) -> dict[str, Any]:
        pubs = client.history(
            cent.HistoryRequest(channel=f"personal:{user.pk}", limit=-1)
        ).publications
        return pubs[-1].data

    expected_message = {
        "type": "message",
        "id": message.pk,
        "room": "lobby",
        "text": "two",
        "author": {"id": alice.pk, "username": "alice"},
        "created": message.created.isoformat(),
        "client_id": "",
    }
    room = {"slug": "lobby", "name": "Lobby", "url": "/rooms/lobby/"}
    assert last(bob) == {"type": "message", "room": room, "message": expected_message, "unread": 2}
    assert last(alice)["unread"] == 0
    assert last(carol)["unread"] == 0


@pytest.mark.django_db
def test_leaving_unsubscribes_and_notifies(realtime_server: ServerProcess) -> None:
    from django.test import Client

    bob = User.objects.create_user("bob")
    lobby = Room.objects.create(slug="lobby", name="Lobby")
    Membership.objects.create(room=lobby, user=bob)
    client = Client()
    client.force_login(bob)
    client.post("/rooms/lobby/leave/")
    history = api.get_client().history(cent.HistoryRequest(channel=f"personal:{bob.pk}", limit=-1))
    data = history.publications[-1].data
    assert (data["type"], data["action"], data["room"]["members"]) == ("membership", "left", 0)


# -- configuration ------------------------------------------------------------------------------


@pytest.mark.parametrize("auth", ["proxy", "jwt"])
def test_server_config_is_accepted_by_the_server(auth: str, tmp_path: Any) -> None:
    config = build_config("http://127.0.0.1:8000", ["http://localhost:8000"], auth=auth)
    rooms = config["channel"]["namespaces"][0]
    assert (rooms["name"], rooms["force_recovery"], rooms["force_push_join_leave"]) == (
        "rooms",
        True,
        True,
    )
    headers = config["channel"]["proxy"]["publish"]["http"]["static_headers"]
    assert headers == {"X-Centripetal-Proxy-Secret": "dev-proxy-secret"}
    assert ("proxy" in config["client"]) is (auth == "proxy")
    assert ("token" in config["client"]) is (auth == "jwt")
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    done = subprocess.run(
        [sys.executable, "-m", "centripetal", "checkconfig", "--strict", "-c", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_committed_example_config_matches_the_generator() -> None:
    committed = json.loads((CHAT_DIR / "centripetal.json").read_text())
    assert committed == build_config(
        "http://127.0.0.1:8000", ["http://localhost:8000", "http://127.0.0.1:8000"], auth="proxy"
    )


def test_production_settings_pass_check_deploy() -> None:
    env = dict(
        os.environ,
        DJANGO_SETTINGS_MODULE="chatsite.settings.production",
        DJANGO_SECRET_KEY="p" + "x9Qz!" * 12,
        DJANGO_ALLOWED_HOSTS="chat.example.com",
        CENTRIPETAL_API_KEY="api-key",
        CENTRIPETAL_PROXY_SECRET="proxy-secret",
    )
    done = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=CHAT_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "System check identified no issues (0 silenced)." in done.stdout
    del env["DJANGO_SECRET_KEY"]
    missing = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=CHAT_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert missing.returncode != 0
    assert "DJANGO_SECRET_KEY is required" in missing.stderr
