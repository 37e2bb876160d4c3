"""Centrifugo v6.9.1 and centripetal side by side, from one config (differential harness).

``CentrifugoProcess`` runs the Centrifugo binary the benchmark builds (``bench.centrifugo_build``:
``go install github.com/centrifugal/centrifugo/v6@v6.9.1`` into a cache outside the
repository) the way ``support.server.ServerProcess`` runs centripetal: same config file, same
readiness check (its port accepts and a plain GET on the WebSocket endpoint is answered),
stopped by its own pid. Centrifugo takes its port from the file (``http_server.port``);
usage statistics are turned off so it makes no outbound connections.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from support.server import ServerProcess

__all__ = ["CentrifugoProcess", "Pair", "centrifugo_binary"]


def centrifugo_binary() -> str:
    """The cached (or freshly built) Centrifugo v6.9.1 binary; raises
    ``bench.centrifugo_build.Unavailable`` with the reason when there is none."""
    from bench import centrifugo_build

    return centrifugo_build.ensure().path


class CentrifugoProcess(ServerProcess):
    """The Centrifugo binary on a loopback port, with the same config file as centripetal."""

    def __init__(self, binary: str, config: Mapping[str, Any], **kwargs: Any) -> None:
        super().__init__(config, **kwargs)
        self.binary = binary
        self.config["http_server"]["port"] = self.port
        self.config.setdefault("usage_stats", {})["disabled"] = True

    @property
    def command(self) -> list[str]:
        return [self.binary, "-c", str(self.config_path)]


@dataclass
class Pair:
    """The two servers a conversation is played against, judge first."""

    centrifugo: ServerProcess
    centripetal: ServerProcess

    def stop(self) -> None:
        for server in (self.centripetal, self.centrifugo):
            server.cleanup()


def start_pair(binary: str, config: Mapping[str, Any]) -> Pair:
    """Start Centrifugo and centripetal from ``config``; both are stopped if either fails."""
    judge = CentrifugoProcess(binary, config, env={"GOMAXPROCS": str(os.cpu_count() or 1)})
    ours = ServerProcess(config)
    try:
        judge.start()
        ours.start()
    except BaseException:
        judge.cleanup()
        ours.cleanup()
        raise
    return Pair(judge, ours)
