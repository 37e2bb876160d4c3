"""HTTP publish into a room group: ``POST /publish/`` with ``{"room": ..., "message": ...}``."""

from __future__ import annotations

import json

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt


@csrf_exempt
def publish(request: HttpRequest) -> JsonResponse:
    body = json.loads(request.body)
    layer = get_channel_layer()
    async_to_sync(layer.group_send)(
        f"chat_{body['room']}", {"type": "chat.message", "message": body["message"]}
    )
    return JsonResponse({"result": {}})
