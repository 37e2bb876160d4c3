"""Finished connections are freed by reference counting, not by the cycle collector.

A connection left in a reference cycle waits for a full collection, which walks everything
alive: after a storm of 5,000 connections one such collection took 240-260 ms, a pause every
client of the server saw. ``garbage_probe.py`` runs a server in its own process with
``gc.DEBUG_SAVEALL`` and ends WebSocket connections every way a client can (close frame,
plain EOF, TCP reset), the benchmark's connect storm and API connections, on the memory and
the Redis engine; nothing of the server may be left in a cycle.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
from pathlib import Path

import pytest
from support.redis import RedisServer
from support.timing import scaled

PROBE = Path(__file__).with_name("garbage_probe.py")


@pytest.mark.parametrize("engine", ["memory", "redis"])
def test_finished_connections_leave_no_cyclic_garbage(engine: str) -> None:
    args = [sys.executable, str(PROBE)]
    with contextlib.ExitStack() as stack:
        if engine == "redis":
            args.append(stack.enter_context(RedisServer()).address)
        done = subprocess.run(args, capture_output=True, timeout=scaled(60), check=False)
    assert done.returncode == 0, done.stderr.decode()[-3000:]
    garbage = json.loads(done.stdout.decode().strip().splitlines()[-1])
    assert garbage == {}
