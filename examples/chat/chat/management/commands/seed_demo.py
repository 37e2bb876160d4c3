"""``manage.py seed_demo``: demo users and rooms (idempotent: run it any number of times).

Users ``alice``, ``bob`` and ``carol`` (password ``DEMO_PASSWORD``); rooms ``lobby`` (all
three) and ``random`` (alice and bob), with a welcome message in the lobby.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from chat.models import Membership, Message, Room

DEMO_PASSWORD = "chat-demo-pass"
USERS = ("alice", "bob", "carol")
ROOMS = {"lobby": ("Lobby", USERS), "random": ("Random", ("alice", "bob"))}


class Command(BaseCommand):
    help = "Create the demo users and rooms if they are missing."

    def handle(self, *args: Any, **options: Any) -> None:
        user_model = get_user_model()
        users = {}
        for name in USERS:
            user, created = user_model.objects.get_or_create(username=name)
            if created:
                user.set_password(DEMO_PASSWORD)
                user.save()
            users[name] = user
        for slug, (title, members) in ROOMS.items():
            room, _ = Room.objects.get_or_create(
                slug=slug, defaults={"name": title, "created_by": users["alice"]}
            )
            for name in members:
                Membership.objects.get_or_create(room=room, user=users[name])
        lobby = Room.objects.get(slug="lobby")
        Message.objects.get_or_create(
            room=lobby,
            author=users["alice"],
            client_id="seed-welcome",
            defaults={"text": "Welcome to the lobby! Say hello."},
        )
        self.stdout.write(
            f"demo users {', '.join(USERS)} (password {DEMO_PASSWORD!r}); rooms {', '.join(ROOMS)}"
        )
