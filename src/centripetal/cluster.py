"""Several nodes as one: node info exchange, control commands and surveys (spec EN-10, EN-11).

Theory of operation
-------------------
Nodes talk over the broker's control channel (``Broker.publish_control`` /
``BrokerEventHandler.handle_control``). Every message is a ``Control`` envelope naming the
sending node; a node ignores its own messages and applies a command locally before it
publishes it, so a single node (the memory engine has no control channel) behaves exactly the
same as a cluster of one.

* Node info: each node publishes its counts every ``INFO_INTERVAL`` (3 s); a node not heard
  from for ``NODE_TTL`` (7 s) is dropped. The server API ``info`` lists every live node. A
  node that hears from a node it does not know answers with its own info at once, so a node
  that just started (a restarted worker, docs/scaling.md) knows its peers within a round trip
  instead of ``INFO_INTERVAL``: emulation requests routed through it find their node.
* Commands: the server API's ``subscribe``, ``unsubscribe``, ``disconnect`` and ``refresh``
  reach the matching connections on every node.
* Surveys: ``channels`` asks every live node and merges the answers; nodes that do not answer
  within ``SURVEY_TIMEOUT`` are left out.
* Emulation (TR-04): commands posted to ``/emulation`` on one node reach an emulated session
  (http_stream, sse) owned by another node as an ``EmulationCmd`` addressed to that node, which
  acknowledges once the commands ran.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from typing import TYPE_CHECKING, Any, Protocol

import msgspec

from centripetal.core.hooks import SubscribeOptions
from centripetal.engines.base import StreamPosition
from centripetal.observability.logs import failure_log

if TYPE_CHECKING:
    from centripetal.config.schema import Override
    from centripetal.node import Node

logger = logging.getLogger("centripetal.cluster")
failures = failure_log("centripetal.cluster")

INFO_INTERVAL = 3.0
NODE_TTL = 7.0
SURVEY_TIMEOUT = 1.0
EMULATION_TIMEOUT = 10.0


class EmulationTarget(Protocol):
    """An emulated session: runs client commands that arrived over ``/emulation``."""

    async def emulate(self, frame: bytes) -> None: ...


class NodeInfo(msgspec.Struct, tag="info"):
    uid: str
    name: str
    version: str
    num_clients: int
    num_users: int
    num_channels: int
    num_subs: int
    uptime: int


class Target(msgspec.Struct):
    """Which connections a command is for (API-12..API-15)."""

    user: str
    client: str = ""
    session: str = ""


class SubscribeCmd(msgspec.Struct, tag="subscribe"):
    target: Target
    channel: str
    info: bytes | None = None
    data: bytes | None = None
    expire_at: int = 0
    override: dict[str, bool] | None = None
    since: tuple[int, str] | None = None


class UnsubscribeCmd(msgspec.Struct, tag="unsubscribe"):
    target: Target
    channel: str
    code: int = 2000


class DisconnectCmd(msgspec.Struct, tag="disconnect"):
    target: Target
    code: int
    reason: str
    whitelist: list[str] = []


class RefreshCmd(msgspec.Struct, tag="refresh"):
    target: Target
    expired: bool = False
    expire_at: int = 0
    info: bytes | None = None


class SurveyRequest(msgspec.Struct, tag="survey"):
    id: str
    op: str


class SurveyResponse(msgspec.Struct, tag="survey_reply"):
    id: str
    to: str
    data: dict[str, int]


class EmulationCmd(msgspec.Struct, tag="emulation"):
    """Client commands for emulated session ``session`` on node ``to`` (TR-04)."""

    id: str
    to: str
    session: str
    data: bytes


class EmulationAck(msgspec.Struct, tag="emulation_ack"):
    id: str
    to: str


Message = (
    NodeInfo
    | SubscribeCmd
    | UnsubscribeCmd
    | DisconnectCmd
    | RefreshCmd
    | SurveyRequest
    | SurveyResponse
    | EmulationCmd
    | EmulationAck
)


class Control(msgspec.Struct):
    node: str
    msg: Message


_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(Control)

_OVERRIDE_FIELDS = (
    "presence",
    "join_leave",
    "force_push_join_leave",
    "force_recovery",
    "force_positioning",
)


def _override_to_wire(override: Override | None) -> dict[str, bool] | None:
    if override is None:
        return None
    out = {f: getattr(override, f) for f in _OVERRIDE_FIELDS if getattr(override, f) is not None}
    return out or None


def _override_from_wire(raw: dict[str, bool] | None) -> Override | None:
    if not raw:
        return None
    from centripetal.config.schema import Override

    return Override(**{k: v for k, v in raw.items() if k in _OVERRIDE_FIELDS})


class Cluster:
    """The node's view of the other nodes, and the commands that must reach all of them."""

    def __init__(self, node: Node) -> None:
        self.node = node
        self.nodes: dict[str, tuple[NodeInfo, float]] = {}
        self._surveys: dict[str, tuple[asyncio.Future[None], dict[str, dict[str, int]]]] = {}
        self._task: asyncio.Task[None] | None = None
        self._emulations: dict[str, asyncio.Future[None]] = {}

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._info_loop())

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _info_loop(self) -> None:
        while True:
            try:
                await self._publish(self.local_info())
            except Exception as exc:  # the broker may be down; try again next round
                failures.failure("publishing node info", exc, level=logging.WARNING)
            now = time.monotonic()
            for uid, (_, seen) in list(self.nodes.items()):
                if now - seen > NODE_TTL:
                    del self.nodes[uid]
            await asyncio.sleep(INFO_INTERVAL)

    async def _publish(self, msg: Message) -> None:
        await self.node.broker.publish_control(_encoder.encode(Control(self.node.uid, msg)))

    # -- node info (API-21) ----------------------------------------------------------------

    def local_info(self) -> NodeInfo:
        node = self.node
        return NodeInfo(
            uid=node.uid,
            name=node.name,
            version=node.version,
            num_clients=len(node.sessions),
            num_users=node.num_users(),
            num_channels=node.hub.num_channels(),
            num_subs=node.num_subscriptions(),
            uptime=max(int(time.time() - node.started_at), 0),
        )

    def all_nodes(self) -> list[NodeInfo]:
        """This node (fresh counts) and every live peer."""
        return [self.local_info()] + [info for info, _ in self.nodes.values()]

    # -- commands (API-12..API-15) ---------------------------------------------------------

    async def subscribe(
        self,
        target: Target,
        channel: str,
        options: SubscribeOptions,
        since: StreamPosition | None,
    ) -> None:
        cmd = SubscribeCmd(
            target=target,
            channel=channel,
            info=options.info,
            data=options.data,
            expire_at=options.expire_at,
            override=_override_to_wire(options.override),
            since=(since.offset, since.epoch) if since is not None else None,
        )
        await self._apply(cmd)
        await self._publish(cmd)

    async def unsubscribe(self, target: Target, channel: str, code: int = 2000) -> None:
        cmd = UnsubscribeCmd(target=target, channel=channel, code=code)
        await self._apply(cmd)
        await self._publish(cmd)

    async def disconnect(
        self, target: Target, code: int, reason: str, whitelist: list[str]
    ) -> None:
        cmd = DisconnectCmd(target=target, code=code, reason=reason, whitelist=whitelist)
        await self._apply(cmd)
        await self._publish(cmd)

    async def refresh(
        self, target: Target, *, expired: bool, expire_at: int, info: bytes | None
    ) -> None:
        cmd = RefreshCmd(target=target, expired=expired, expire_at=expire_at, info=info)
        await self._apply(cmd)
        await self._publish(cmd)

    async def _apply(self, cmd: Message) -> None:
        """Run a command against this node's connections."""
        if isinstance(cmd, SubscribeCmd):
            options = SubscribeOptions(
                info=cmd.info,
                data=cmd.data,
                expire_at=cmd.expire_at,
                override=_override_from_wire(cmd.override),
            )
            since = StreamPosition(*cmd.since) if cmd.since is not None else None
            for s in self._sessions(cmd.target):
                await s.server_subscribe(cmd.channel, options, recover_since=since)
        elif isinstance(cmd, UnsubscribeCmd):
            for s in self._sessions(cmd.target):
                s.server_unsubscribe(cmd.channel, cmd.code)
        elif isinstance(cmd, DisconnectCmd):
            keep = set(cmd.whitelist)
            for s in self._sessions(cmd.target):
                if s.client_id not in keep:
                    s.disconnect(cmd.code, cmd.reason)
        elif isinstance(cmd, RefreshCmd):
            for s in self._sessions(cmd.target):
                s.api_refresh(expired=cmd.expired, expire_at=cmd.expire_at, info=cmd.info)

    def _sessions(self, target: Target) -> list[Any]:
        return self.node.sessions_of(target.user, target.client, target.session)

    # -- surveys (API-20) ------------------------------------------------------------------

    async def channels(self) -> dict[str, int]:
        """Channel -> number of subscribers, summed over every live node."""
        merged = dict(self.node.hub.channels())
        if not self.nodes:
            return merged
        survey_id = str(uuid.uuid4())
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        answers: dict[str, dict[str, int]] = {}
        self._surveys[survey_id] = (done, answers)
        try:
            await self._publish(SurveyRequest(id=survey_id, op="channels"))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(done, SURVEY_TIMEOUT)
        finally:
            self._surveys.pop(survey_id, None)
        for data in answers.values():
            for ch, n in data.items():
                merged[ch] = merged.get(ch, 0) + n
        return merged

    # -- emulation (TR-04) -----------------------------------------------------------------

    async def emulate(self, node_uid: str, session: str, frame: bytes) -> int:
        """Deliver ``frame`` to emulated ``session`` on node ``node_uid``; the HTTP status of
        the emulation request: 204 delivered (or the session is gone), 404 unknown node,
        500 the node did not acknowledge in time."""
        if node_uid == self.node.uid:
            await self.deliver_emulation(session, frame)
            return 204
        if node_uid not in self.nodes:
            return 404
        cmd_id = str(uuid.uuid4())
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._emulations[cmd_id] = done
        try:
            await self._publish(EmulationCmd(id=cmd_id, to=node_uid, session=session, data=frame))
            await asyncio.wait_for(done, EMULATION_TIMEOUT)
        except TimeoutError:
            return 500
        finally:
            self._emulations.pop(cmd_id, None)
        return 204

    async def deliver_emulation(self, session: str, frame: bytes) -> None:
        target = self.node.emulation_targets.get(session)
        if target is not None:
            await target.emulate(frame)

    async def _answer_emulation(self, sender: str, cmd: EmulationCmd) -> None:
        try:
            await self.deliver_emulation(cmd.session, cmd.data)
        finally:
            await self._publish(EmulationAck(id=cmd.id, to=sender))

    # -- incoming (BrokerEventHandler.handle_control) --------------------------------------

    def handle_control(self, data: bytes) -> None:
        try:
            env = _decoder.decode(data)
        except Exception as exc:  # msgspec errors, RecursionError on deep nesting
            failures.failure(
                "control message", f"undecodable, ignored ({exc})", key="undecodable control"
            )
            return
        if env.node == self.node.uid:
            return
        msg = env.msg
        if isinstance(msg, NodeInfo):
            if env.node not in self.nodes:  # a node just started: let it know us at once
                self.node.spawn(self._publish(self.local_info()))
            self.nodes[env.node] = (msg, time.monotonic())
        elif isinstance(msg, SurveyRequest):
            reply = SurveyResponse(id=msg.id, to=env.node, data=self.node.hub.channels())
            self.node.spawn(self._publish(reply))
        elif isinstance(msg, SurveyResponse):
            pending = self._surveys.get(msg.id)
            if msg.to == self.node.uid and pending is not None:
                done, answers = pending
                answers[env.node] = msg.data
                if set(answers) >= set(self.nodes) and not done.done():
                    done.set_result(None)
        elif isinstance(msg, EmulationCmd):
            if msg.to == self.node.uid:
                self.node.spawn(self._answer_emulation(env.node, msg))
        elif isinstance(msg, EmulationAck):
            waiter = self._emulations.get(msg.id)
            if msg.to == self.node.uid and waiter is not None and not waiter.done():
                waiter.set_result(None)
        else:
            self.node.spawn(self._apply(msg))
