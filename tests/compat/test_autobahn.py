"""WebSocket layer conformance: the Autobahn cases via kosoku (oracles §4, TR-01, P-12).

The server is started with ``CENTRIPETAL_TEST_ECHO_ROUTE=1``, which adds the test-only
echo route ``/__test__/echo`` on the same WebSocket code path and limits as
``/connection/websocket``; ``websocket.message_size_limit`` is raised to 16 MiB for
the 9.* cases. kosoku runs every case except 12.* and 13.* (permessage-deflate; see
``autobahn-exclusions.md``) and writes Autobahn's JSON report, which is parsed here.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from support.server import ServerFactory
from support.timing import scaled
from support.tools import missing

ECHO_PATH = "/__test__/echo"
EXCLUDED = ("12.*", "13.*")
BUDGET = 120.0
ACCEPTED_BEHAVIOR = {"OK", "NON-STRICT", "INFORMATIONAL"}
ACCEPTED_CLOSE = {"OK", "INFORMATIONAL"}

pytestmark = [pytest.mark.oracle, pytest.mark.timeout(scaled(BUDGET + 60))]

ECHO_CONFIG: dict[str, Any] = {"websocket": {"message_size_limit": 16777216}}


def _kosoku() -> str:
    """The kosoku console script installed next to this interpreter (or on PATH)."""
    beside = Path(sys.executable).with_name("kosoku")
    if beside.exists():
        return str(beside)
    found = shutil.which("kosoku")
    if found is not None:
        return found
    missing("kosoku is not installed (pip install kosoku)")


def _load_index(outdir: Path) -> dict[str, dict[str, Any]]:
    """Case id -> index entry (behavior, behaviorClose, remoteCloseCode, reportfile)."""
    index_path = outdir / "index.json"
    if not index_path.exists():
        return {}
    index = json.loads(index_path.read_text(encoding="utf-8"))
    cases: dict[str, dict[str, Any]] = {}
    for per_agent in index.values():
        cases.update(per_agent)
    return cases


def _detail(outdir: Path, entry: dict[str, Any]) -> str:
    try:
        case = json.loads((outdir / entry["reportfile"]).read_text(encoding="utf-8"))
    except (OSError, KeyError, ValueError):
        return ""
    return (
        f"{case.get('description', '')!r}: {case.get('result', '')} / {case.get('resultClose', '')}"
    )


def _case_key(case_id: str) -> tuple[int, ...]:
    return tuple(int(part) for part in case_id.split(".") if part.isdigit())


def test_autobahn_echo_route(server_factory: ServerFactory, tmp_path: Path) -> None:
    """Every non-excluded case: behavior not FAILED, behaviorClose OK or INFORMATIONAL."""
    kosoku = _kosoku()
    server = server_factory(ECHO_CONFIG, env={"CENTRIPETAL_TEST_ECHO_ROUTE": "1"})
    outdir = tmp_path / "autobahn"
    cmd = [kosoku, server.ws_url(ECHO_PATH), "-p", "4", "-o", str(outdir)]
    for pattern in EXCLUDED:
        cmd += ["-x", pattern]
    try:
        proc = subprocess.run(
            cmd, capture_output=True, text=True, timeout=scaled(BUDGET), check=False
        )
        output = proc.stdout + proc.stderr
    except subprocess.TimeoutExpired as exc:
        pytest.fail(server.describe(f"kosoku did not finish within {exc.timeout:.0f}s"))

    cases = _load_index(outdir)
    assert cases, server.describe(f"kosoku wrote no report (exit {proc.returncode}):\n{output}")
    excluded_ran = sorted(c for c in cases if c.split(".")[0] in {"12", "13"})
    assert not excluded_ran, f"excluded cases ran: {excluded_ran[:10]}"
    assert len(cases) >= 200, f"only {len(cases)} cases ran"

    bad = [
        (case_id, entry)
        for case_id, entry in sorted(cases.items(), key=lambda item: _case_key(item[0]))
        if entry["behavior"] not in ACCEPTED_BEHAVIOR
        or entry["behaviorClose"] not in ACCEPTED_CLOSE
    ]
    lines = [
        f"{case_id}: behavior={entry['behavior']} behaviorClose={entry['behaviorClose']} "
        f"remoteCloseCode={entry.get('remoteCloseCode')} {_detail(outdir, entry)}"
        for case_id, entry in bad
    ]
    assert not bad, server.describe(
        f"{len(bad)} of {len(cases)} Autobahn cases not conformant:\n" + "\n".join(lines)
    )
    assert proc.returncode == 0, f"kosoku exited {proc.returncode}:\n{output[-3000:]}"
