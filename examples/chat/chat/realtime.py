"""The real-time server's proxy handlers and the JWT views (the tutorial's architecture,
finished).

* connect (PX-10): the Django session arrives in the forwarded ``Cookie``; an authenticated
  user gets ``user`` = their id, ``info`` = their name (seen in presence and join/leave) and
  the server-side subscription to ``personal:<id>``. Anonymous: ``disconnect`` 4401.
* subscribe (PX-12): only members of the room may subscribe to ``rooms:<slug>`` (else 103).
* publish (PX-13): ``{"type": "message", "text", "client_id"}`` is validated (member, non-empty,
  length cap), stored and replaced by the enriched message (id, author, timestamp), which is
  what subscribers receive; ``{"type": "typing"}`` passes with ``skip_history``.
* ``CHAT_REALTIME_AUTH = "jwt"``: ``connection_token`` / ``subscription_token`` views sign
  tokens for the logged-in user (``getToken`` in the page); no connect proxy.
"""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_POST

from centripetal_django.proxy import ProxyDisconnect, ProxyError, ProxyRequest, proxy_view, result
from centripetal_django.tokens import connection_token, subscription_token

from . import services
from .models import Membership, Room

PERMISSION_DENIED = ProxyError(103, "permission denied")
BAD_REQUEST = ProxyError(107, "bad request")
EMPTY_MESSAGE = ProxyError(1001, "message is empty")
UNAUTHENTICATED = ProxyDisconnect(4401, "login required")


def too_long() -> ProxyError:
    return ProxyError(1002, f"message is longer than {settings.CHAT_MESSAGE_MAX_LENGTH} characters")


def room_for_channel(channel: str) -> Room | None:
    """The room of a ``rooms:<slug>`` channel, or ``None``."""
    namespace, sep, slug = channel.partition(":")
    if namespace != "rooms" or not sep or not slug:
        return None
    return Room.objects.filter(slug=slug).first()


def _member_room(proxy: ProxyRequest) -> tuple[Room, Any]:
    room = room_for_channel(proxy.channel)
    if room is None or not proxy.user.isdigit():
        raise PERMISSION_DENIED
    membership = (
        Membership.objects.filter(room=room, user_id=int(proxy.user)).select_related("user").first()
    )
    if membership is None:
        raise PERMISSION_DENIED
    return room, membership.user


def connect_claims(user: Any) -> dict[str, Any]:
    """What a connection carries: user id, info for presence, the personal channel."""
    return {
        "user": str(user.pk),
        "info": {"username": user.get_username()},
        "channels": [services.personal_channel(user.pk)],
    }


@proxy_view
def connect(request: HttpRequest, proxy: ProxyRequest) -> dict[str, Any]:
    """Connect proxy: authenticate the Django session from the forwarded Cookie (PX-10)."""
    if not request.user.is_authenticated:
        raise UNAUTHENTICATED
    return result(**connect_claims(request.user))


@proxy_view
def subscribe(request: HttpRequest, proxy: ProxyRequest) -> dict[str, Any]:
    """Subscribe proxy: members only (PX-12)."""
    _member_room(proxy)
    return result()


@proxy_view
def publish(request: HttpRequest, proxy: ProxyRequest) -> dict[str, Any]:
    """Publish proxy: validate, store, return the enriched message (PX-13)."""
    room, author = _member_room(proxy)
    data = proxy.payload
    if not isinstance(data, dict):
        raise BAD_REQUEST
    kind = data.get("type", "message")
    if kind == "typing":
        payload = {"type": "typing", "user": services.user_payload(author)}
        return result(data=payload, skip_history=True)
    if kind != "message":
        raise BAD_REQUEST
    text = data.get("text")
    client_id = data.get("client_id", "")
    if not isinstance(text, str) or not isinstance(client_id, str) or len(client_id) > 64:
        raise BAD_REQUEST
    text = text.strip()
    if not text:
        raise EMPTY_MESSAGE
    if len(text) > settings.CHAT_MESSAGE_MAX_LENGTH:
        raise too_long()
    message, created = services.post_message(room, author, text, client_id)
    if created:
        services.notify_message(message)
    return result(data=services.message_payload(message))


# -- JWT mode ---------------------------------------------------------------------------------


@login_required
@require_POST
def token_connection(request: HttpRequest) -> JsonResponse:
    """``{"token": <connection JWT>}`` for the logged-in user (AU-01; getToken)."""
    claims = connect_claims(request.user)
    token = connection_token(claims["user"], info=claims["info"], channels=claims["channels"])
    return JsonResponse({"token": token})


@login_required
@require_POST
def token_subscription(request: HttpRequest) -> JsonResponse:
    """``{"token": <subscription JWT>}`` for a room the user belongs to; 403 otherwise."""
    try:
        body = json.loads(request.body or b"{}")
    except ValueError:
        return JsonResponse({"error": "body is not JSON"}, status=400)
    channel = body.get("channel") if isinstance(body, dict) else None
    if not isinstance(channel, str):
        return JsonResponse({"error": "channel is required"}, status=400)
    room = room_for_channel(channel)
    if room is None or not services.is_member(request.user.pk, room):
        return JsonResponse({"error": "permission denied"}, status=403)
    token = subscription_token(
        str(request.user.pk), channel, info={"username": request.user.get_username()}
    )
    return JsonResponse({"token": token})
