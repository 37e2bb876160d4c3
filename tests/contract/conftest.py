"""Engine contract fixtures: every test here runs against each engine implementation (EN-01)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from contract.engine_harness import ENGINE_FACTORIES, EngineHarness


@pytest.fixture(params=sorted(ENGINE_FACTORIES))
async def engine(request: pytest.FixtureRequest) -> AsyncIterator[EngineHarness]:
    harness = await ENGINE_FACTORIES[request.param]()
    await harness.broker.run()
    try:
        yield harness
    finally:
        await harness.broker.close()
        await harness.presence.close()
