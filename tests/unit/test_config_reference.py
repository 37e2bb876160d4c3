"""The generated configuration reference is current (DESIGN §6)."""

from __future__ import annotations

from pathlib import Path

from centripetal.config.reference import render_reference

DOC = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"


def test_reference_doc_is_up_to_date() -> None:
    text = render_reference()
    assert (
        '| `client.ping_interval` | duration | `"25s"` | `CENTRIFUGO_CLIENT_PING_INTERVAL` |'
        in text
    )
    assert "| CFG-141 | `token_hmac_secret_key` | `client.token.hmac_secret_key` |" in text
    assert DOC.read_text() == text, "regenerate: python -m centripetal.config.reference"
