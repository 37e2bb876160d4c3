"""The benchmark report with Centrifugo and the 2-worker system (benchmark design §8.3).

Ratio columns against Centrifugo on each engine, the 2-workers / 1-worker column, the
per-core goals M1-M4, and the reason printed for a system that was not run.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import report  # noqa: E402


def head(**values: float) -> dict[str, Any]:
    return {key: values.get(key) for key in report.LABELS}


HEADS = {
    "centripetal": head(
        w2_capacity=300_000, w5_0_capacity=14_000, w1_rss_kb_per_conn=6.0, w1_capacity=2_000
    ),
    "centrifugo": head(
        w2_capacity=250_000, w5_0_capacity=40_000, w1_rss_kb_per_conn=20.0, w1_capacity=2_500
    ),
    "centripetal-redis": head(w2_capacity=200_000, w1_capacity=1_000),
    "centrifugo-redis": head(w2_capacity=400_000, w1_capacity=2_000),
    "centripetal-redis-2w": head(w2_capacity=150_000, w1_capacity=900),
}


def test_ratio_columns_need_both_of_their_systems() -> None:
    cols = report.ratios(HEADS)
    assert list(cols) == [
        "redis/memory",
        "ours/centrifugo",
        "ours/centrifugo (redis)",
        "2w/1w (redis)",
    ]
    assert cols["ours/centrifugo"]["w2_capacity"] == 1.2
    assert cols["ours/centrifugo"]["w1_rss_kb_per_conn"] == 0.3
    assert cols["ours/centrifugo (redis)"]["w2_capacity"] == 0.5
    assert cols["2w/1w (redis)"]["w1_capacity"] == 0.9
    assert cols["2w/1w (redis)"]["w5_0_capacity"] is None  # not measured
    only_ours = {k: v for k, v in HEADS.items() if k != "centrifugo"}
    assert "ours/centrifugo" not in report.ratios(only_ours)


def test_per_core_goals_against_centrifugo() -> None:
    goals = report.goals(HEADS)
    assert list(goals) == [f"G{i}" for i in range(1, 9)] + ["M1", "M2", "M3", "M4"]
    assert goals["M1"]["measured"] == [300_000, 250_000, 1.2] and goals["M1"]["met"] is True
    assert goals["M2"]["measured"] == [14_000, 40_000, 0.35] and goals["M2"]["met"] is False
    assert goals["M3"]["measured"] == [6.0, 20.0, 0.3] and goals["M3"]["met"] is True
    assert goals["M4"]["measured"] == [2_000, 2_500, 0.8] and goals["M4"]["met"] is True
    without = {k: v for k, v in HEADS.items() if k != "centrifugo"}
    assert list(report.goals(without)) == [f"G{i}" for i in range(1, 9)]


def test_markdown_says_why_a_system_was_not_run() -> None:
    doc = {
        "meta": {
            "timestamp": "2026-12-07T19-30-00Z",
            "mode": "quick",
            "cpus": 2,
            "cpu_model": "test",
            "not_run": {"centrifugo": "no Go toolchain (go >= 1.26 on PATH) to build it"},
        },
        "headline": {"centripetal": HEADS["centripetal"]},
        "ratios": {},
        "goals": report.goals({"centripetal": HEADS["centripetal"]}),
    }
    md = report.markdown(doc)
    assert "| metric | centripetal |\n" in md
    assert "- **centrifugo**: no Go toolchain (go >= 1.26 on PATH) to build it\n" in md
    assert "| M1 |" not in md
