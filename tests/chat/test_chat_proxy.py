"""The chat's proxy handlers, request to exact response JSON (PX-10 connect, PX-12 subscribe,
PX-13 publish, PX-17 errors), with the shared-secret header the server config adds."""

from __future__ import annotations

import json
from typing import Any

import pytest
from chat.models import Membership, Message, Room
from django.contrib.auth.models import User
from django.test import Client

pytestmark = pytest.mark.django_db

SECRET = {"HTTP_X_CENTRIPETAL_PROXY_SECRET": "dev-proxy-secret"}


@pytest.fixture
def people() -> dict[str, Any]:
    alice = User.objects.create_user("alice", password="pw-alice-123")
    bob = User.objects.create_user("bob", password="pw-bob-123")
    carol = User.objects.create_user("carol", password="pw-carol-123")
    lobby = Room.objects.create(slug="lobby", name="Lobby")
    Membership.objects.create(room=lobby, user=alice)
    Membership.objects.create(room=lobby, user=bob)
    return {"alice": alice, "bob": bob, "carol": carol, "lobby": lobby}


def call(client: Client, event: str, body: dict[str, Any], **headers: str) -> Any:
    response = client.post(
        f"/centripetal/proxy/{event}/",
        data=json.dumps(body),
        content_type="application/json",
        **(SECRET | headers),
    )
    return response


def proxy_body(user: str = "", **fields: Any) -> dict[str, Any]:
    body = {"client": "c-1", "transport": "websocket", "protocol": "json", "encoding": "json"}
    if user:
        body["user"] = user
    body.update(fields)
    return body


# -- connect (PX-10) -----------------------------------------------------------------------


def test_px10_connect_reads_the_django_session_from_the_cookie(people: dict[str, Any]) -> None:
    client = Client()
    client.force_login(people["alice"])
    response = call(client, "connect", proxy_body())
    assert response.status_code == 200
    uid = people["alice"].pk
    assert response.json() == {
        "result": {
            "user": str(uid),
            "info": {"username": "alice"},
            "channels": [f"personal:{uid}"],
        }
    }


def test_px10_connect_without_session_disconnects_4401(people: dict[str, Any]) -> None:
    response = call(Client(), "connect", proxy_body())
    assert response.json() == {"disconnect": {"code": 4401, "reason": "login required"}}


def test_proxy_secret_is_required(people: dict[str, Any]) -> None:
    client = Client()
    client.force_login(people["alice"])
    body = json.dumps(proxy_body())
    missing = client.post("/centripetal/proxy/connect/", body, content_type="application/json")
    wrong = client.post(
        "/centripetal/proxy/connect/",
        body,
        content_type="application/json",
        HTTP_X_CENTRIPETAL_PROXY_SECRET="dev-proxy-secreT",
    )
    assert (missing.status_code, wrong.status_code) == (403, 403)
    assert b"result" not in missing.content + wrong.content


def test_proxy_views_accept_post_only(people: dict[str, Any]) -> None:
    response = Client().get("/centripetal/proxy/publish/", **SECRET)
    assert response.status_code == 405
    assert response["Allow"] == "POST"


def test_proxy_malformed_body_is_400(people: dict[str, Any]) -> None:
    response = Client().post(
        "/centripetal/proxy/subscribe/", "{nope", content_type="application/json", **SECRET
    )
    assert response.status_code == 400


# -- subscribe (PX-12) -----------------------------------------------------------------------


def test_px12_member_may_subscribe(people: dict[str, Any]) -> None:
    body = proxy_body(str(people["bob"].pk), channel="rooms:lobby")
    assert call(Client(), "subscribe", body).json() == {"result": {}}


@pytest.mark.parametrize(
    "channel", ["rooms:lobby", "rooms:nowhere", "personal:1", "rooms:", "lobby"]
)
def test_px12_non_member_gets_103(people: dict[str, Any], channel: str) -> None:
    body = proxy_body(str(people["carol"].pk), channel=channel)
    assert call(Client(), "subscribe", body).json() == {
        "error": {"code": 103, "message": "permission denied"}
    }


def test_px12_anonymous_user_gets_103(people: dict[str, Any]) -> None:
    body = proxy_body("", channel="rooms:lobby")
    assert call(Client(), "subscribe", body).json()["error"]["code"] == 103


# -- publish (PX-13) -------------------------------------------------------------------------


def test_px13_publish_stores_and_returns_the_enriched_message(people: dict[str, Any]) -> None:
    alice = people["alice"]
    data = {"type": "message", "text": "  hello there  ", "client_id": "c-abc"}
    body = proxy_body(str(alice.pk), channel="rooms:lobby", data=data)
    reply = call(Client(), "publish", body).json()
    message = Message.objects.get()
    assert message.text == "hello there"
    assert message.author == alice
    assert reply == {
        "result": {
            "data": {
                "type": "message",
                "id": message.pk,
                "room": "lobby",
                "text": "hello there",
                "author": {"id": alice.pk, "username": "alice"},
                "created": message.created.isoformat(),
                "client_id": "c-abc",
            }
        }
    }
    assert Membership.objects.get(user=alice).last_read_id == message.pk


def test_px13_same_client_id_is_stored_once(people: dict[str, Any]) -> None:
    body = proxy_body(
        str(people["bob"].pk),
        channel="rooms:lobby",
        data={"type": "message", "text": "once", "client_id": "retry-1"},
    )
    first = call(Client(), "publish", body).json()
    second = call(Client(), "publish", body).json()
    assert first == second
    assert Message.objects.count() == 1


def test_px13_b64data_is_decoded(people: dict[str, Any]) -> None:
    import base64

    raw = json.dumps({"type": "message", "text": "binary mode"}).encode()
    body = proxy_body(
        str(people["bob"].pk), channel="rooms:lobby", b64data=base64.b64encode(raw).decode()
    )
    assert call(Client(), "publish", body).json()["result"]["data"]["text"] == "binary mode"


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"type": "message", "text": "   "}, {"code": 1001, "message": "message is empty"}),
        ({"type": "message", "text": ""}, {"code": 1001, "message": "message is empty"}),
        (
            {"type": "message", "text": "x" * 2001},
            {"code": 1002, "message": "message is longer than 2000 characters"},
        ),
        ({"type": "message", "text": 5}, {"code": 107, "message": "bad request"}),
        ({"type": "message"}, {"code": 107, "message": "bad request"}),
        ({"type": "shout", "text": "hi"}, {"code": 107, "message": "bad request"}),
        ("just a string", {"code": 107, "message": "bad request"}),
        (
            {"type": "message", "text": "ok", "client_id": "x" * 65},
            {"code": 107, "message": "bad request"},
        ),
    ],
)
def test_px13_validation_errors(people: dict[str, Any], data: Any, expected: dict) -> None:
    body = proxy_body(str(people["alice"].pk), channel="rooms:lobby", data=data)
    assert call(Client(), "publish", body).json() == {"error": expected}
    assert Message.objects.count() == 0


def test_px13_exactly_2000_characters_is_accepted(people: dict[str, Any]) -> None:
    body = proxy_body(
        str(people["alice"].pk), channel="rooms:lobby", data={"type": "message", "text": "y" * 2000}
    )
    assert len(call(Client(), "publish", body).json()["result"]["data"]["text"]) == 2000


def test_px13_non_member_cannot_publish(people: dict[str, Any]) -> None:
    body = proxy_body(
        str(people["carol"].pk), channel="rooms:lobby", data={"type": "message", "text": "hi"}
    )
    assert call(Client(), "publish", body).json() == {
        "error": {"code": 103, "message": "permission denied"}
    }
    assert Message.objects.count() == 0


def test_px13_typing_is_passed_without_history(people: dict[str, Any]) -> None:
    bob = people["bob"]
    body = proxy_body(str(bob.pk), channel="rooms:lobby", data={"type": "typing"})
    assert call(Client(), "publish", body).json() == {
        "result": {
            "data": {"type": "typing", "user": {"id": bob.pk, "username": "bob"}},
            "skip_history": True,
        }
    }
    assert Message.objects.count() == 0
