"""The ``--workers`` supervisor with stand-in worker bodies (docs/scaling.md, SV-02).

Each test runs a real ``Supervisor`` in a child Python process whose workers are small
functions, not servers: they write what happens to them to an events file (``start``,
``hup``, ``term``), so restarts, back-off, signal passing and the exit codes are checked
with real ``fork``, ``waitpid`` and signals and without any engine.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.timing import scaled

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="workers need fork()")

SCRIPT = r"""
import json, os, signal, sys, time
from centripetal.workers.backoff import RestartBackoff
from centripetal.workers.supervisor import Supervisor
import logging

spec = json.loads(sys.argv[1])
events = spec["events"]
logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")

def note(*words):
    with open(events, "a") as fh:
        fh.write(" ".join(str(w) for w in words) + "\n")

def body(index, ready_fd):
    role = spec["roles"][str(index)]
    signal.signal(signal.SIGHUP, lambda *a: note("hup", index))
    if role == "stubborn":
        signal.signal(signal.SIGTERM, lambda *a: note("term", index))
    else:
        signal.signal(signal.SIGTERM, lambda *a: (note("term", index), sys.exit(0)))
    note("start", index, os.getpid(), time.monotonic())
    if role == "fail_before_ready":
        return 1
    os.write(ready_fd, b"r")
    os.close(ready_fd)
    if role == "crash":
        return 3
    while True:
        time.sleep(0.05)

backoff = lambda: RestartBackoff(**spec["backoff"])
supervisor = Supervisor(
    len(spec["roles"]), body, stop_timeout=spec["stop_timeout"], grace=spec["grace"],
    pid_file=spec["pid_file"], backoff=backoff,
)
sys.exit(supervisor.run())
"""


class Run:
    """One supervisor process and its events file."""

    def __init__(self, tmp: Path, roles: dict[int, str], **opts: Any) -> None:
        self.events = tmp / "events.txt"
        self.pid_file = tmp / "parent.pid"
        spec = {
            "events": str(self.events),
            "pid_file": str(self.pid_file),
            "roles": {str(k): v for k, v in roles.items()},
            "stop_timeout": opts.get("stop_timeout", 5.0),
            "grace": opts.get("grace", 5.0),
            "backoff": opts.get("backoff", {"first": 0.5, "maximum": 30.0, "stable_after": 10}),
        }
        script = tmp / "supervise.py"
        script.write_text(SCRIPT)
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
        self.proc = subprocess.Popen(
            [sys.executable, str(script), json.dumps(spec)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=env,
        )

    def lines(self) -> list[list[str]]:
        if not self.events.exists():
            return []
        return [line.split() for line in self.events.read_text().splitlines()]

    def starts(self, index: int) -> list[tuple[int, float]]:
        return [(int(w[2]), float(w[3])) for w in self.lines() if w[:2] == ["start", str(index)]]

    def wait_for(self, what: str, check: Any, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + scaled(timeout)
        while time.monotonic() < deadline:
            if check():
                return
            if self.proc.poll() is not None and not check():
                break
            time.sleep(0.02)
        raise AssertionError(f"{what}: events {self.lines()}\nlog:\n{self.stop()}")

    def finish(self, timeout: float = 15.0) -> tuple[int, str]:
        out, _ = self.proc.communicate(timeout=scaled(timeout))
        return self.proc.returncode, out.decode()

    def stop(self) -> str:
        if self.proc.poll() is None:
            self.proc.kill()
        out, _ = self.proc.communicate()
        return out.decode()


@pytest.fixture
def runs(tmp_path: Path) -> Iterator[list[Run]]:
    started: list[Run] = []
    yield started
    for run in started:
        run.stop()
        for words in run.lines():  # no stand-in worker may outlive its test
            if words[0] == "start":
                with contextlib.suppress(ProcessLookupError):
                    os.kill(int(words[2]), signal.SIGKILL)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_killed_worker_is_replaced_sighup_passed_on_sigterm_stops_all(
    tmp_path: Path, runs: list[Run]
) -> None:
    run = Run(tmp_path, {1: "serve", 2: "serve"})
    runs.append(run)
    run.wait_for("pid file after both workers are ready", run.pid_file.exists)
    assert run.pid_file.read_text() == str(run.proc.pid)
    ((first_pid, _),) = run.starts(2)
    os.kill(first_pid, signal.SIGKILL)
    run.wait_for("worker 2 replaced", lambda: len(run.starts(2)) == 2)
    second_pid = run.starts(2)[1][0]
    assert second_pid != first_pid and len(run.starts(1)) == 1
    os.kill(run.proc.pid, signal.SIGHUP)
    run.wait_for("SIGHUP in both workers", lambda: {"hup 1", "hup 2"} <= events(run))
    os.kill(run.proc.pid, signal.SIGTERM)
    code, log = run.finish()
    assert code == 0, log
    assert {"term 1", "term 2"} <= events(run)
    assert not alive(second_pid) and not alive(run.starts(1)[0][0])
    assert f"worker 2 (pid {first_pid}) was killed by SIGKILL after" in log
    assert "restarting it in 0.0s" in log
    assert "SIGHUP: passed on to 2 workers" in log
    assert "SIGTERM: stopping 2 workers" in log
    assert f"worker 2 (pid {second_pid}) exited with code 0" in log


def events(run: Run) -> set[str]:
    return {" ".join(words[:2]) for words in run.lines()}


def test_crash_loop_backs_off_and_sigint_stops(tmp_path: Path, runs: list[Run]) -> None:
    backoff = {"first": 0.2, "maximum": 0.4, "stable_after": 10}
    run = Run(tmp_path, {1: "serve", 2: "crash"}, backoff=backoff)
    runs.append(run)
    run.wait_for("five starts of the crashing worker", lambda: len(run.starts(2)) >= 5)
    os.kill(run.proc.pid, signal.SIGINT)  # Ctrl-C stops as SIGTERM does
    code, log = run.finish()
    assert code == 0, log
    assert "SIGINT: stopping" in log and "term 1" in events(run)
    times = [t for _, t in run.starts(2)]
    gaps = [b - a for a, b in itertools.pairwise(times)][:4]
    # restart at once, then 0.2 s, 0.4 s, 0.4 s (the cap)
    for gap, delay in zip(gaps, [0.0, 0.2, 0.4, 0.4], strict=True):
        assert gap >= delay, gaps
    assert gaps[2] >= 0.4 and gaps[0] < gaps[2], gaps
    assert len(run.starts(1)) == 1  # the healthy worker was left alone
    assert "worker 2 (pid" in log and "exited with code 3 after" in log
    assert "restarting it in 0.4s" in log


def test_worker_failing_before_ready_ends_the_start_with_1(tmp_path: Path, runs: list[Run]) -> None:
    run = Run(tmp_path, {1: "serve", 2: "fail_before_ready"})
    runs.append(run)
    code, log = run.finish()
    assert code == 1, log
    assert "exited with code 1 before serving; stopping" in log
    assert len(run.starts(2)) == 1  # not restarted
    assert not run.pid_file.exists()
    assert not alive(run.starts(1)[0][0])


def test_worker_ignoring_sigterm_is_killed_after_the_timeout(
    tmp_path: Path, runs: list[Run]
) -> None:
    run = Run(tmp_path, {1: "stubborn", 2: "serve"}, stop_timeout=0.5, grace=0.5)
    runs.append(run)
    run.wait_for("both workers ready", run.pid_file.exists)
    started = time.monotonic()
    os.kill(run.proc.pid, signal.SIGTERM)
    code, log = run.finish()
    assert code == 1, log
    assert time.monotonic() - started >= 1.5  # max(timeout, 1 s) + grace
    assert "workers still running after the shutdown timeout, killed: worker 1" in log
    assert "worker 1 (pid" in log and "was killed by SIGKILL" in log
    assert {"term 1", "term 2"} <= events(run)
