"""Origin matrix (TR-12, reliability S-2): only listed origins pass; no false accepts."""

from __future__ import annotations

import pytest

from centripetal.transports.origin import OriginChecker

LIST = ["https://example.com", "https://*.example.org", "http://localhost:9000"]


@pytest.mark.parametrize(
    ("origin", "allowed"),
    [
        (None, True),
        ("https://example.com", True),
        ("HTTPS://EXAMPLE.COM", True),
        ("https://example.com.evil.com", False),
        ("https://evil.com/https://example.com", False),
        ("http://example.com", False),
        ("https://example.com:8443", False),
        ("https://sub.example.org", True),
        ("https://a.b.example.org", True),
        ("https://example.org", False),
        ("https://sub.example.org.evil.net", False),
        ("https://subexample.org", False),
        ("http://sub.example.org", False),
        ("http://localhost:9000", True),
        ("http://localhost:9001", False),
        ("http://localhost", False),
        ("null", False),
        ("", True),
        ("file://", False),
        ("https://example.co", False),
    ],
)
def test_pattern_list(origin: str | None, allowed: bool) -> None:
    assert OriginChecker(LIST).allowed(origin) is allowed


@pytest.mark.parametrize("origin", ["https://example.com", "http://localhost:8000", "null"])
def test_empty_list_refuses_every_origin(origin: str) -> None:
    assert OriginChecker([]).allowed(origin) is False
    assert OriginChecker([]).allowed(None) is True


def test_star_allows_all() -> None:
    assert OriginChecker(["*"]).allowed("https://anything.example") is True
