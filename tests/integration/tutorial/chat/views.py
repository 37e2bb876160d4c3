"""The tutorial's views, copied verbatim: the ``index`` and ``room`` pages (sections "Add the
index view" and "Add the room view") and the proxy handlers ("Implementing proxy handlers").

The room page runs centrifuge-js 2.8.3 in the browser (client protocol v1, L-59, TV-14).
Rows: PX-10 (connect proxy: ``{"result": {"user": ...}}``), PX-12 (subscribe proxy),
PX-13 (publish proxy); ``{"result": {}}`` allows the subscription / publication.
Nothing below the ``fmt: off`` marker differs from the tutorial except the two ``logger``
lines, which the tutorial forgot.
"""

from __future__ import annotations

# The tutorial's comments contain EN DASHes; they stay as written.
# ruff: noqa: RUF003
# fmt: off
import logging

from django.http import JsonResponse
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt

# Not in the tutorial: its connect view calls logger.debug() without defining logger.
logger = logging.getLogger(__name__)


def index(request):
    return render(request, 'chat/index.html')


def room(request, room_name):
    return render(request, 'chat/room.html', {
        'room_name': room_name
    })

@csrf_exempt
def connect(request):
    # In connect handler we must authenticate connection.
    # Here we return a fake user ID to Centrifugo to keep tutorial short.
    # More details about connect result format can be found in proxy docs:
    # https://centrifugal.dev/docs/server/proxy#connect-proxy
    logger.debug(request.body)
    response = {
        'result': {
            'user': 'tutorial-user'
        }
    }
    return JsonResponse(response)

@csrf_exempt
def publish(request):
    # In publish handler we can validate publication request initialted by a user.
    # Here we return an empty object – thus allowing publication.
    # More details about publish result format can be found in proxy docs:
    # https://centrifugal.dev/docs/server/proxy#publish-proxy
    response = {
        'result': {}
    }
    return JsonResponse(response)

@csrf_exempt
def subscribe(request):
    # In subscribe handler we can validate user subscription request to a channel.
    # Here we return an empty object – thus allowing subscription.
    # More details about subscribe result format can be found in proxy docs:
    # https://centrifugal.dev/docs/server/proxy#subscribe-proxy
    response = {
        'result': {}
    }
    return JsonResponse(response)
