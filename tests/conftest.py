"""Fixtures shared by every test directory.

- ``server_factory``: start centripetal servers on free loopback ports; all of them
  are stopped (by their own pid) when the test ends, and their log tails are attached
  to the report of a failed test.
- ``require_tool``: the session-wide check for external tools such as ``node`` and
  ``npm``: fails when ``CI=true``, skips with a reason elsewhere (DESIGN §7).

``tests/differential`` (centripetal against Centrifugo v6.9.1, which needs Go to build) is
collected only under ``make conformance`` (``CENTRIPETAL_CONFORMANCE=1``), so ``make test``
works without Go.
"""

from __future__ import annotations

import os
import ssl
import sys
from collections.abc import Callable, Generator, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

TESTS_DIR = Path(__file__).resolve().parent
if str(TESTS_DIR) not in sys.path:
    sys.path.insert(0, str(TESTS_DIR))

from support.server import ServerFactory, ServerProcess  # noqa: E402
from support.tools import require_tool as _require_tool  # noqa: E402

_SERVERS_KEY = pytest.StashKey[list[ServerProcess]]()

collect_ignore = [] if os.environ.get("CENTRIPETAL_CONFORMANCE") == "1" else ["differential"]


@pytest.fixture
def server_factory(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ServerFactory]:
    """Start ``python -m centripetal`` with a config dict; every server stops at teardown."""
    started: list[ServerProcess] = []
    request.node.stash[_SERVERS_KEY] = started

    def start(
        config: Mapping[str, Any],
        *,
        env: Mapping[str, str] | None = None,
        port: int | None = None,
        extra_args: tuple[str, ...] = (),
        startup_timeout: float = 20.0,
        ssl_context: ssl.SSLContext | None = None,
    ) -> ServerProcess:
        workdir = tmp_path / f"server{len(started)}"
        server = ServerProcess(
            config,
            port=port,
            env=env,
            workdir=workdir,
            extra_args=extra_args,
            startup_timeout=startup_timeout,
            ssl_context=ssl_context,
        )
        started.append(server)
        return server.start()

    yield start
    for server in reversed(started):
        server.stop()


_tool_cache: dict[str, str] = {}


def _checked_tool(name: str) -> str:
    if name not in _tool_cache:
        _tool_cache[name] = _require_tool(name)
    return _tool_cache[name]


@pytest.fixture(scope="session")
def require_tool() -> Callable[[str], str]:
    """``require_tool(name) -> path``: fail under ``CI=true``, skip otherwise, when missing."""
    return _checked_tool


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Attach the log tail of every server the test started to a failed report."""
    report = yield
    if report.failed:
        for server in item.stash.get(_SERVERS_KEY, []):
            report.sections.append(
                (f"centripetal server :{server.port} log tail", server.log_tail(80))
            )
    return report
