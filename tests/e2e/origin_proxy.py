"""The tutorial's nginx: one origin for the Django pages and the centripetal WebSocket.

The chat tutorial ("Adding Nginx") puts Django and Centrifugo behind one nginx so that the
room page's ``"ws://" + window.location.host + "/connection/websocket"`` reaches Centrifugo
and the browser sends Django's cookies with the handshake (PX-04 ``proxy_http_headers``,
TR-12 ``allowed_origins``). :class:`OriginProxy` renders that ``nginx.conf`` with loopback
addresses and temporary paths instead of Docker's; start, stop and logs are those of
:class:`support.nginx.NginxServer` (started and stopped by its own pid).
"""

from __future__ import annotations

import os
import pwd
from pathlib import Path

from support.nginx import NginxServer

__all__ = ["OriginProxy"]


class OriginProxy(NginxServer):
    """nginx on ``127.0.0.1:<port>``: ``/`` to Django, ``/connection/websocket`` to centripetal."""

    def __init__(
        self,
        django: tuple[str, int],
        centrifugo: tuple[str, int],
        *,
        port: int | None = None,
        workdir: Path | None = None,
    ) -> None:
        super().__init__([centrifugo], port=port, workdir=workdir)
        self.django = django
        self.centrifugo = centrifugo

    @property
    def origin(self) -> str:
        """The browser origin of every page and of the WebSocket handshake."""
        return self.http_url

    def render_config(self) -> str:
        """The tutorial's ``nginx.conf``: same locations and headers, local addresses."""
        tmp = self.workdir
        user = ""
        if os.geteuid() == 0:  # workers would otherwise run as nobody, without access to tmp
            user = f"user {pwd.getpwuid(0).pw_name};\n"
        django = f"{self.django[0]}:{self.django[1]}"
        centrifugo = f"{self.centrifugo[0]}:{self.centrifugo[1]}"
        forwarded = (
            "            proxy_set_header Host $host;\n"
            "            proxy_set_header X-Real-IP $remote_addr;\n"
            "            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;\n"
            "            proxy_set_header X-Forwarded-Proto $scheme;\n"
        )
        return (
            f"{user}"
            "daemon off;\n"
            "worker_processes 1;\n"
            f"pid {self.pid_path};\n"
            "events {\n    worker_connections 1024;\n}\n"
            f"error_log {self.error_log} info;\n"
            "http {\n"
            f"    access_log {self.access_log};\n"
            f"    client_body_temp_path {tmp / 'body'};\n"
            f"    proxy_temp_path {tmp / 'proxy'};\n"
            f"    fastcgi_temp_path {tmp / 'fastcgi'};\n"
            f"    uwsgi_temp_path {tmp / 'uwsgi'};\n"
            f"    scgi_temp_path {tmp / 'scgi'};\n"
            "    server {\n"
            f"        listen {self.host}:{self.port};\n"
            "        server_name localhost;\n"
            "        location / {\n"
            f"            proxy_pass http://{django};\n"
            "            proxy_http_version 1.1;\n"
            f"{forwarded}"
            "        }\n"
            "        location /connection/websocket {\n"
            f"            proxy_pass http://{centrifugo};\n"
            "            proxy_http_version 1.1;\n"
            "            proxy_buffering off;\n"
            "            keepalive_timeout 65;\n"
            "            proxy_read_timeout 60s;\n"
            "            proxy_set_header Upgrade $http_upgrade;\n"
            "            proxy_set_header Connection 'upgrade';\n"
            f"{forwarded}"
            "            proxy_cache_bypass $http_upgrade;\n"
            "        }\n"
            "    }\n"
            "}\n"
        )

    def access_lines(self) -> list[str]:
        """The access log so far, one request a line."""
        if not self.access_log.exists():
            return []
        return self.access_log.read_text(encoding="utf-8", errors="replace").splitlines()
