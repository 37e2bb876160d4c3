"""The floor: the thinnest broadcast server picows allows (benchmark design §8.1 (c)).

``/ws/<ch>[,<ch>...]`` subscribes a connection to channels; ``/pub`` is a publisher whose text
frames hold lines ``<channel> <payload>``. For each frame the payloads are grouped by channel
and sent with one ``send`` per subscriber (several lines newline-joined, as the Centrifugo JSON
protocol batches), then ``ok`` is sent back. No auth, no protocol: "physically possible".
Run: ``python -m bench.floor_server PORT``.
"""

from __future__ import annotations

import sys
from collections import defaultdict

from picows import WSFrame, WSListener, WSMsgType, WSTransport, WSUpgradeRequest, ws_create_server

TEXT = WSMsgType.TEXT
subscribers: defaultdict[bytes, set[WSTransport]] = defaultdict(set)


class Subscriber(WSListener):
    def __init__(self, channels: list[bytes]) -> None:
        self.channels = channels

    def on_ws_connected(self, transport: WSTransport) -> None:
        for ch in self.channels:
            subscribers[ch].add(transport)

    def on_ws_disconnected(self, transport: WSTransport) -> None:
        for ch in self.channels:
            subs = subscribers.get(ch)
            if subs is not None:
                subs.discard(transport)
                if not subs:
                    del subscribers[ch]


class Publisher(WSListener):
    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        if frame.msg_type is not TEXT:
            if frame.msg_type is WSMsgType.CLOSE:
                transport.disconnect()
            return
        grouped: defaultdict[bytes, list[bytes]] = defaultdict(list)
        for line in frame.get_payload_as_bytes().split(b"\n"):
            channel, _, payload = line.partition(b" ")
            grouped[channel].append(payload)
        for channel, payloads in grouped.items():
            data = b"\n".join(payloads)
            for sub in subscribers.get(channel, ()):
                sub.send(TEXT, data)
        transport.send(TEXT, b"ok")


def listener_for(request: WSUpgradeRequest) -> WSListener | None:
    path = request.path
    if path.startswith(b"/ws/"):
        return Subscriber(path[4:].split(b","))
    if path == b"/pub":
        return Publisher()
    return None


async def main(port: int) -> None:
    server = await ws_create_server(listener_for, "127.0.0.1", port, read_buffer_init_size=2048)
    await server.serve_forever()


if __name__ == "__main__":
    import uvloop

    uvloop.run(main(int(sys.argv[1])))
