"""Prometheus metrics (spec SV-05), named as Centrifugo names them (``centrifugo_`` namespace).

Hot-path code only bumps plain integers on ``NodeMetrics``; the Prometheus collector turns them
into metric families when ``/metrics`` is scraped, so delivery costs no metric-library call
(DESIGN §5). Latency histograms (API commands, proxy calls) use prometheus-client directly:
they are per request, not per delivery.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from prometheus_client.metrics_core import Metric

    from centripetal.node import Node

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


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
        self.api_duration = Histogram(
            "centrifugo_api_command_duration_seconds",
            "Duration of server API commands.",
            ["protocol", "method"],
            registry=self.registry,
        )
        self._api_children: dict[str, Histogram] = {}  # labelled children, looked up once
        self._proxy_children: dict[str, Histogram] = {}
        self.proxy_duration = Histogram(
            "centrifugo_proxy_duration_seconds",
            "Duration of proxy requests to the application backend.",
            ["protocol", "type"],
            registry=self.registry,
        )

    def observe_api(self, method: str, seconds: float, error_code: int = 0) -> None:
        child = self._api_children.get(method)
        if child is None:
            child = self._api_children[method] = self.api_duration.labels("http", method)
        child.observe(seconds)
        if error_code:
            self.api_errors[(method, error_code)] += 1

    def observe_proxy(self, kind: str, seconds: float, *, failed: bool = False) -> None:
        child = self._proxy_children.get(kind)
        if child is None:
            child = self._proxy_children[kind] = self.proxy_duration.labels("http", kind)
        child.observe(seconds)
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


def install(node: Node) -> None:
    node.metrics.registry.register(_NodeCollector(node))


def exposition(node: Node) -> bytes:
    """The text exposition of every metric of ``node``."""
    return generate_latest(node.metrics.registry)
