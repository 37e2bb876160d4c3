#!/usr/bin/env python
"""Run the chat example with embedded defaults: Django (runserver) and centripetal (memory
engine), migrations applied and demo users/rooms created (idempotent).

Environment:
  CHAT_PORT            Django port (default 8000)
  CENTRIPETAL_PORT     real-time server port (default 8001)
  CHAT_HOST            host name printed and allowed as origin (default localhost)
  CHAT_BIND            address both servers listen on (default 127.0.0.1)
  CHAT_DB_PATH         SQLite file (default examples/chat/db.sqlite3)
  CHAT_RUN_DIR         where the generated server config goes (default examples/chat/.run)
  CHAT_REALTIME_AUTH   "proxy" (session cookie via connect proxy, default) or "jwt"

The page is served by Django on CHAT_PORT and connects to ws://<same host>:CENTRIPETAL_PORT:
cookies are scoped to the host, not the port, so the session cookie reaches the connect proxy.
Ctrl-C (or SIGTERM) stops both processes.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import FrameType

ROOT = Path(__file__).resolve().parent.parent
CHAT_DIR = ROOT / "examples" / "chat"
DEMO_PASSWORD = "chat-demo-pass"


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("DJANGO_SETTINGS_MODULE", "chatsite.settings.dev")
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _manage(env: dict[str, str], *args: str) -> None:
    subprocess.run([sys.executable, "manage.py", *args], cwd=CHAT_DIR, env=env, check=True)


def _wait_http(url: str, procs: list[subprocess.Popen[bytes]], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for proc in procs:
            if proc.poll() is not None:
                raise SystemExit(f"a server exited early with code {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except urllib.error.HTTPError:
            return  # any HTTP answer means the server is up
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"{url} did not answer within {timeout:.0f}s")


def _stop(procs: list[subprocess.Popen[bytes]]) -> None:
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def main() -> int:
    chat_port = int(os.environ.get("CHAT_PORT", "8000"))
    rt_port = int(os.environ.get("CENTRIPETAL_PORT", "8001"))
    host = os.environ.get("CHAT_HOST", "localhost")
    bind = os.environ.get("CHAT_BIND", "127.0.0.1")
    run_dir = Path(os.environ.get("CHAT_RUN_DIR", CHAT_DIR / ".run"))
    run_dir.mkdir(parents=True, exist_ok=True)
    env = _env()
    env["CENTRIPETAL_PORT"] = str(rt_port)
    loopback = "127.0.0.1" if bind in ("0.0.0.0", "127.0.0.1") else bind
    env.setdefault("CENTRIPETAL_API_URL", f"http://{loopback}:{rt_port}/api")

    _manage(env, "migrate", "--noinput", "-v", "0")
    _manage(env, "seed_demo")
    config = run_dir / "centripetal.json"
    origins = {f"http://{name}:{chat_port}" for name in (host, "localhost", "127.0.0.1")}
    origin_args = [arg for origin in sorted(origins) for arg in ("--origin", origin)]
    _manage(
        env,
        "chat_centripetal_config",
        "--django-url",
        f"http://{loopback}:{chat_port}",
        *origin_args,
        "-o",
        str(config),
    )

    procs: list[subprocess.Popen[bytes]] = []

    def on_signal(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_signal)
    try:
        procs.append(
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "centripetal",
                    "-c",
                    str(config),
                    "--address",
                    bind,
                    "--port",
                    str(rt_port),
                ],
                cwd=run_dir,
                env=env,
            )
        )
        procs.append(
            subprocess.Popen(
                [sys.executable, "manage.py", "runserver", f"{bind}:{chat_port}", "--noreload"],
                cwd=CHAT_DIR,
                env=env,
            )
        )
        _wait_http(f"http://{loopback}:{rt_port}/connection/websocket", procs)
        _wait_http(f"http://{loopback}:{chat_port}/accounts/login/", procs)
        print(
            f"\nChat is running: open http://{host}:{chat_port}/\n"
            f"  log in as alice, bob or carol (password {DEMO_PASSWORD!r}), or sign up\n"
            f"  real-time server: ws://{host}:{rt_port}/connection/websocket\n"
            "  press Ctrl-C to stop\n",
            flush=True,
        )
        while all(proc.poll() is None for proc in procs):
            time.sleep(0.2)
        print("a server stopped unexpectedly; stopping the other one", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nstopping...", flush=True)
        return 0
    finally:
        _stop(procs)


if __name__ == "__main__":
    sys.exit(main())
