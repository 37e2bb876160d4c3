"""Channel name rules and namespace resolution (CH-01..CH-09, SV-14)."""

from __future__ import annotations

import pytest

from centripetal.config import schema
from centripetal.core.channels import ChannelRules, UnknownNamespaceError


def make_rules(**channel: object) -> ChannelRules:
    defaults: dict[str, object] = {
        "without_namespace": schema.ChannelOptions(presence=True),
        "namespaces": [
            schema.ChannelNamespace(name="chat", allow_user_limited_channels=True),
            schema.ChannelNamespace(name="nums", channel_regex=r"^\d+$"),
            schema.ChannelNamespace(name="loose", channel_regex=r"[a-z]"),
        ],
    }
    defaults.update(channel)
    return ChannelRules(schema.Channel(**defaults))  # type: ignore[arg-type]


RULES = make_rules()


@pytest.mark.parametrize(
    ("channel", "namespace"),
    [
        ("news", ""),
        ("chat:index", "chat"),
        ("$chat:index", "chat"),  # CH-04: private prefix stripped first
        ("chat:a:b", "chat"),  # first boundary only
        ("$news", ""),
        (":x", ""),
        ("$$chat:x", "$chat"),  # only one prefix stripped
        ("dialog#42,43", ""),
    ],
)
def test_namespace_name_ch04(channel: str, namespace: str) -> None:
    assert RULES.namespace_name(channel) == namespace


def test_options_and_unknown_namespace_ch04_ch09() -> None:
    assert RULES.options("news").presence is True
    chat = RULES.options("$chat:x")
    assert chat.allow_user_limited_channels is True
    assert chat.presence is False  # CH-09: no inheritance from without_namespace
    with pytest.raises(UnknownNamespaceError) as info:
        RULES.options("$ns:x")
    assert info.value.namespace == "ns"
    assert "unknown namespace 'ns'" in str(info.value)


def test_global_defaults_are_inherited_ch09() -> None:
    rules = make_rules(publication_data_format="json", history_meta_ttl=60.0)
    assert rules.options("chat:x").publication_data_format == "json"
    assert rules.options("x").history_meta_ttl == 60.0
    own = make_rules(
        namespaces=[
            schema.ChannelNamespace(name="b", publication_data_format="binary", history_meta_ttl=5)
        ],
        publication_data_format="json",
    )
    assert own.options("b:1").publication_data_format == "binary"
    assert own.options("b:1").history_meta_ttl == 5.0


def test_private_ch06() -> None:
    assert RULES.is_private("$x") and RULES.is_private("$chat:x")
    assert not RULES.is_private("chat:$x") and not RULES.is_private("x$")
    assert not make_rules(private_prefix="").is_private("$x")


def test_user_limited_requires_namespace_option_ch05() -> None:
    assert RULES.is_user_limited("chat:#42", RULES.options("chat:#42"))
    assert not RULES.is_user_limited("#42", RULES.options("#42"))  # option off
    assert not RULES.is_user_limited("chat:x", RULES.options("chat:x"))


@pytest.mark.parametrize(
    ("channel", "user", "allowed"),
    [
        ("chat:#42", "42", True),
        ("chat:#42", "4", False),
        ("chat:#4", "42", False),
        ("chat:#42,43", "43", True),
        ("chat:#42,43", "42,43", False),
        ("chat:#", "", True),  # empty list item equals the anonymous user (as Centrifugo)
        ("chat:#", "1", False),
        ("chat:#,42", "", True),
        ("a#1#2", "2", True),  # last boundary wins
        ("a#1#2", "1", False),
        ("news", "anyone", True),
    ],
)
def test_user_allowed_ch05(channel: str, user: str, allowed: bool) -> None:
    assert RULES.user_allowed(channel, user) is allowed


def test_user_allowed_without_separator() -> None:
    rules = make_rules(user_separator="")
    assert rules.user_allowed("#1,2", "1,2") and not rules.user_allowed("#1,2", "1")


@pytest.mark.parametrize(
    ("channel", "valid"),
    [
        ("news", True),
        ("новости", False),  # CH-03: ASCII only
        ("chat:é", False),
        ("nums:123", True),  # regex applies to the part after ns:
        ("nums:12a", False),
        ("$nums:7", True),
        ("nums:é1", False),
        ("loose:ABCé1x", True),  # Go MatchString: unanchored, replaces the ASCII check
        ("loose:ABC", False),
    ],
)
def test_valid_name_ch03(channel: str, valid: bool) -> None:
    assert RULES.valid_name(channel, RULES.options(channel)) is valid


def test_regex_without_namespace_sees_whole_channel() -> None:
    rules = make_rules(without_namespace=schema.ChannelOptions(channel_regex=r"^\$?[a-z]+$"))
    assert rules.valid_name("$abc", rules.options("$abc"))
    assert not rules.valid_name("ab1", rules.options("ab1"))


def test_bad_regex_is_a_config_error() -> None:
    with pytest.raises(ValueError, match="namespace 'bad'"):
        make_rules(namespaces=[schema.ChannelNamespace(name="bad", channel_regex="(")])


def test_too_long_ch02() -> None:
    rules = make_rules(max_length=5)
    assert not rules.too_long("abcde") and rules.too_long("abcdef")
    assert rules.too_long("abcdé")  # 5 characters but 6 bytes: counted in bytes like Go
    assert not rules.too_long("abcé")
    assert RULES.max_length == 255


def test_personal_channel_sv14() -> None:
    assert RULES.personal_channel("42", "") == "#42"
    assert RULES.personal_channel("42", "personal") == "personal:#42"
    custom = make_rules(namespace_boundary="/", user_boundary="@")
    assert custom.personal_channel("7", "p") == "p/@7"
    assert custom.namespace_name("$p/@7") == "p"


def test_channel_identity_is_exact_ch01() -> None:
    assert RULES.user_allowed("dialog#42,43", "43")
    assert RULES.namespace_name("chat:index") != RULES.namespace_name("index")
