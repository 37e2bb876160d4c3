"""Chat domain operations shared by the pages and the proxy handlers.

Every change a member's index page must show (new message, unread count, membership) is sent
to personal channels ``personal:<user id>`` with the server API ``broadcast`` through ``cent``
(spec API-03): members are grouped by their unread count so each group gets one broadcast with
its exact count. The calls run on a small background pool (``CHAT_NOTIFY_IN_BACKGROUND``) so a
publish proxy reply never waits for them; failures are logged, never raised.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import cent
from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.db.models import Count, F, Max, Q

from centripetal_django.api import get_client

from .models import Membership, Message, Room

logger = logging.getLogger("chat")

_pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="chat-notify")
_pending: list[Future[None]] = []


def personal_channel(user_id: int | str) -> str:
    """The server-side subscribed channel of one user (connect proxy ``channels``, PX-10)."""
    return f"personal:{user_id}"


def user_payload(user: AbstractBaseUser) -> dict[str, Any]:
    return {"id": user.pk, "username": user.get_username()}


def message_payload(message: Message) -> dict[str, Any]:
    """The data subscribers of ``rooms:<slug>`` receive (publish proxy result ``data``)."""
    return {
        "type": "message",
        "id": message.pk,
        "room": message.room.slug,
        "text": message.text,
        "author": user_payload(message.author),
        "created": message.created.isoformat(),
        "client_id": message.client_id,
    }


def room_payload(room: Room) -> dict[str, Any]:
    return {"slug": room.slug, "name": room.name, "url": room.get_absolute_url()}


def is_member(user_id: int | str, room: Room) -> bool:
    return Membership.objects.filter(room=room, user_id=user_id).exists()


def post_message(room: Room, author: Any, text: str, client_id: str = "") -> tuple[Message, bool]:
    """Store a message; return ``(message, created)``. A repeated ``client_id`` returns the
    message stored first. The author has read everything up to their own message."""
    if client_id:
        existing = Message.objects.filter(room=room, author=author, client_id=client_id).first()
        if existing is not None:
            return existing, False
    try:
        with transaction.atomic():
            message = Message.objects.create(
                room=room, author=author, text=text, client_id=client_id
            )
    except IntegrityError:  # a concurrent duplicate won the race
        return Message.objects.get(room=room, author=author, client_id=client_id), False
    Membership.objects.filter(room=room, user=author, last_read_id__lt=message.pk).update(
        last_read_id=message.pk
    )
    return message, True


def _unread_filter() -> Q:
    return Q(room__messages__id__gt=F("last_read_id")) & ~Q(room__messages__author=F("user"))


def unread_by_member(room: Room) -> dict[int, int]:
    """``{user id: unread count}`` for every member of ``room``."""
    rows = (
        Membership.objects.filter(room=room)
        .annotate(unread=Count("room__messages", filter=_unread_filter()))
        .values_list("user_id", "unread")
    )
    return dict(rows)


def unread_for(user_id: int, room: Room) -> int:
    membership = Membership.objects.filter(room=room, user_id=user_id).first()
    if membership is None:
        return 0
    return (
        Message.objects.filter(room=room, id__gt=membership.last_read_id)
        .exclude(author_id=user_id)
        .count()
    )


def room_summaries(user: Any) -> list[dict[str, Any]]:
    """The index list: the user's rooms with unread count, member count and last message,
    most recently active first."""
    memberships = (
        Membership.objects.filter(user=user)
        .select_related("room")
        .annotate(
            unread=Count("room__messages", filter=_unread_filter(), distinct=True),
            last_id=Max("room__messages__id"),
        )
    )
    items = list(memberships)
    last_ids = [m.last_id for m in items if m.last_id]
    last_messages = {
        m.pk: m for m in Message.objects.filter(pk__in=last_ids).select_related("author", "room")
    }
    counts = dict(
        Membership.objects.filter(room__in=[m.room for m in items])
        .values("room_id")
        .annotate(n=Count("id"))
        .values_list("room_id", "n")
    )
    summaries = []
    for membership in items:
        room = membership.room
        last = last_messages.get(membership.last_id) if membership.last_id else None
        summaries.append(
            {
                **room_payload(room),
                "unread": membership.unread,
                "members": counts.get(room.pk, 0),
                "last_message": message_payload(last) if last else None,
                "sort": membership.last_id or 0,
                "joined": membership.joined.isoformat(),
            }
        )
    summaries.sort(key=lambda s: (s["sort"], s["joined"]), reverse=True)
    for summary in summaries:
        del summary["sort"], summary["joined"]
    return summaries


def recent_messages(room: Room, limit: int | None = None) -> list[Message]:
    """The last ``limit`` messages of a room in ascending id order."""
    size = limit or settings.CHAT_HISTORY_PAGE
    newest = Message.objects.filter(room=room).select_related("author", "room").order_by("-id")
    return list(reversed(newest[:size]))


def mark_read(membership: Membership, last_id: int) -> int:
    """Advance ``last_read_id`` (never backwards) and tell the user's other tabs; return the
    new unread count."""
    capped = min(
        last_id, Message.objects.filter(room=membership.room).aggregate(m=Max("id"))["m"] or 0
    )
    if capped > membership.last_read_id:
        Membership.objects.filter(pk=membership.pk, last_read_id__lt=capped).update(
            last_read_id=capped
        )
        membership.refresh_from_db()
    unread = unread_for(membership.user_id, membership.room)
    send(
        [personal_channel(membership.user_id)],
        {"type": "read", "room": membership.room.slug, "unread": unread},
    )
    return unread


# -- notifications ------------------------------------------------------------------------


def notify_message(message: Message) -> None:
    """Tell every member's index about a new message, with that member's unread count."""
    groups: dict[int, list[str]] = defaultdict(list)
    for user_id, unread in unread_by_member(message.room).items():
        groups[unread].append(personal_channel(user_id))
    payload = message_payload(message)
    for unread, channels in sorted(groups.items()):
        send(
            channels,
            {
                "type": "message",
                "room": room_payload(message.room),
                "message": payload,
                "unread": unread,
            },
        )


def notify_membership(
    room: Room, user: Any, action: str, extra_channels: Iterable[str] = ()
) -> None:
    """Tell members (and ``extra_channels``) that ``user`` joined or left ``room``."""
    channels = [
        personal_channel(uid)
        for uid in Membership.objects.filter(room=room).values_list("user_id", flat=True)
    ]
    channels.extend(c for c in extra_channels if c not in channels)
    members = Membership.objects.filter(room=room).count()
    data = {
        "type": "membership",
        "action": action,
        "room": {**room_payload(room), "members": members},
        "user": user_payload(user),
        "unread": unread_for(user.pk, room) if action == "joined" else 0,
    }
    send(channels, data)


def kick_from_channel(user_id: int, room: Room) -> None:
    """Unsubscribe a user who left from the room channel on every node (API-04)."""
    _submit(
        lambda: get_client().unsubscribe(
            cent.UnsubscribeRequest(user=str(user_id), channel=room.channel)
        )
    )


def send(channels: Sequence[str], data: dict[str, Any]) -> None:
    """Broadcast ``data`` to ``channels`` (background unless configured otherwise)."""
    if not channels:
        return
    request = cent.BroadcastRequest(channels=list(channels), data=data)
    _submit(lambda: get_client().broadcast(request))


def _submit(call: Any) -> None:
    def run() -> None:
        try:
            call()
        except Exception:  # a notification must never break a request
            logger.exception("real-time server API call failed")

    if getattr(settings, "CHAT_NOTIFY_IN_BACKGROUND", True):
        future = _pool.submit(run)
        _pending.append(future)
        if len(_pending) > 256:
            del _pending[: len(_pending) - 256]
    else:
        run()


def wait_for_notifications(timeout: float = 10.0) -> None:
    """Block until queued notifications are sent (tests and management commands)."""
    for future in list(_pending):
        future.result(timeout=timeout)
    _pending.clear()
