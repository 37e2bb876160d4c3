"""Prometheus metrics (spec SV-05), named as Centrifugo names them (``centrifugo_`` namespace).

Hot-path code only bumps plain integers on ``NodeMetrics``; the Prometheus collector turns them
into metric families when ``/metrics`` is scraped, so delivery costs no metric-library call
(DESIGN §5). Latency histograms (API commands, proxy calls) are plain bucket counts too
(``Latency``), with prometheus-client's default buckets.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import defaultdict
from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
)
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from prometheus_client.metrics_core import Metric

    from centripetal.node import Node

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0)


class Latency:
    """One labelled latency histogram: counts per bucket (the last is +Inf) and the sum."""

    __slots__ = ("counts", "total")

    def __init__(self) -> None:
        self.counts = [0] * (len(BUCKETS) + 1)
        self.total = 0.0

    def observe(self, seconds: float) -> None:
        self.counts[bisect_left(BUCKETS, seconds)] += 1
        self.total += seconds

    def cumulative(self) -> list[tuple[str, float]]:
        out: list[tuple[str, float]] = []
        running = 0
        for bound, count in zip((*map(str, BUCKETS), "+Inf"), self.counts, strict=True):
            running += count
            out.append((bound, running))
        return out


def _histogram(name: str, doc: str, label: str, series: dict[str, Latency]) -> Metric:
    family = HistogramMetricFamily(name, doc, labels=["protocol", label])
    for value, latency in series.items():
        family.add_metric(["http", value], latency.cumulative(), latency.total)
    return family


class NodeMetrics:
    """Counters updated by the node, sessions, transports, API and proxies."""

    def __init__(self) -> None:
        self.messages_sent: defaultdict[str, int] = defaultdict(int)  # by push/reply type
        self.messages_received: defaultdict[str, int] = defaultdict(int)  # by command type
        self.server_disconnects: defaultdict[int, int] = defaultdict(int)  # by code
        self.reply_errors: defaultdict[tuple[str, int], int] = defaultdict(int)
        self.connections_accepted = 0
        self.api_errors: defaultdict[tuple[str, int], int] = defaultdict(int)
        self.proxy_errors: defaultdict[str, int] = defaultdict(int)
        self.registry = CollectorRegistry(auto_describe=True)
        self.api_duration: dict[str, Latency] = {}  # by method
        self.proxy_duration: dict[str, Latency] = {}  # by proxy type

    def api_latency(self, method: str) -> Latency:
        """The latency histogram of one API method (kept by its handler: no lookup per call)."""
        latency = self.api_duration.get(method)
        if latency is None:
            latency = self.api_duration[method] = Latency()
        return latency

    def observe_api(self, method: str, seconds: float, error_code: int = 0) -> None:
        self.api_latency(method).observe(seconds)
        if error_code:
            self.api_errors[(method, error_code)] += 1

    def observe_proxy(self, kind: str, seconds: float, *, failed: bool = False) -> None:
        latency = self.proxy_duration.get(kind)
        if latency is None:
            latency = self.proxy_duration[kind] = Latency()
        latency.observe(seconds)
        if failed:
            self.proxy_errors[kind] += 1


class _NodeCollector(Collector):
    def __init__(self, node: Node) -> None:
        self.node = node

    def collect(self) -> Iterator[Metric]:
        node = self.node
        m = node.metrics
        gauges = {
            "centrifugo_node_num_clients": ("Number of clients on this node.", len(node.sessions)),
            "centrifugo_node_num_users": ("Number of unique users.", node.num_users()),
            "centrifugo_node_num_subscriptions": (
                "Number of subscriptions.",
                node.num_subscriptions(),
            ),
            "centrifugo_node_num_channels": ("Number of channels.", node.hub.num_channels()),
            "centrifugo_node_num_nodes": ("Number of nodes in the cluster.", 1),
        }
        for name, (doc, value) in gauges.items():
            yield GaugeMetricFamily(name, doc, value=value)
        build = GaugeMetricFamily(
            "centrifugo_node_build", "Node build info.", labels=["version", "edition"]
        )
        build.add_metric([node.version.split()[0], "oss"], 1)
        yield build
        sent = CounterMetricFamily(
            "centrifugo_node_messages_sent_count", "Messages sent to clients.", labels=["type"]
        )
        for kind, n in m.messages_sent.items():
            sent.add_metric([kind], n)
        yield sent
        received = CounterMetricFamily(
            "centrifugo_node_messages_received_count",
            "Commands received from clients.",
            labels=["type"],
        )
        for kind, n in m.messages_received.items():
            received.add_metric([kind], n)
        yield received
        disconnects = CounterMetricFamily(
            "centrifugo_client_num_server_disconnects",
            "Server-initiated disconnects.",
            labels=["code"],
        )
        for code, n in m.server_disconnects.items():
            disconnects.add_metric([str(code)], n)
        yield disconnects
        errors = CounterMetricFamily(
            "centrifugo_client_num_reply_errors", "Error replies.", labels=["method", "code"]
        )
        for (method, code), n in m.reply_errors.items():
            errors.add_metric([method, str(code)], n)
        yield errors
        yield CounterMetricFamily(
            "centrifugo_client_connections_accepted",
            "Accepted client connections.",
            value=m.connections_accepted,
        )
        api_errors = CounterMetricFamily(
            "centrifugo_api_command_errors", "Server API errors.", labels=["method", "code"]
        )
        for (method, code), n in m.api_errors.items():
            api_errors.add_metric([method, str(code)], n)
        yield api_errors
        proxy_errors = CounterMetricFamily(
            "centrifugo_proxy_errors", "Failed proxy requests.", labels=["type"]
        )
        for kind, n in m.proxy_errors.items():
            proxy_errors.add_metric([kind], n)
        yield proxy_errors
        yield _histogram(
            "centrifugo_api_command_duration_seconds",
            "Duration of server API commands.",
            "method",
            m.api_duration,
        )
        yield _histogram(
            "centrifugo_proxy_duration_seconds",
            "Duration of proxy requests to the application backend.",
            "type",
            m.proxy_duration,
        )


def install(node: Node) -> None:
    node.metrics.registry.register(_NodeCollector(node))


def exposition(node: Node) -> bytes:
    """The text exposition of every metric of ``node``."""
    return generate_latest(node.metrics.registry)
