"""Prometheus exposition of node counters (SV-05)."""

from __future__ import annotations

from session_harness import Client, make_node, sub_token, token

from centripetal.observability.metrics import exposition


async def test_exposition_counts_clients_commands_and_deliveries() -> None:
    node = make_node()
    a, b = Client(node), Client(node)
    for c in (a, b):
        await c.connect(token())
        await c.cmd(subscribe={"channel": "m", "token": sub_token("m")})
    await a.cmd(publish={"channel": "m", "data": {}})
    await b.cmd(subscribe={"channel": "nope:x"})
    text = exposition(node).decode()
    assert "centrifugo_node_num_clients 2.0" in text
    assert "centrifugo_node_num_users 1.0" in text
    assert "centrifugo_node_num_channels 1.0" in text
    assert "centrifugo_node_num_subscriptions 2.0" in text
    assert 'centrifugo_node_messages_sent_count_total{type="publication"} 2.0' in text
    assert 'centrifugo_node_messages_received_count_total{type="subscribe"} 3.0' in text
    assert 'centrifugo_client_num_reply_errors_total{code="102",method="subscribe"} 1.0' in text


def test_latency_histograms_are_cumulative_prometheus_histograms() -> None:
    """SV-05: API and proxy durations as Prometheus histograms (default buckets, +Inf, sum)."""
    node = make_node()
    m = node.metrics
    for seconds in (0.001, 0.005, 0.02, 3.0, 11.0):
        m.observe_api("publish", seconds)
    m.observe_api("publish", 0.002, error_code=102)
    m.observe_proxy("connect", 0.3, failed=True)
    text = exposition(node).decode()
    api = 'centrifugo_api_command_duration_seconds_bucket{le="%s",method="publish",protocol="http"}'
    assert f"{api % '0.005'} 3.0" in text  # 0.001, 0.002 and 0.005 (le is inclusive)
    assert f"{api % '0.025'} 4.0" in text
    assert f"{api % '5.0'} 5.0" in text
    assert f"{api % '10.0'} 5.0" in text
    assert f"{api % '+Inf'} 6.0" in text
    assert (
        'centrifugo_api_command_duration_seconds_count{method="publish",protocol="http"} 6.0'
        in text
    )
    assert (
        'centrifugo_api_command_duration_seconds_sum{method="publish",protocol="http"} 14.028'
        in text
    )
    assert 'centrifugo_api_command_errors_total{code="102",method="publish"} 1.0' in text
    proxy = 'centrifugo_proxy_duration_seconds_bucket{le="%s",protocol="http",type="connect"}'
    assert f"{proxy % '0.25'} 0.0" in text and f"{proxy % '0.5'} 1.0" in text
    assert 'centrifugo_proxy_errors_total{type="connect"} 1.0' in text
