"""gunicorn settings for the chat's Django (``gunicorn -c deploy/gunicorn.conf.py``).

Threads matter: the real-time server calls the proxy views concurrently with page requests.
"""

from __future__ import annotations

import os

bind = os.environ.get("CHAT_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("CHAT_WORKERS", "2"))
threads = int(os.environ.get("CHAT_THREADS", "8"))
wsgi_app = "chatsite.wsgi:application"
accesslog = "-"
forwarded_allow_ips = "127.0.0.1"
timeout = 30
graceful_timeout = 20
