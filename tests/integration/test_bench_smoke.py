"""The benchmark suite runs end to end in its tiny ``--smoke`` mode (benchmark design §8).

centripetal and the floor server only (no redis-server, no wrk, no Go: Centrifugo is not in
the smoke mode's systems): 20 connections, 1 s phases.
No timing is asserted; what is asserted is that every output file is written with its keys,
and that every publication reached every subscriber (counted, not assumed: §8.1 item 3).
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from support.timing import scaled
from support.tools import missing

ROOT = Path(__file__).resolve().parents[2]
SUBS = 20  # bench.modes.SMOKE: fan_subs, storm_conns, w5 subscribers


@pytest.fixture(scope="module")
def smoke(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    if importlib.util.find_spec("picows") is None:
        missing("the benchmark extra (picows) is not installed")
    out = tmp_path_factory.mktemp("bench")
    proc = subprocess.run(
        [sys.executable, "-m", "bench", "--smoke", "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        timeout=scaled(90),
    )
    assert proc.returncode == 0, proc.stdout.decode()[-3000:] + proc.stderr.decode()[-3000:]
    return out, json.loads((out / "latest.json").read_text())


def test_output_files_written(smoke: tuple[Path, dict[str, Any]]) -> None:
    out, doc = smoke
    for name in ("latest.json", "latest.md", "latest.png"):
        assert (out / name).stat().st_size > 0, name
    stamp = doc["meta"]["timestamp"].replace("-", "")
    assert (out / f"{stamp}.json").read_text() == (out / "latest.json").read_text()
    assert (out / "latest.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    md = (out / "latest.md").read_text()
    assert "| metric | centripetal | floor | ours/floor |" in md
    assert "| G1 |" in md and "| G8 |" in md


def test_document_keys(smoke: tuple[Path, dict[str, Any]]) -> None:
    _, doc = smoke
    assert set(doc) == {"meta", "headline", "ratios", "goals", "spread", "errors", "runs"}
    assert doc["errors"] == []
    assert doc["meta"]["mode"] == "smoke"
    # smoke mode names neither Centrifugo (a Go build) nor the --workers system: nothing was
    # prepared for them and nothing is reported as not run
    assert doc["meta"]["not_run"] == {} and doc["meta"]["systems"] == {}
    assert list(doc["headline"]) == ["centripetal", "floor"]
    assert list(doc["ratios"]) == ["ours/floor"]
    assert list(doc["goals"]) == [f"G{i}" for i in range(1, 9)]
    for system in ("centripetal", "floor"):
        (run,) = doc["runs"][system]
        assert list(run) == ["W1", "W2", "W2c", "W3", "W4", "W5"]
        head = doc["headline"][system]
        assert head["w2_deliveries_per_s"] > 0
        assert head["w1_failed"] == 0


@pytest.mark.parametrize("system", ["centripetal", "floor"])
def test_no_loss_at_tiny_sizes(smoke: tuple[Path, dict[str, Any]], system: str) -> None:
    _, doc = smoke
    (run,) = doc["runs"][system]
    w1 = run["W1"]
    assert (w1["connected"], w1["failed"], w1["alive_after_hold"]) == (SUBS, 0, SUBS)
    for name, burst in (("W2", 1), ("W2c", 16)):
        w = run[name]
        assert w["subscribers"] == SUBS
        assert w["burst"] == burst and w["publishes"] % burst == 0
        assert w["publish_errors"] == 0
        assert w["expected"] == w["publishes"] * SUBS
        assert w["received"] == w["expected"] and w["loss"] == 0
        assert w["samples"] > 0
    w3 = run["W3"]["20"]
    assert (w3["publishes"], w3["expected"], w3["received"], w3["loss"]) == (20, 400, 400, 0)
    steps = run["W4"]["steps"]
    assert [s["rate"] for s in steps] == [50, 100]
    for step in steps:
        assert step["received"] == step["expected"] > 0 and step["loss"] == 0
        assert step["publish_errors"] == 0


def test_http_publish_counts_deliveries(smoke: tuple[Path, dict[str, Any]]) -> None:
    _, doc = smoke
    w5 = doc["runs"]["centripetal"][0]["W5"]
    assert w5["0"]["client"] == "aiohttp" and w5["0"]["errors"] == 0
    assert w5["0"]["ok"] == w5["0"]["requests"] > 0
    with_subs = w5[str(SUBS)]
    assert with_subs["errors"] == 0
    assert with_subs["expected"] == with_subs["ok"] * SUBS
    assert with_subs["received"] == with_subs["expected"]
    assert doc["runs"]["floor"][0]["W5"] == {"skipped": "the floor server has no HTTP endpoint"}


def test_publish_cost_reports_every_case() -> None:
    """``bench.publish_cost`` (server CPU per engine publish) runs against a real
    redis-server and prints one line per case, with positive figures; nothing is timed."""
    from support.tools import require_tool

    require_tool("redis-server")
    proc = subprocess.run(
        [sys.executable, "-m", "bench.publish_cost", "--count", "300", "--repeat", "1"],
        cwd=ROOT,
        capture_output=True,
        timeout=scaled(60),
    )
    assert proc.returncode == 0, proc.stdout.decode()[-2000:] + proc.stderr.decode()[-2000:]
    lines = proc.stdout.decode().splitlines()
    assert lines[0] == "server CPU per publish, µs (300 publishes, 64 in flight)"
    cases = {line.split()[0]: line.split() for line in lines[2:]}
    assert sorted(cases) == ["memory", "redis", "redis-history"]
    for fields in cases.values():
        assert float(fields[1]) >= 0
