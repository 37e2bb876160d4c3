"""Results: headline metrics, medians over repetitions, ratios, goals, JSON/Markdown/PNG.

The headline block follows benchmark §8.3; goals G1-G8 are §8.4, M1-M4 the per-core goals
against Centrifugo (present when both ran). Ratios are ``ours / other`` for throughputs and
``other / ours`` never: a ratio above 1 means centripetal has the larger value, whatever the
metric (read latencies and costs accordingly). :data:`RATIOS` lists the columns:
``ours/centrifugo`` on each engine, ``redis/memory`` (centripetal-redis / centripetal) and
``2w/1w`` (``--workers 2`` / one process, Redis engine). The goals use the memory engine.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Callable
from pathlib import Path
from typing import Any

OURS = "centripetal"
REDIS = "centripetal-redis"
REDIS_2W = "centripetal-redis-2w"
CENTRIFUGO = "centrifugo"
# ratio column -> (numerator system, denominator system); a column needs both systems
RATIOS: dict[str, tuple[str, str]] = {
    "ours/channels": (OURS, "channels"),
    "ours/floor": (OURS, "floor"),
    "redis/memory": (REDIS, OURS),
    "ours/centrifugo": (OURS, CENTRIFUGO),
    "ours/centrifugo (redis)": (REDIS, "centrifugo-redis"),
    "2w/1w (redis)": (REDIS_2W, REDIS),
}
Metric = tuple[str, str, Callable[[dict[str, Any]], Any]]


def _get(*path: str) -> Callable[[dict[str, Any]], Any]:
    def pick(res: dict[str, Any]) -> Any:
        node: Any = res
        for key in path:
            if not isinstance(node, dict) or key not in node:
                return None
            node = node[key]
        return node

    return pick


def _w5_subs(field: str) -> Callable[[dict[str, Any]], Any]:
    """W5 with subscribers: the run with the most subscribers (100 in quick mode)."""

    def pick(res: dict[str, Any]) -> Any:
        w5 = res.get("W5")
        if not isinstance(w5, dict):
            return None
        counts = [int(k) for k in w5 if k.isdigit() and int(k) > 0]
        return w5[str(max(counts))].get(field) if counts else None

    return pick


METRICS: list[Metric] = [
    ("w1_connects_per_s", "connect storm (W1), conn/s", _get("W1", "connects_per_s")),
    ("w1_failed", "connect storm failures (W1)", _get("W1", "failed")),
    (
        "w1_server_us_per_conn",
        "server CPU per connect (W1), µs",
        _get("W1", "server_cpu_us_per_conn"),
    ),
    (
        "w1_capacity",
        "server capacity at that cost (W1), conn/s",
        _get("W1", "server_capacity_conn_per_s"),
    ),
    ("w1_client_bound", "W1 client-bound", _get("W1", "client_bound")),
    ("w1_rss_kb_per_conn", "idle RSS per conn (W1), KB", _get("W1", "rss_kb_per_conn")),
    (
        "w1_slab_kb_per_conn",
        "kernel slab per conn, both ends (W1), KB",
        _get("W1", "slab_kb_per_conn_both_ends"),
    ),
    (
        "w1_idle_cpu_us",
        "idle CPU per conn (W1), µs/s",
        _get("W1", "idle_cpu_us_per_s_per_conn"),
    ),
    ("w2_deliveries_per_s", "fan-out 1000 subs (W2), deliveries/s", _get("W2", "deliveries_per_s")),
    ("w2_p50_ms", "W2 latency p50, ms", _get("W2", "p50_ms")),
    ("w2_p99_ms", "W2 latency p99, ms", _get("W2", "p99_ms")),
    ("w2_loss", "W2 loss", _get("W2", "loss")),
    ("w2_client_bound", "W2 client-bound", _get("W2", "client_bound")),
    (
        "w2_capacity",
        "W2 server capacity at its CPU per delivery, deliveries/s",
        _get("W2", "server_capacity_deliveries_per_s"),
    ),
    (
        "w2c_deliveries_per_s",
        "bursts of 16 (W2c), deliveries/s",
        _get("W2c", "deliveries_per_s"),
    ),
    (
        "w2c_capacity",
        "W2c server capacity at its CPU per delivery, deliveries/s",
        _get("W2c", "server_capacity_deliveries_per_s"),
    ),
    ("w2c_loss", "W2c loss", _get("W2c", "loss")),
    ("w2c_client_bound", "W2c client-bound", _get("W2c", "client_bound")),
    ("w3_20_p50_ms", "latency @20 pubs/s (W3), p50 ms", _get("W3", "20", "p50_ms")),
    ("w3_20_p99_ms", "latency @20 pubs/s (W3), p99 ms", _get("W3", "20", "p99_ms")),
    ("w3_20_loss", "W3 @20/s loss", _get("W3", "20", "loss")),
    ("w3_2_p50_ms", "latency @2 pubs/s (W3), p50 ms", _get("W3", "2", "p50_ms")),
    ("w3_2_p99_ms", "latency @2 pubs/s (W3), p99 ms", _get("W3", "2", "p99_ms")),
    ("w3_2_loss", "W3 @2/s loss", _get("W3", "2", "loss")),
    (
        "w4_deliveries_per_s",
        "many channels (W4), max deliveries/s at p99 ≤ 100 ms",
        _get("W4", "max_ok_deliveries_per_s"),
    ),
    ("w4_pubs_per_s", "W4 max pubs/s", _get("W4", "max_ok_pubs_per_s")),
    ("w5_0_req_per_s", "HTTP publish, 0 subs (W5), req/s", _get("W5", "0", "req_per_s")),
    ("w5_0_p99_ms", "W5 0 subs p99, ms", _get("W5", "0", "p99_ms")),
    (
        "w5_0_capacity",
        "W5 0 subs server capacity at its CPU per request, req/s",
        _get("W5", "0", "server_capacity_req_per_s"),
    ),
    ("w5_subs_req_per_s", "HTTP publish, 100 subs (W5), req/s", _w5_subs("req_per_s")),
    ("w5_subs_p99_ms", "W5 100 subs p99, ms", _w5_subs("p99_ms")),
    ("w5_subs_deliveries_per_s", "W5 100 subs deliveries/s", _w5_subs("deliveries_per_s")),
    ("w5_subs_loss", "W5 100 subs loss", _w5_subs("loss")),
]
LABELS = {key: label for key, label, _ in METRICS}


def headline(result: dict[str, Any]) -> dict[str, Any]:
    return {key: pick(result) for key, _, pick in METRICS}


def aggregate(runs: list[dict[str, Any]]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Median of each headline metric over repetitions, and its min-max with spread."""
    values = [headline(run) for run in runs]
    median: dict[str, Any] = {}
    spread: dict[str, Any] = {}
    for key in LABELS:
        column = [v[key] for v in values if v[key] is not None]
        numbers = [x for x in column if isinstance(x, int | float) and not isinstance(x, bool)]
        if not column:
            median[key] = None
        elif len(numbers) != len(column):  # booleans: true if any run says so
            median[key] = any(column)
        else:
            med = statistics.median(numbers)
            median[key] = round(med, 3)
            if len(numbers) > 1:
                lo, hi = min(numbers), max(numbers)
                rel = (hi - lo) / med if med else 0.0
                spread[key] = {"min": lo, "max": hi, "spread": round(rel, 3)}
    return median, spread


def ratio(a: Any, b: Any) -> float | None:
    if not isinstance(a, int | float) or not isinstance(b, int | float) or isinstance(a, bool):
        return None
    return round(a / b, 3) if b else None


def ratios(heads: dict[str, dict[str, Any]]) -> dict[str, dict[str, float | None]]:
    """One column per :data:`RATIOS` entry whose two systems both ran."""
    return {
        column: {k: ratio(heads[a].get(k), heads[b].get(k)) for k in LABELS}
        for column, (a, b) in RATIOS.items()
        if a in heads and b in heads
    }


def _at_most(value: Any, limit: float) -> bool | None:
    return None if value is None else bool(value <= limit)


def _at_least(value: Any, limit: float) -> bool | None:
    return None if value is None else bool(value >= limit)


def goals(heads: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Goals G1-G8 of benchmark §8.4 against the measured headline figures (None: not run)."""
    ours = heads.get(OURS, {})
    floor = heads.get("floor", {})
    chan = heads.get("channels", {})
    w2 = ours.get("w2_deliveries_per_s")
    vs_floor = ratio(w2, floor.get("w2_deliveries_per_s"))
    vs_chan = ratio(w2, chan.get("w2_deliveries_per_s"))
    g1 = [_at_least(w2, 100_000), _at_least(vs_floor, 0.8), _at_least(vs_chan, 20)]
    g3 = [
        _at_most(ours.get("w3_20_p50_ms"), 5),
        _at_most(ours.get("w3_20_p99_ms"), 15),
        _at_most(ours.get("w3_20_loss"), 0),
    ]
    g6 = [_at_least(ours.get("w1_connects_per_s"), 2500), _at_most(ours.get("w1_failed"), 0)]
    g7 = [_at_least(ours.get("w5_0_req_per_s"), 25_000), _at_most(ours.get("w5_0_p99_ms"), 5)]

    def all_of(parts: list[bool | None]) -> bool | None:
        return None if any(p is None for p in parts) else all(parts)

    table = {
        "G1": ("W2 ≥ 100k/s, ≥ 80 % floor, ≥ 20x Channels", [w2, vs_floor, vs_chan], all_of(g1)),
        "G2": (
            "bursts (W2c) ≥ 1M deliveries/s (and: server capacity at its CPU per delivery)",
            [ours.get("w2c_deliveries_per_s"), ours.get("w2c_capacity")],
            _at_least(ours.get("w2c_deliveries_per_s"), 1_000_000),
        ),
        "G3": (
            "W3 @20k/s p50 ≤ 5 ms, p99 ≤ 15 ms, no loss",
            [ours.get("w3_20_p50_ms"), ours.get("w3_20_p99_ms"), ours.get("w3_20_loss")],
            all_of(g3),
        ),
        "G4": (
            "idle RSS ≤ 8 KB/conn (issue: ≤ 10 KB)",
            ours.get("w1_rss_kb_per_conn"),
            _at_most(ours.get("w1_rss_kb_per_conn"), 8),
        ),
        "G5": (
            "idle CPU ≤ 5 µs/s per conn",
            ours.get("w1_idle_cpu_us"),
            _at_most(ours.get("w1_idle_cpu_us"), 5),
        ),
        "G6": (
            "storm ≥ 2.5k conn/s, 0 failures (and: server capacity at its CPU per connect)",
            [ours.get("w1_connects_per_s"), ours.get("w1_failed"), ours.get("w1_capacity")],
            all_of(g6),
        ),
        "G7": (
            "W5 ≥ 25k req/s, p99 ≤ 5 ms",
            [ours.get("w5_0_req_per_s"), ours.get("w5_0_p99_ms")],
            all_of(g7),
        ),
        "G8": (
            "W4 ≥ 50k deliveries/s at p99 ≤ 100 ms",
            ours.get("w4_deliveries_per_s"),
            _at_least(ours.get("w4_deliveries_per_s"), 50_000),
        ),
    }
    if CENTRIFUGO in heads and OURS in heads:
        table.update(versus_centrifugo(ours, heads[CENTRIFUGO]))
    return {
        g: {"goal": text, "measured": value, "met": met} for g, (text, value, met) in table.items()
    }


# per-core goals against Centrifugo: (id, text, metric, at least / at most, limit)
VERSUS_CENTRIFUGO = (
    ("M1", "W2 fan-out deliveries per CPU-second ≥ 1.0x Centrifugo", "w2_capacity", ">=", 1.0),
    ("M2", "W5 publish (0 subs) requests per CPU-second ≥ 0.7x Centrifugo", "w5_0_capacity",
     ">=", 0.7),
    ("M3", "W1 idle RSS per connection ≤ 0.5x Centrifugo", "w1_rss_kb_per_conn", "<=", 0.5),
    ("M4", "W1 connects per CPU-second ≥ 0.7x Centrifugo", "w1_capacity", ">=", 0.7),
)  # fmt: skip


def versus_centrifugo(
    ours: dict[str, Any], theirs: dict[str, Any]
) -> dict[str, tuple[str, Any, bool | None]]:
    """M1-M4: centripetal / Centrifugo on one core each (server CPU, not the client's)."""
    out: dict[str, tuple[str, Any, bool | None]] = {}
    for gid, text, key, way, limit in VERSUS_CENTRIFUGO:
        value = ratio(ours.get(key), theirs.get(key))
        met = _at_least(value, limit) if way == ">=" else _at_most(value, limit)
        out[gid] = (text, [ours.get(key), theirs.get(key), value], met)
    return out


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, list):
        return " / ".join(_fmt(v) for v in value)
    return str(value)


def markdown(doc: dict[str, Any]) -> str:
    heads: dict[str, dict[str, Any]] = doc["headline"]
    systems = list(heads)
    rat = doc["ratios"]
    cols = systems + list(rat)
    lines = [
        f"# Benchmark results — {doc['meta']['timestamp']} ({doc['meta']['mode']} mode)",
        "",
        f"Machine: {doc['meta']['cpus']} CPUs ({doc['meta']['cpu_model']}); server on CPU0, "
        "load generator on CPU1. Loopback only.",
        "",
        "| metric | " + " | ".join(cols) + " |",
        "|---|" + "---|" * len(cols),
    ]
    for key, label in LABELS.items():
        row = [_fmt(heads[s].get(key)) for s in systems]
        row += [_fmt(rat[r].get(key)) for r in rat]
        lines.append(f"| {label} | " + " | ".join(row) + " |")
    not_run = doc["meta"].get("not_run") or {}
    if not_run:
        lines += ["", "Systems not run:", ""]
        lines += [f"- **{name}**: {reason}" for name, reason in not_run.items()]
    lines += ["", "## Goals (benchmark §8.4)", ""]
    if CENTRIFUGO in heads:
        lines += [
            "M1-M4 compare one core with one core: centripetal / Centrifugo "
            "(measured: centripetal, Centrifugo, ratio).",
            "",
        ]
    lines += ["| goal | target | measured | met |"]
    lines.append("|---|---|---|---|")
    for gid, g in doc["goals"].items():
        lines.append(f"| {gid} | {g['goal']} | {_fmt(g['measured'])} | {_fmt(g['met'])} |")
    if doc.get("spread"):
        lines += ["", "## Spread over repetitions (min-max; ⚠ above 20 %)", ""]
        for system, spreads in doc["spread"].items():
            for key, s in spreads.items():
                warn = " ⚠" if s["spread"] > 0.2 else ""
                lines.append(f"- {system} {LABELS[key]}: {_fmt(s['min'])}-{_fmt(s['max'])}{warn}")
    if doc.get("errors"):
        lines += ["", "## Errors", ""] + [f"- {e}" for e in doc["errors"]]
    lines += [
        "",
        "Ratios are centripetal / other: above 1 means centripetal's figure is larger "
        "(better for rates, worse for latencies and costs); redis/memory is "
        "centripetal-redis / centripetal; ours/centrifugo (redis) is centripetal-redis / "
        "centrifugo-redis; 2w/1w (redis) is centripetal-redis-2w / centripetal-redis. "
        "A server capacity is the rate per second of the server's own CPU (all of its "
        "processes, Redis included when there is one). A client-bound figure "
        "is a lower bound of the server's capacity.",
        "",
    ]
    return "\n".join(lines)


CHART_NAMES = {
    "w2_deliveries_per_s": "W2 fan-out",
    "w2c_deliveries_per_s": "W2c bursts",
    "w4_deliveries_per_s": "W4 rooms",
    "w2_p99_ms": "W2 max rate",
    "w3_20_p99_ms": "W3 20 pubs/s",
    "w3_2_p99_ms": "W3 2 pubs/s",
}


def chart(doc: dict[str, Any], path: Path) -> None:
    """Deliveries/s (W2, W2c, W4) and p99 latency (W3) per system, log scale."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    heads: dict[str, dict[str, Any]] = doc["headline"]
    systems = list(heads)
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    width = 0.8 / max(len(systems), 1)
    for axis, keys, title in (
        (left, ["w2_deliveries_per_s", "w2c_deliveries_per_s", "w4_deliveries_per_s"],
         "deliveries/s (log)"),
        (right, ["w2_p99_ms", "w3_20_p99_ms", "w3_2_p99_ms"], "p99 latency, ms (log)"),
    ):  # fmt: skip
        names = [CHART_NAMES[k] for k in keys]
        for n, system in enumerate(systems):
            values = [heads[system].get(k) or 0 for k in keys]
            xs = [i + n * width for i in range(len(keys))]
            axis.bar(xs, values, width, label=system)
        axis.set_xticks([i + width * (len(systems) - 1) / 2 for i in range(len(keys))])
        axis.set_xticklabels(names)
        axis.set_yscale("log")
        axis.set_title(title)
        axis.legend()
    fig.suptitle(f"centripetal benchmark {doc['meta']['timestamp']} ({doc['meta']['mode']})")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def write(doc: dict[str, Any], out: Path) -> list[Path]:
    """``<timestamp>.json/.md/.png`` plus ``latest.*`` copies; returns the written paths."""
    out.mkdir(parents=True, exist_ok=True)
    stamp = doc["meta"]["timestamp"].replace(":", "").replace("-", "")
    text = json.dumps(doc, indent=1, sort_keys=False)
    md = markdown(doc)
    written = []
    for name in (stamp, "latest"):
        (out / f"{name}.json").write_text(text)
        (out / f"{name}.md").write_text(md)
        chart(doc, out / f"{name}.png")
        written += [out / f"{name}.json", out / f"{name}.md", out / f"{name}.png"]
    return written
