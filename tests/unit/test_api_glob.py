"""``channels`` pattern matching with gobwas/glob syntax (API-20)."""

from __future__ import annotations

import pytest

from centripetal.api.glob import GlobError, compile_glob


@pytest.mark.parametrize(
    ("pattern", "channel", "expected"),
    [
        ("", "anything:at/all", True),  # API-20: no pattern = every channel
        ("chat", "chat", True),
        ("chat", "chat2", False),  # anchored at both ends
        ("chat", "xchat", False),
        ("*", "", True),
        ("*", "a:b:c", True),  # no separators: * crosses ':'
        ("news:*", "news:sport", True),
        ("news:*", "news:", True),
        ("news:*", "chat:news:x", False),
        ("*:room", "rooms:room", True),
        ("a*b*c", "aXXbYYc", True),
        ("a*b*c", "aXXbYY", False),
        ("user?", "user1", True),
        ("user?", "user", False),
        ("user?", "user12", False),
        ("[abc]x", "bx", True),
        ("[abc]x", "dx", False),
        ("[a-c]x", "cx", True),
        ("[!a-c]x", "dx", True),
        ("[!a-c]x", "ax", False),
        ("{chat,news}:*", "news:1", True),
        ("{chat,news}:*", "feed:1", False),
        ("a.b", "a.b", True),
        ("a.b", "axb", False),  # regex metacharacters are literal
        ("a+", "aa", False),
        (r"a\*", "a*", True),
        (r"a\*", "ab", False),
        ("$secret*", "$secret:1", True),
    ],
)
def test_glob_match_api_20(pattern: str, channel: str, expected: bool) -> None:
    assert compile_glob(pattern)(channel) is expected


@pytest.mark.parametrize("pattern", ["[abc", "{a,b", "a\\", "[]", "[z-a]"])
def test_glob_malformed_pattern_raises(pattern: str) -> None:
    with pytest.raises(GlobError):
        compile_glob(pattern)
