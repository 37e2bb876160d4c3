"""A minimal Django project in the Channels tutorial's shape, the comparison system.

``ChatConsumer`` (AsyncWebsocketConsumer: ``group_add`` on connect, ``group_send`` on receive,
``chat_message`` writes to the socket) on uvicorn with channels_redis, and a publish view that
calls ``async_to_sync(channel_layer.group_send)`` for the HTTP workloads.
"""
