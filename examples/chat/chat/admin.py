"""Admin for rooms, memberships and messages."""

from __future__ import annotations

from django.contrib import admin

from .models import Membership, Message, Room


@admin.register(Room)
class RoomAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("name", "slug", "created")
    prepopulated_fields = {"slug": ("name",)}


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("user", "room", "joined", "last_read_id")


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("room", "author", "created", "text")
    list_filter = ("room",)
