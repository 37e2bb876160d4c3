"""The centrifuge-python 0.7.0 test suite, run unchanged against centripetal (oracles §1).

The sdist (which, unlike the wheel, ships ``tests/``) is fetched once with
``pip download`` into ``tests/compat/.oracle/`` and unpacked into a temporary
directory for every run. Its ``tests/test_client.py`` talks to a server on
``localhost:8000``: we start ours there with the oracle's configuration, or on a
free port with ``localhost:8000`` rewritten in the unpacked copy when 8000 is busy.

The suite runs once (``pytest --timeout=60``, junit XML report); each pytest test
here then checks one oracle test class, so failures are itemised. Rows exercised:
P-30 (connect, ``version``), P-31 (subscribe, error 103), P-33, P-34, P-35, P-36
(history pagination), P-44/P-45 (join/leave), AU-02..AU-04 (token 3500), AU-20,
recovery (P-31 ``recovered``/``was_recovering``, error 112), fossil delta.
"""

from __future__ import annotations

import subprocess
import sys
import tarfile
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from support.ports import free_port, port_accepts
from support.server import ServerProcess
from support.timing import scaled

ORACLE_VERSION = "0.7.0"
SDIST_NAME = f"centrifuge_python-{ORACLE_VERSION}"
CACHE_DIR = Path(__file__).resolve().parent / ".oracle"
ORACLE_PORT = 8000
SUITE_TIMEOUT = 270.0

pytestmark = [pytest.mark.oracle, pytest.mark.timeout(scaled(SUITE_TIMEOUT + 60))]

# oracles.md §1: the server configuration of the suite (its docker-compose env vars).
_CHANNEL_DEFAULTS: dict[str, Any] = {
    "allowed_delta_types": ["fossil"],
    "delta_publish": True,
    "presence": True,
    "join_leave": True,
    "force_push_join_leave": True,
    "history_size": 100,
    "history_ttl": "300s",
    "force_recovery": True,
    "allow_publish_for_subscriber": True,
    "allow_presence_for_subscriber": True,
    "allow_history_for_subscriber": True,
}
ORACLE_CONFIG: dict[str, Any] = {
    "client": {
        "token": {"hmac_secret_key": "secret"},
        "subscribe_to_user_personal_channel": {"enabled": True},
    },
    "channel": {
        "without_namespace": _CHANNEL_DEFAULTS,
        "namespaces": [
            {
                "name": "smallhistory",
                "force_recovery": True,
                "history_size": 2,
                "history_ttl": "300s",
                "allow_publish_for_subscriber": True,
                "allow_history_for_subscriber": True,
            },
            {
                "name": "example",
                "presence": True,
                "join_leave": True,
                "force_push_join_leave": True,
                "history_size": 300,
                "history_ttl": "300s",
                "allow_publish_for_subscriber": True,
                "allow_presence_for_subscriber": True,
                "allow_history_for_subscriber": True,
            },
        ],
    },
}

# Module-level token helpers of tests/test_client.py whose names start with ``test_``:
# pytest collects them as tests (one fails for want of an async plugin, the other for a
# missing ``channel`` fixture) whatever the server does, so they are deselected.
HELPERS_NOT_TESTS = ("test_get_client_token", "test_get_subscription_token")

# The test classes of tests/test_client.py in centrifuge-python 0.7.0, in file order.
ORACLE_CLASSES = [
    "TestClientConstruction",
    "TestClient",
    "TestConnectDisconnectLoop",
    "TestSubscription",
    "TestSubscribeUnsubscribeLoop",
    "TestMultipleSubscriptions",
    "TestSubscriptionManagement",
    "TestSubscriptionOperations",
    "TestClientLevelOperations",
    "TestHistoryPagination",
    "TestPubSub",
    "TestJoinLeave",
    "TestPresenceTwoClients",
    "TestAutoRecovery",
    "TestRecoveryAfterUnsubscribeResubscribe",
    "TestClientTokenInvalid",
    "TestClientTokenUnauthorized",
    "TestSubscriptionTokenInvalid",
    "TestSubscriptionTokenUnauthorized",
    "TestServerSideSubscriptions",
    "TestConnectedContext",
    "TestConnectingDisconnectedCallbacks",
    "TestSubscribingSubscribedCallbacks",
    "TestConnectionLeak",
    "TestProcessDisconnectReconnectFlag",
    "TestGetState",
    "TestChannelCompaction",
]


@dataclass
class CaseOutcome:
    """One junit ``testcase`` of the oracle run."""

    name: str
    outcome: str  # "passed", "failed", "error" or "skipped"
    detail: str = ""


@dataclass
class OracleRun:
    """The result of running the oracle suite once."""

    returncode: int
    output: str
    server: ServerProcess
    cases: dict[str, list[CaseOutcome]] = field(default_factory=dict)

    def tail(self, lines: int = 60) -> str:
        return "\n".join(self.output.splitlines()[-lines:])

    def failing(self) -> list[str]:
        return [
            f"{cls}::{case.name}"
            for cls, outcomes in self.cases.items()
            for case in outcomes
            if case.outcome in {"failed", "error"}
        ]


def _fetch_sdist() -> Path:
    """Download the sdist into the cache directory unless it is already there."""
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    archive = CACHE_DIR / f"{SDIST_NAME}.tar.gz"
    if archive.exists():
        return archive
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-binary",
        ":all:",
        "--no-deps",
        f"centrifuge-python=={ORACLE_VERSION}",
        "-d",
        str(CACHE_DIR),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=scaled(300), check=False)
    if proc.returncode != 0 or not archive.exists():
        pytest.fail(
            f"could not download the oracle sdist ({' '.join(cmd)}): exit {proc.returncode}\n"
            f"{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}"
        )
    return archive


def _unpack(archive: Path, dest: Path) -> Path:
    with tarfile.open(archive) as tar:
        tar.extractall(dest, filter="data")
    root = dest / SDIST_NAME
    if not (root / "tests" / "test_client.py").exists():
        pytest.fail(f"{archive.name} has no tests/test_client.py")
    return root


def _rewrite_port(root: Path, port: int) -> None:
    """Point the hardcoded ``localhost:8000`` of the suite at ``port``."""
    for path in (root / "tests").glob("*.py"):
        text = path.read_text(encoding="utf-8")
        if "localhost:8000" in text:
            path.write_text(text.replace("localhost:8000", f"localhost:{port}"), encoding="utf-8")


def _parse_junit(path: Path) -> dict[str, list[CaseOutcome]]:
    cases: dict[str, list[CaseOutcome]] = {}
    if not path.exists():
        return cases
    for testcase in ET.parse(path).getroot().iter("testcase"):
        cls = testcase.get("classname", "").rsplit(".", 1)[-1]
        outcome, detail = "passed", ""
        for tag in ("failure", "error", "skipped"):
            node = testcase.find(tag)
            if node is not None:
                outcome = "failed" if tag == "failure" else tag
                detail = (node.get("message") or "") + "\n" + (node.text or "")
                break
        cases.setdefault(cls, []).append(
            CaseOutcome(testcase.get("name", ""), outcome, detail.strip())
        )
    return cases


@pytest.fixture(scope="module")
def oracle_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OracleRun]:
    """Fetch, unpack, start the server and run the whole oracle suite once."""
    archive = _fetch_sdist()
    workdir = tmp_path_factory.mktemp("oracle")
    root = _unpack(archive, workdir)
    port = ORACLE_PORT
    if port_accepts("127.0.0.1", port) or port_accepts("::1", port):
        port = free_port()
        _rewrite_port(root, port)
    server = ServerProcess(ORACLE_CONFIG, port=port, workdir=workdir / "server")
    server.start()
    junit = workdir / "junit.xml"
    cmd = [
        sys.executable,
        "-m",
        "pytest",
        "tests/test_client.py",
        "--timeout=60",
        "-q",
        "-p",
        "no:cacheprovider",
        f"--junitxml={junit}",
        *(f"--deselect=tests/test_client.py::{name}" for name in HELPERS_NOT_TESTS),
    ]
    try:
        proc = subprocess.run(
            cmd,
            cwd=root,
            capture_output=True,
            text=True,
            timeout=scaled(SUITE_TIMEOUT),
            check=False,
        )
        returncode, output = proc.returncode, proc.stdout + proc.stderr
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout.decode() if isinstance(exc.stdout, bytes) else (exc.stdout or "")
        returncode, output = -1, f"{out}\n[oracle suite timed out after {exc.timeout:.0f}s]"
    run = OracleRun(returncode, output, server, _parse_junit(junit))
    yield run
    server.cleanup()


def _report(run: OracleRun, what: str) -> str:
    return (
        f"{what}\nfailing: {run.failing() or 'none recorded'}\n"
        f"--- oracle output tail ---\n{run.tail()}\n"
        f"--- server log tail ---\n{run.server.log_tail(40)}"
    )


@pytest.mark.parametrize("cls", ORACLE_CLASSES)
def test_oracle_class(oracle_run: OracleRun, cls: str) -> None:
    """Every test of one oracle class passed (none failed, errored or was skipped)."""
    outcomes = oracle_run.cases.get(cls)
    assert outcomes, _report(oracle_run, f"oracle class {cls} did not run")
    bad = [c for c in outcomes if c.outcome != "passed"]
    details = "\n\n".join(f"{c.name} [{c.outcome}]\n{c.detail[-1500:]}" for c in bad)
    assert not bad, _report(oracle_run, f"{cls}: {len(bad)}/{len(outcomes)} not passed\n{details}")


def test_oracle_suite_exit_code(oracle_run: OracleRun) -> None:
    """The suite as a whole exits 0 and ran only the classes listed above."""
    unknown = sorted(set(oracle_run.cases) - set(ORACLE_CLASSES))
    assert not unknown, f"oracle classes not itemised here: {unknown}"
    assert oracle_run.returncode == 0, _report(
        oracle_run, f"oracle suite exited with {oracle_run.returncode}"
    )
