"""Forms: sign-up and room creation."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth.forms import UserCreationForm
from django.utils.text import slugify

from .models import Room


class SignUpForm(UserCreationForm):  # type: ignore[type-arg]
    """Django's user creation form (username + password twice, validators applied)."""


class RoomForm(forms.Form):
    """A new room: a display name; the slug (channel name part) is derived from it."""

    name = forms.CharField(max_length=80, strip=True)

    def clean_name(self) -> str:
        name: str = self.cleaned_data["name"]
        slug = slugify(name)[:48]
        if not slug:
            raise forms.ValidationError("Use letters or digits in the room name.")
        if Room.objects.filter(slug=slug).exists():
            raise forms.ValidationError(f"A room called “{slug}” exists already; join it instead.")
        self.cleaned_data["slug"] = slug
        return name

    def save(self, user: Any) -> Room:
        return Room.objects.create(
            slug=self.cleaned_data["slug"], name=self.cleaned_data["name"], created_by=user
        )
