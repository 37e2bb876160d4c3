"""Every page and JSON endpoint of the chat: sign-up, log in/out, the index (unread counts,
last message, search, create), the room page, join/leave, read marks, messages, JWT views."""

from __future__ import annotations

import json
from typing import Any

import jwt
import pytest
from chat.models import Membership, Message, Room
from chat.services import post_message
from django.contrib.auth.models import User
from django.test import Client

pytestmark = pytest.mark.django_db


@pytest.fixture
def world() -> dict[str, Any]:
    alice = User.objects.create_user("alice", password="pw-alice-123")
    bob = User.objects.create_user("bob", password="pw-bob-123")
    carol = User.objects.create_user("carol", password="pw-carol-123")
    lobby = Room.objects.create(slug="lobby", name="Lobby")
    random = Room.objects.create(slug="random", name="Random")
    garden = Room.objects.create(slug="garden", name="Garden club")
    for user in (alice, bob):
        Membership.objects.create(room=lobby, user=user)
    Membership.objects.create(room=random, user=alice)
    return {
        "alice": alice,
        "bob": bob,
        "carol": carol,
        "lobby": lobby,
        "random": random,
        "garden": garden,
    }


def as_user(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_signup_creates_the_user_and_logs_in() -> None:
    client = Client()
    assert client.get("/signup/").status_code == 200
    response = client.post(
        "/signup/",
        {
            "username": "dora",
            "password1": "a-long-Passphrase-9",
            "password2": "a-long-Passphrase-9",
        },
    )
    assert response.status_code == 302 and response["Location"] == "/"
    assert client.get("/").context["user"].username == "dora"


def test_signup_rejects_mismatched_passwords() -> None:
    response = Client().post(
        "/signup/", {"username": "dora", "password1": "a-long-Passphrase-9", "password2": "x"}
    )
    assert response.status_code == 200
    assert not User.objects.filter(username="dora").exists()
    assert "password2" in response.context["form"].errors


def test_login_and_logout(world: dict[str, Any]) -> None:
    client = Client()
    bad = client.post("/accounts/login/", {"username": "alice", "password": "nope"})
    assert bad.status_code == 200 and b"Wrong username or password" in bad.content
    ok = client.post("/accounts/login/", {"username": "alice", "password": "pw-alice-123"})
    assert ok.status_code == 302 and ok["Location"] == "/"
    assert client.get("/").status_code == 200
    out = client.post("/accounts/logout/")
    assert out.status_code == 302 and out["Location"] == "/accounts/login/"
    assert client.get("/")["Location"] == "/accounts/login/?next=/"


@pytest.mark.parametrize("path", ["/", "/rooms.json", "/rooms/lobby/", "/rooms/lobby/messages/"])
def test_pages_require_login(world: dict[str, Any], path: str) -> None:
    response = Client().get(path)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=")


def test_index_lists_rooms_with_unread_and_last_message(world: dict[str, Any]) -> None:
    lobby, bob = world["lobby"], world["bob"]
    post_message(lobby, bob, "first")
    post_message(lobby, bob, "second")
    post_message(world["random"], world["alice"], "mine")
    response = as_user(world["alice"]).get("/")
    rooms = response.context["rooms"]
    assert [(r["slug"], r["unread"], r["members"]) for r in rooms] == [
        ("random", 0, 1),
        ("lobby", 2, 2),
    ]
    assert rooms[1]["last_message"]["text"] == "second"
    assert rooms[1]["last_message"]["author"] == {"id": bob.pk, "username": "bob"}
    html = response.content.decode()
    assert 'data-room="lobby"' in html and 'data-room="garden"' not in html
    assert json.loads(as_user(world["alice"]).get("/rooms.json").content)["rooms"] == rooms


def test_index_search_finds_rooms_to_join(world: dict[str, Any]) -> None:
    response = as_user(world["alice"]).get("/", {"q": "GARD"})
    assert [r.slug for r in response.context["found"]] == ["garden"]
    mine = as_user(world["alice"]).get("/", {"q": "lob"})
    assert mine.context["found"] == []  # already a member


def test_create_room_makes_the_creator_a_member(world: dict[str, Any]) -> None:
    client = as_user(world["carol"])
    response = client.post("/", {"name": "Book Club!"})
    assert response.status_code == 302 and response["Location"] == "/rooms/book-club/"
    room = Room.objects.get(slug="book-club")
    assert room.name == "Book Club!" and room.created_by == world["carol"]
    assert Membership.objects.filter(room=room, user=world["carol"]).exists()


@pytest.mark.parametrize(
    ("name", "error"),
    [("Lobby", "exists already"), ("!!!", "Use letters or digits"), ("", "required")],
)
def test_create_room_validation(world: dict[str, Any], name: str, error: str) -> None:
    response = as_user(world["carol"]).post("/", {"name": name})
    assert response.status_code == 200
    assert error in " ".join(response.context["form"].errors["name"])
    assert Room.objects.count() == 3


def test_room_page_shows_history_and_marks_it_read(world: dict[str, Any]) -> None:
    lobby, alice, bob = world["lobby"], world["alice"], world["bob"]
    messages = [post_message(lobby, bob, f"m{i}")[0] for i in range(3)]
    response = as_user(alice).get("/rooms/lobby/")
    assert response.status_code == 200
    page = response.context["page"]
    assert page["channel"] == "rooms:lobby"
    assert [m["text"] for m in page["messages"]] == ["m0", "m1", "m2"]
    assert response.context["members"] == ["alice", "bob"]
    assert Membership.objects.get(room=lobby, user=alice).last_read_id == messages[-1].pk
    html = response.content.decode()
    assert html.index(">m0<") < html.index(">m1<") < html.index(">m2<")
    assert 'id="room-data"' in html and 'id="realtime-config"' in html


def test_room_page_for_non_member_is_a_join_screen(world: dict[str, Any]) -> None:
    post_message(world["lobby"], world["bob"], "secret plans")
    response = as_user(world["carol"]).get("/rooms/lobby/")
    assert response.status_code == 403
    assert b"secret plans" not in response.content
    assert b'id="join-room"' in response.content
    assert as_user(world["carol"]).get("/rooms/nope/").status_code == 404


def test_join_and_leave(world: dict[str, Any]) -> None:
    client = as_user(world["carol"])
    assert client.get("/rooms/lobby/join/").status_code == 405
    joined = client.post("/rooms/lobby/join/")
    assert joined.status_code == 302 and joined["Location"] == "/rooms/lobby/"
    client.post("/rooms/lobby/join/")  # idempotent
    assert Membership.objects.filter(room=world["lobby"], user=world["carol"]).count() == 1
    left = client.post("/rooms/lobby/leave/")
    assert left.status_code == 302 and left["Location"] == "/"
    assert not Membership.objects.filter(room=world["lobby"], user=world["carol"]).exists()


def test_messages_json_members_only_and_after(world: dict[str, Any]) -> None:
    lobby, bob = world["lobby"], world["bob"]
    ids = [post_message(lobby, bob, f"n{i}")[0].pk for i in range(4)]
    client = as_user(world["alice"])
    everything = client.get("/rooms/lobby/messages/").json()["messages"]
    assert [m["id"] for m in everything] == ids
    newer = client.get("/rooms/lobby/messages/", {"after": ids[1]}).json()["messages"]
    assert [m["text"] for m in newer] == ["n2", "n3"]
    assert client.get("/rooms/lobby/messages/", {"after": "x"}).status_code == 400
    denied = as_user(world["carol"]).get("/rooms/lobby/messages/")
    assert (denied.status_code, denied.json()) == (403, {"error": "permission denied"})


def test_history_page_is_the_last_50(world: dict[str, Any]) -> None:
    lobby, bob = world["lobby"], world["bob"]
    Message.objects.bulk_create([Message(room=lobby, author=bob, text=f"b{i}") for i in range(60)])
    texts = [
        m["text"] for m in as_user(world["alice"]).get("/rooms/lobby/messages/").json()["messages"]
    ]
    assert texts == [f"b{i}" for i in range(10, 60)]


def test_read_marks(world: dict[str, Any]) -> None:
    lobby, alice, bob = world["lobby"], world["alice"], world["bob"]
    ids = [post_message(lobby, bob, f"r{i}")[0].pk for i in range(3)]
    client = as_user(alice)

    def read(body: Any) -> Any:
        return client.post("/rooms/lobby/read/", json.dumps(body), content_type="application/json")

    assert read({"last_id": ids[0]}).json() == {"unread": 2}
    assert read({"last_id": ids[0] - 1}).json() == {"unread": 2}  # never backwards
    assert read({"last_id": ids[2] + 100}).json() == {"unread": 0}  # capped at the last id
    assert Membership.objects.get(room=lobby, user=alice).last_read_id == ids[2]
    assert read({"nope": 1}).status_code == 400
    assert read({"last_id": -1}).status_code == 400
    outsider = as_user(world["carol"]).post(
        "/rooms/lobby/read/", json.dumps({"last_id": 1}), content_type="application/json"
    )
    assert outsider.status_code == 403


def test_jwt_connection_token_view(world: dict[str, Any], settings: Any) -> None:
    alice = world["alice"]
    assert as_user(alice).get("/centripetal/token/connection/").status_code == 405
    token = as_user(alice).post("/centripetal/token/connection/").json()["token"]
    secret = settings.CENTRIPETAL["TOKEN_HMAC_SECRET"]
    claims = jwt.decode(token, secret, algorithms=["HS256"])
    assert claims["sub"] == str(alice.pk)
    assert claims["info"] == {"username": "alice"}
    assert claims["channels"] == [f"personal:{alice.pk}"]
    assert claims["exp"] - claims["iat"] == 3600
    assert Client().post("/centripetal/token/connection/").status_code == 302


def test_jwt_subscription_token_view(world: dict[str, Any], settings: Any) -> None:
    def ask(user: User, channel: Any) -> Any:
        return as_user(user).post(
            "/centripetal/token/subscription/",
            json.dumps({"channel": channel}),
            content_type="application/json",
        )

    token = ask(world["bob"], "rooms:lobby").json()["token"]
    claims = jwt.decode(token, settings.CENTRIPETAL["TOKEN_HMAC_SECRET"], algorithms=["HS256"])
    assert (claims["sub"], claims["channel"]) == (str(world["bob"].pk), "rooms:lobby")
    assert ask(world["carol"], "rooms:lobby").status_code == 403
    assert ask(world["bob"], "personal:1").status_code == 403
    assert ask(world["bob"], None).status_code == 400
