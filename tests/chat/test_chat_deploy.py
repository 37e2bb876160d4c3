"""The production recipe end to end: Django with the production settings under gunicorn,
the real-time server on the Redis engine (a real redis-server), and nginx rendered from
``deploy/nginx/chat.conf.template`` giving both one origin (the tutorial's set-up). Two users
chat through nginx; the proxy endpoints are not reachable through nginx and refuse requests
without the shared secret; the room's history lives in Redis."""

from __future__ import annotations

import contextlib
import http.client
import os
import pwd
import signal
import string
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from chat_stack import REPO, DjangoServer, log_in, send, thread, wait_message, wait_online
from playwright.sync_api import Browser
from support.ports import free_port, port_accepts
from support.redis import RedisServer
from support.server import ServerProcess
from support.timing import scaled, wait_until

TEMPLATE = REPO / "deploy" / "nginx" / "chat.conf.template"


class SiteNginx:
    """nginx with the deploy template included in a throw-away main config."""

    def __init__(self, workdir: Path, values: dict[str, str], nginx: str) -> None:
        self.workdir = workdir
        self.port = int(values["CHAT_LISTEN"].rsplit(":", 1)[1])
        workdir.mkdir(parents=True, exist_ok=True)
        site = string.Template(TEMPLATE.read_text()).safe_substitute(values)
        assert "${" not in site, site
        (workdir / "chat.conf").write_text(site)
        user = f"user {pwd.getpwuid(0).pw_name};\n" if os.geteuid() == 0 else ""
        temp = "".join(
            f"    {kind}_temp_path {workdir / kind};\n"
            for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
        )
        (workdir / "nginx.conf").write_text(
            f"{user}daemon off;\nworker_processes 1;\npid {workdir / 'nginx.pid'};\n"
            f"error_log {workdir / 'error.log'} info;\nevents {{ worker_connections 256; }}\n"
            f"http {{\n    include /etc/nginx/mime.types;\n"
            f"    access_log {workdir / 'access.log'};\n{temp}"
            f"    include {workdir / 'chat.conf'};\n}}\n"
        )
        self.proc = subprocess.Popen(
            [
                nginx,
                "-p",
                str(workdir),
                "-c",
                str(workdir / "nginx.conf"),
                "-e",
                str(workdir / "error.log"),
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        )
        wait_until(lambda: port_accepts("127.0.0.1", self.port), 10, message="nginx listening")

    def stop(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=scaled(10))
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


class Deployment:
    def __init__(self, origin: str, django: DjangoServer, redis: RedisServer) -> None:
        self.origin = origin
        self.django = django
        self.redis = redis


@pytest.fixture
def deployment(
    require_tool: Callable[[str], str],
    server_factory: Callable[..., ServerProcess],
    tmp_path: Path,
) -> Iterator[Deployment]:
    nginx = require_tool("nginx")
    redis = RedisServer(workdir=tmp_path / "redis").start()
    site_port, rt_port = free_port(), free_port()
    origin = f"http://127.0.0.1:{site_port}"
    static_root = tmp_path / "static"
    django = DjangoServer.prepare(
        tmp_path / "django",
        {
            "DJANGO_SECRET_KEY": "test-" + "k8#Lm" * 12,
            "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
            "DJANGO_CSRF_TRUSTED_ORIGINS": origin,
            "CENTRIPETAL_API_URL": f"http://127.0.0.1:{rt_port}/api",
            "CENTRIPETAL_API_KEY": "deploy-test-api-key",
            "CENTRIPETAL_PROXY_SECRET": "deploy-test-proxy-secret",
            "CHAT_STATIC_ROOT": str(static_root),
            "CHAT_PLAIN_HTTP": "1",  # loopback without TLS
        },
        settings="chatsite.settings.production",
    )
    site: SiteNginx | None = None
    try:
        django.manage("collectstatic", "--noinput", "-v", "0")
        django.start(gunicorn=True)
        config = django.server_config(origin=origin, redis_url=redis.url)
        server_factory(config, port=rt_port)
        site = SiteNginx(
            tmp_path / "nginx",
            {
                "CHAT_LISTEN": f"127.0.0.1:{site_port}",
                "CHAT_SERVER_NAME": "127.0.0.1",
                "DJANGO_UPSTREAM": f"127.0.0.1:{django.port}",
                "CENTRIPETAL_UPSTREAM": f"127.0.0.1:{rt_port}",
                "CHAT_STATIC_ROOT": str(static_root),
            },
            nginx,
        )
        yield Deployment(origin, django, redis)
    finally:
        if site is not None:
            site.stop()
        django.stop()
        redis.stop()


def status(host: str, port: int, path: str, body: str = "{}") -> int:
    conn = http.client.HTTPConnection(host, port, timeout=scaled(5))
    try:
        conn.request("POST", path, body=body, headers={"Content-Type": "application/json"})
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


def test_chat_behind_nginx_on_the_redis_engine(browser: Browser, deployment: Deployment) -> None:
    origin = deployment.origin
    port = int(origin.rsplit(":", 1)[1])
    assert status("127.0.0.1", port, "/centripetal/proxy/connect/") == 404
    assert status("127.0.0.1", deployment.django.port, "/centripetal/proxy/connect/") == 403

    alice_ctx, bob_ctx = browser.new_context(), browser.new_context()
    try:
        alice = log_in(alice_ctx, origin, "alice")
        bob = log_in(bob_ctx, origin, "bob")
        css = alice.evaluate("getComputedStyle(document.documentElement).backgroundColor")
        assert css == "rgb(243, 245, 250)"  # static files served by nginx
        for page in (alice, bob):
            page.goto(origin + "/rooms/lobby/")
        wait_online(alice, ["alice", "bob"])
        send(alice, "through nginx and redis")
        wait_message(bob, "through nginx and redis")
        send(bob, "loud and clear")
        wait_message(alice, "loud and clear")
        assert thread(alice) == thread(bob)
        ws_url = alice.evaluate("window.chat.centrifuge._transport._transport.url")
        assert ws_url == f"ws://127.0.0.1:{port}/connection/websocket"
    finally:
        alice_ctx.close()
        bob_ctx.close()
    keys = deployment.redis.cli("--scan", "--pattern", "*rooms:lobby*").split()
    assert keys, "the room's stream should be kept in Redis"
