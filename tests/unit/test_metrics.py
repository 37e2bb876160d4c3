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
