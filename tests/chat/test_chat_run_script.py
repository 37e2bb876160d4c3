"""``make run`` without the bootstrap: ``scripts/run_chat.py`` on free ports migrates, seeds the
demo data, starts Django and the real-time server, prints the URL; a user logs in and posts a
message in the browser; SIGINT (Ctrl-C) stops both servers and the script exits 0."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from chat_stack import REPO, log_in, send
from playwright.sync_api import Browser
from support.ports import free_port, port_accepts
from support.timing import scaled


def test_run_script_starts_the_chat_and_stops_on_ctrl_c(browser: Browser, tmp_path: Path) -> None:
    chat_port, rt_port = free_port(), free_port()
    env = dict(
        os.environ,
        CHAT_PORT=str(chat_port),
        CENTRIPETAL_PORT=str(rt_port),
        CHAT_HOST="127.0.0.1",
        CHAT_DB_PATH=str(tmp_path / "db.sqlite3"),
        CHAT_RUN_DIR=str(tmp_path / "run"),
    )
    env.pop("DJANGO_SETTINGS_MODULE", None)
    proc = subprocess.Popen(
        [sys.executable, str(REPO / "scripts" / "run_chat.py")],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(proc.stdout or []), daemon=True)
    reader.start()
    try:
        url = None
        deadline = time.monotonic() + scaled(90)
        while url is None and time.monotonic() < deadline and proc.poll() is None:
            found = re.search(r"Chat is running: open (http://\S+/)", "".join(lines))
            url = found.group(1) if found else None
            time.sleep(0.1)
        assert url == f"http://127.0.0.1:{chat_port}/", "".join(lines)
        context = browser.new_context()
        try:
            page = log_in(context, url.rstrip("/"), "alice")
            page.goto(url + "rooms/lobby/")
            send(page, "hello from make run")
        finally:
            context.close()
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=scaled(30)) == 0, "".join(lines)
        reader.join(timeout=scaled(5))
        assert not port_accepts("127.0.0.1", chat_port)
        assert not port_accepts("127.0.0.1", rt_port)
        output = "".join(lines)
        assert "demo users alice, bob, carol" in output
        assert 'POST /centripetal/proxy/publish/ HTTP/1.1" 200' in output
    finally:
        if proc.poll() is None:  # SIGTERM lets the script stop its own children first
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=scaled(30))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
