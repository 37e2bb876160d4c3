"""The Node package in ``tests/integration/js`` (centrifuge-js 5.x and 2.8.3, ws, eventsource):
install it once, run its scenario scripts (used by the JS, fallback, v1 and browser tests)."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest

from support.timing import scaled

JS_DIR = Path(__file__).resolve().parent.parent / "integration" / "js"

# the JSON-friendly channel options every scenario server uses (CH-05, P-33..P-36, R-1)
SCENARIO_CHANNEL_OPTIONS: dict[str, Any] = {
    "presence": True,
    "history_size": 10,
    "history_ttl": "300s",
    "force_recovery": True,
    "allow_subscribe_for_client": True,
    "allow_publish_for_client": True,
    "allow_presence_for_subscriber": True,
    "allow_history_for_subscriber": True,
}

Report = dict[str, Any]
Runner = Callable[[dict[str, Any]], Report]


def ensure_packages(npm: str, marker: str) -> None:
    """``npm ci`` unless ``node_modules/<marker>`` is already there."""
    if (JS_DIR / "node_modules" / marker).exists():
        return
    proc = subprocess.run(
        [npm, "ci", "--no-audit", "--no-fund"],
        cwd=JS_DIR,
        capture_output=True,
        text=True,
        timeout=scaled(300),
        check=False,
    )
    assert proc.returncode == 0, f"npm ci failed:\n{proc.stdout}\n{proc.stderr}"
    assert (JS_DIR / "node_modules" / marker).exists(), f"{marker} missing after npm ci"


def scenario_runner(node: str, script: str, env: Mapping[str, str] | None = None) -> Runner:
    """``run(scenario) -> report``: the scenario as JSON on stdin, the report as the last line
    of stdout (a missing report fails the test with the script's output). ``env`` is added to
    the inherited environment (``NODE_EXTRA_CA_CERTS`` for the TLS tests)."""
    environ = {**os.environ, **env} if env else None

    def run(scenario: dict[str, Any]) -> Report:
        scenario = {"timeoutMs": int(scaled(10) * 1000), **scenario}
        proc = subprocess.run(
            [node, script],
            cwd=JS_DIR,
            input=json.dumps(scenario),
            capture_output=True,
            text=True,
            timeout=scaled(60),
            check=False,
            env=environ,
        )
        try:
            report: Report = json.loads(proc.stdout.strip().splitlines()[-1])
        except (IndexError, ValueError):
            pytest.fail(
                f"{script} printed no report (exit {proc.returncode}):\n"
                f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
            )
        return report

    return run


def events_of(report: Report, client: str, *kinds: str, channel: str | None = None) -> list[Report]:
    """Events of ``client`` in a scenario report (optionally only ``kinds`` / ``channel``),
    in order."""
    return [
        e
        for e in report["events"]
        if e["client"] == client
        and (not kinds or e["event"] in kinds)
        and (channel is None or e.get("channel") == channel)
    ]


def check_ok(report: Report, server: Any) -> None:
    """The scenario ran to its end; otherwise fail with its events and the server's log."""
    assert report["ok"], server.describe(
        f"scenario failed: {report.get('failure')}\nevents: {json.dumps(report['events'])}"
    )
