"""Generated conversations: after a connect, hypothesis builds random sequences of valid and
invalid client commands, and Centrifugo v6.9.1 and centripetal must answer them alike
(P-20..P-56).

Each example plays on channels of its own (a fresh prefix), so history and presence of one
example do not leak into the next; the same example runs against both servers in turn.
"""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

from differential.common import OPEN, config, token
from differential.harness import Send, normalise, play
from differential.servers import Pair
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

CONFIG = config(
    {"without_namespace": {**OPEN, "history_size": 5}, "namespaces": [{"name": "closed"}]}
)

TOKEN = token()
CHANNELS = ("a", "b", "closed:c", "")

_channel = st.sampled_from(CHANNELS)
_data = st.one_of(st.integers(-5, 5), st.text(max_size=5), st.just({"k": [1, 2]}))

_commands = st.one_of(
    st.just({"connect": {"token": TOKEN}}),
    st.builds(lambda ch: {"subscribe": {"channel": ch}}, _channel),
    st.builds(lambda ch: {"unsubscribe": {"channel": ch}}, _channel),
    st.builds(lambda ch, d: {"publish": {"channel": ch, "data": d}}, _channel, _data),
    st.builds(
        lambda ch, n, r: {"history": {"channel": ch, "limit": n, "reverse": r}},
        _channel,
        st.integers(-1, 3),
        st.booleans(),
    ),
    st.builds(lambda ch: {"presence": {"channel": ch}}, _channel),
    st.builds(lambda ch: {"presence_stats": {"channel": ch}}, _channel),
    st.just({"rpc": {"method": "m"}}),
    st.just({"ping": {}}),
    st.just({"frobnicate": {}}),
)

_frames = st.lists(st.lists(_commands, min_size=1, max_size=3), min_size=1, max_size=5)

_examples = itertools.count()


def _scoped(frames: list[list[dict[str, Any]]], prefix: str) -> list[Send]:
    """Number the commands and move every channel into this example's own prefix."""
    ids = itertools.count(1)
    steps = []
    for frame in frames:
        commands = []
        for command in frame:
            ((method, body),) = command.items()
            body = dict(body)
            if body.get("channel"):
                body["channel"] = _prefixed(body["channel"], prefix)
            commands.append({"id": next(ids), method: body})
        steps.append(Send(commands))
    return steps


def _prefixed(channel: str, prefix: str) -> str:
    namespace, sep, name = channel.rpartition(":")
    return f"{namespace}{sep}{prefix}-{name}"


@settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(frames=_frames)
def test_generated_command_sequences(pair: Pair, frames: list[list[dict[str, Any]]]) -> None:
    steps = _scoped([[{"connect": {"token": TOKEN}}], *frames], f"g{next(_examples)}")

    async def both() -> tuple[list[Any], list[Any]]:
        return await play(pair.centrifugo, steps), await play(pair.centripetal, steps)

    judge, ours = asyncio.run(both())
    assert normalise(ours) == normalise(judge), steps
