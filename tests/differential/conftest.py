"""Fixtures of the differential harness (``make conformance``).

``centrifugo`` is the Centrifugo v6.9.1 binary (built once into a cache by
``bench.centrifugo_build``); without a Go toolchain to build it, the tests fail under
``CI=true`` and are skipped elsewhere. ``pair`` starts Centrifugo and centripetal from the
test module's ``CONFIG`` once per module. ``converse`` plays a conversation against both and
asserts that their normalised transcripts are equal (``conversation`` builds one with more
to compare, such as a backend's requests).
"""

from __future__ import annotations

import json
import os
from collections.abc import Awaitable, Callable, Iterator, Sequence
from typing import Any

import pytest
from differential.harness import Step, normalise, play
from differential.known import KNOWN
from differential.servers import Pair, centrifugo_binary, start_pair

Converse = Callable[[Sequence[Step]], Awaitable[list[Any]]]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Conversations that differ on purpose (``known.KNOWN``) must still differ."""
    for item in items:
        for name, reason in KNOWN.items():
            if item.nodeid.endswith(name):
                item.add_marker(pytest.mark.xfail(strict=True, reason=reason))


@pytest.fixture(scope="session")
def centrifugo() -> str:
    from bench.centrifugo_build import Unavailable

    try:
        return centrifugo_binary()
    except Unavailable as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"Centrifugo v6.9.1 is needed for the differential tests: {exc}")
        pytest.skip(f"Centrifugo v6.9.1 is not available: {exc}")


@pytest.fixture(scope="module")
def pair(request: pytest.FixtureRequest, centrifugo: str) -> Iterator[Pair]:
    config = request.module.CONFIG
    started = start_pair(centrifugo, config)
    try:
        yield started
    finally:
        started.stop()


def _render(transcript: list[Any]) -> str:
    return "\n".join(json.dumps(entry, sort_keys=True) for entry in transcript)


def compare(judge: list[Any], ours: list[Any]) -> list[Any]:
    """Fail unless the two normalised transcripts are equal; the normalised one."""
    judge, ours = normalise(judge), normalise(ours)
    if judge != ours:
        pytest.fail(
            "centripetal differs from Centrifugo v6.9.1\n"
            f"--- Centrifugo\n{_render(judge)}\n--- centripetal\n{_render(ours)}",
            pytrace=False,
        )
    return judge


def conversation(pair: Pair, after: Callable[[], list[Any]] | None = None) -> Converse:
    """Play ``steps`` against Centrifugo, then centripetal; fail on any difference. ``after``
    adds what else each play caused (a backend's requests) to its transcript."""

    async def run(steps: Sequence[Step]) -> list[Any]:
        judge = await play(pair.centrifugo, steps) + (after() if after else [])
        ours = await play(pair.centripetal, steps) + (after() if after else [])
        return compare(judge, ours)

    return run


@pytest.fixture
def converse(pair: Pair) -> Converse:
    """``conversation`` against this module's pair of servers."""
    return conversation(pair)
