"""Running coroutines at once in the current callback (eager.py; benchmark G7)."""

from __future__ import annotations

import asyncio

import pytest

from centripetal.eager import EagerRunner


async def immediate(value: int) -> int:
    return value * 2


async def waits_for(fut: asyncio.Future[int]) -> int:
    await asyncio.sleep(0)  # a bare yield first
    return await fut + 1


async def fails() -> None:
    raise ValueError("bad")


@pytest.mark.parametrize("by_hand", [True, False])
async def test_a_coroutine_that_never_waits_finishes_in_the_call(by_hand: bool) -> None:
    done, value = EagerRunner(by_hand=by_hand).run(immediate(21))
    if by_hand:
        assert (done, value) == (True, 42)
    else:  # without eager tasks (3.11) it runs in a task
        assert done or await value == 42


@pytest.mark.parametrize("by_hand", [True, False])
async def test_a_coroutine_that_waits_goes_on_in_a_task(by_hand: bool) -> None:
    fut: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    done, task = EagerRunner(by_hand=by_hand).run(waits_for(fut))
    assert not done
    await asyncio.sleep(0)
    fut.set_result(9)
    assert await task == 10


async def test_failure_of_the_awaited_future_reaches_the_coroutine() -> None:
    fut: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    done, task = EagerRunner(by_hand=True).run(waits_for(fut))
    assert not done
    fut.set_exception(KeyError("k"))
    with pytest.raises(KeyError):
        await task


async def test_an_error_in_the_eager_part_is_raised_by_run() -> None:
    with pytest.raises(ValueError):
        EagerRunner(by_hand=True).run(fails())


async def test_cancelling_the_continuation_closes_the_coroutine() -> None:
    fut: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    closed = []

    async def guarded() -> int:
        try:
            return await fut
        finally:
            closed.append(True)

    done, task = EagerRunner(by_hand=True).run(guarded())
    assert not done
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert closed == [True]
