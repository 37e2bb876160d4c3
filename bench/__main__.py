"""``python -m bench``: run the workloads against each system and write the results.

Systems are started one at a time on CPU0 and each workload runs in a fresh load-generator
process on CPU1 (benchmark §8.1). ``--full`` repeats the whole sequence three times,
interleaved (A B C A B C), and reports medians with min-max. Before anything is measured,
every selected system is prepared (Centrifugo is built if needed); one that cannot run is
left out and the report says why.
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import procfs, report, systems
from bench.modes import MODES, Mode

WORKLOADS = ("W1", "W2", "W2c", "W3", "W4", "W5")
JOB_TIMEOUT_S = 600


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    group = parser.add_mutually_exclusive_group()
    for name in ("quick", "full", "smoke"):
        group.add_argument(f"--{name}", dest="mode", action="store_const", const=name)
    parser.set_defaults(mode="quick")
    parser.add_argument("--systems", help="comma-separated subset of " + ",".join(systems.SYSTEMS))
    parser.add_argument("--workloads", help="comma-separated subset of " + ",".join(WORKLOADS))
    parser.add_argument("--out", default=str(Path(__file__).parent / "results"))
    return parser.parse_args(argv)


def run_job(workload: str, running: systems.Running, mode: Mode) -> dict[str, Any]:
    job = {"workload": workload, "system": running.descriptor(), "mode": mode.to_json()}
    proc = subprocess.run(
        [sys.executable, "-m", "bench.loadgen"],
        input=json.dumps(job).encode(),
        capture_output=True,
        timeout=JOB_TIMEOUT_S,
        cwd=str(systems.ROOT),
    )
    lines = proc.stdout.decode().strip().splitlines()
    if proc.returncode != 0 or not lines:
        tail = proc.stderr.decode(errors="replace")[-1500:]
        raise RuntimeError(f"load generator failed ({workload}, {running.name}):\n{tail}")
    result: dict[str, Any] = json.loads(lines[-1])
    return result


def run_system(name: str, workloads: list[str], mode: Mode, errors: list[str]) -> dict[str, Any]:
    only = systems.ONLY.get(name, WORKLOADS)
    skipped = {"skipped": f"{name} runs {', '.join(only)} only"}
    results: dict[str, Any] = {}
    if not any(w in only for w in workloads):
        return {w: skipped for w in workloads}
    running = systems.start(name)
    try:
        for workload in workloads:
            if workload not in only:
                results[workload] = skipped
                continue
            started = time.monotonic()
            try:
                results[workload] = run_job(workload, running, mode)
            except (RuntimeError, subprocess.TimeoutExpired) as exc:
                errors.append(f"{name} {workload}: {exc}")
                results[workload] = {"error": str(exc)[:500]}
            print(f"  {name:17s} {workload:4s} {time.monotonic() - started:5.1f} s", flush=True)
            if not running.alive():
                errors.append(f"{name} exited during {workload}")
                break
            time.sleep(0.3)  # let the server finish closing the previous connections
    finally:
        running.stop()
    return results


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    mode = MODES[args.mode]
    names = args.systems.split(",") if args.systems else list(mode.systems)
    workloads = args.workloads.split(",") if args.workloads else list(WORKLOADS)
    for n in names:
        if n not in systems.SYSTEMS:
            sys.exit(f"unknown system {n!r}")
    for w in workloads:
        if w not in WORKLOADS:
            sys.exit(f"unknown workload {w!r}")
    if not procfs.pinning_possible():
        print("warning: fewer than 2 CPUs, server and load generator are not pinned apart")
    prepared = time.monotonic()
    not_run: dict[str, str] = {}
    facts: dict[str, dict[str, Any]] = {}
    for name in names:
        reason, info = systems.prepare(name)
        if reason is not None:
            not_run[name] = reason
            print(f"{name}: not run: {reason}", flush=True)
        elif info:
            facts[name] = info
    names = [n for n in names if n not in not_run]
    source = systems.centripetal_source() if any("centripetal" in n for n in names) else {}
    started = time.monotonic()
    errors: list[str] = []
    runs: dict[str, list[dict[str, Any]]] = {n: [] for n in names}
    for rep in range(mode.repeats):
        for name in names:  # interleaved: A B C A B C
            print(f"[{rep + 1}/{mode.repeats}] {name}", flush=True)
            try:
                runs[name].append(run_system(name, workloads, mode, errors))
            except RuntimeError as exc:
                errors.append(f"{name}: {exc}")
    heads: dict[str, dict[str, Any]] = {}
    spread: dict[str, Any] = {}
    for name, system_runs in runs.items():
        if system_runs:
            heads[name], spread[name] = report.aggregate(system_runs)
    doc: dict[str, Any] = {
        "meta": {
            "timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H-%M-%SZ"),
            "mode": mode.name,
            "cpus": procfs.cpu_count(),
            "cpu_model": cpu_model(),
            "python": platform.python_version(),
            "duration_s": round(time.monotonic() - started, 1),
            "prepare_s": round(started - prepared, 1),
            "params": mode.to_json(),
            "not_run": not_run,
            "systems": facts,
            "centripetal": source,
        },
        "headline": heads,
        "ratios": report.ratios(heads),
        "goals": report.goals(heads),
        "spread": {k: v for k, v in spread.items() if v},
        "errors": errors,
        "runs": runs,
    }
    paths = report.write(doc, Path(args.out))
    print(report.markdown(doc))
    print(f"took {doc['meta']['duration_s']} s; wrote " + ", ".join(str(p) for p in paths[:3]))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
