"""Pages: sign-up, the index (rooms with unread counts, search, create), the room page, and
the small JSON endpoints the pages call (rooms list, messages, read marks, join, leave)."""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from django.contrib import messages as flash
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.db import IntegrityError
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from . import services
from .forms import RoomForm, SignUpForm
from .models import Membership, Message, Room


def signup(request: HttpRequest) -> HttpResponse:
    """Create an account and log in."""
    if request.user.is_authenticated:
        return redirect("index")
    form = SignUpForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = form.save()
        login(request, user)
        return redirect("index")
    return render(request, "registration/signup.html", {"form": form})


@login_required
def index(request: HttpRequest) -> HttpResponse:
    """The user's rooms, a search box for rooms to join, and the create-room form."""
    query = request.GET.get("q", "").strip()
    form = RoomForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        room = form.save(request.user)
        Membership.objects.create(room=room, user=request.user)
        services.notify_membership(room, request.user, "joined")
        return redirect(room)
    found: list[Room] = []
    if query:
        mine = Membership.objects.filter(user=request.user).values_list("room_id", flat=True)
        found = list(
            Room.objects.filter(name__icontains=query).exclude(pk__in=mine).order_by("name")[:20]
        )
    rooms = services.room_summaries(request.user)
    return render(
        request,
        "chat/index.html",
        {"rooms": rooms, "rooms_data": rooms, "query": query, "found": found, "form": form},
    )


@login_required
@require_GET
def rooms_json(request: HttpRequest) -> JsonResponse:
    """The index list as JSON (reloaded when the personal channel was not recovered)."""
    return JsonResponse({"rooms": services.room_summaries(request.user)})


@login_required
def room(request: HttpRequest, slug: str) -> HttpResponse:
    """The room page for members; a join screen for everyone else."""
    room = get_object_or_404(Room, slug=slug)
    membership = Membership.objects.filter(room=room, user=request.user).first()
    if membership is None:
        return render(request, "chat/room_join.html", {"room": room}, status=403)
    recent = services.recent_messages(room)
    if recent:
        services.mark_read(membership, recent[-1].pk)
    members = list(room.members.order_by("username").values_list("username", flat=True))
    page = {
        "room": services.room_payload(room),
        "channel": room.channel,
        "me": services.user_payload(request.user),
        "messages": [services.message_payload(m) for m in recent],
    }
    return render(
        request,
        "chat/room.html",
        {"room": room, "page": page, "thread": recent, "members": members},
    )


@login_required
@require_GET
def room_messages(request: HttpRequest, slug: str) -> JsonResponse:
    """The last messages of a room (members only), for a reload after an unrecovered
    reconnect; ``?after=<id>`` returns only newer ones."""
    room = get_object_or_404(Room, slug=slug)
    if not services.is_member(request.user.pk, room):
        return JsonResponse({"error": "permission denied"}, status=403)
    after = request.GET.get("after", "")
    if after:
        if not after.isdigit():
            return JsonResponse({"error": "after must be a message id"}, status=400)
        query = Message.objects.filter(room=room, id__gt=int(after)).select_related(
            "author", "room"
        )
        items = list(query.order_by("id")[: settings.CHAT_HISTORY_PAGE])
    else:
        items = services.recent_messages(room)
    return JsonResponse({"messages": [services.message_payload(m) for m in items]})


@login_required
@require_POST
def room_join(request: HttpRequest, slug: str) -> HttpResponse:
    """Become a member (idempotent) and go to the room."""
    room = get_object_or_404(Room, slug=slug)
    try:
        _, created = Membership.objects.get_or_create(room=room, user=request.user)
    except IntegrityError:
        created = False
    if created:
        services.notify_membership(room, request.user, "joined")
    return redirect(room)


@login_required
@require_POST
def room_leave(request: HttpRequest, slug: str) -> HttpResponse:
    """Stop being a member: the room channel subscription of the user ends too."""
    room = get_object_or_404(Room, slug=slug)
    deleted, _ = Membership.objects.filter(room=room, user=request.user).delete()
    if deleted:
        services.kick_from_channel(request.user.pk, room)
        services.notify_membership(
            room, request.user, "left", extra_channels=[services.personal_channel(request.user.pk)]
        )
        flash.info(request, f"You left {room.name}.")
    return redirect("index")


@login_required
@require_POST
def room_read(request: HttpRequest, slug: str) -> HttpResponse:
    """``{"last_id": N}``: the user has read up to message N; answers the unread count."""
    room = get_object_or_404(Room, slug=slug)
    membership = Membership.objects.filter(room=room, user=request.user).first()
    if membership is None:
        return JsonResponse({"error": "permission denied"}, status=403)
    try:
        body: Any = json.loads(request.body or b"{}")
        last_id = int(body["last_id"])
    except (ValueError, KeyError, TypeError):
        return HttpResponseBadRequest('expected {"last_id": <message id>}')
    if last_id < 0:
        return HttpResponseBadRequest("last_id must not be negative")
    return JsonResponse({"unread": services.mark_read(membership, last_id)})
