"""Permission decisions (P-90, P-91, P-92, TR-10, CH-43) and the S-3 generated matrix.

The matrix compares ``core.permissions`` + ``core.channels`` with a deliberately simple
reference written below straight from the spec text (default boundaries ``$ : # ,``), over
user ids x channel names x namespace options x token/no-token x insecure x subscribed.
"""

from __future__ import annotations

import itertools
import re
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from centripetal.config import schema
from centripetal.core.channels import ChannelRules, UnknownNamespaceError
from centripetal.core.permissions import (
    PublishAccess,
    SubscribeAccess,
    check_publication_data,
    history_allowed,
    presence_allowed,
    publish_access,
    server_side_channel_allowed,
    subscribe_access,
    subscribe_opt_ins,
)

# --- reference implementation (spec text, no shared code) ------------------------------------


def ref_split(channel: str) -> tuple[str, str]:
    trimmed = channel[1:] if channel.startswith("$") else channel
    if ":" in trimmed:
        return trimmed.split(":", 1)[0], trimmed.split(":", 1)[1]
    return "", channel


def ref_name_ok(o: dict[str, Any], channel: str) -> bool:
    if o["channel_regex"]:
        return re.search(o["channel_regex"], ref_split(channel)[1]) is not None
    return all(ord(c) < 128 for c in channel)


def ref_limited(o: dict[str, Any], channel: str) -> bool:
    return o["allow_user_limited_channels"] and "#" in channel


def ref_user_listed(channel: str, user: str) -> bool:
    return user in channel.split("#")[-1].split(",")


def ref_subscribe(nss: dict[str, Any], ch: str, user: str, token: bool, insecure: bool) -> str:
    """P-90 (1)..(10)."""
    o = nss.get(ref_split(ch)[0])
    if o is None:
        return "102"
    if not ref_name_ok(o, ch):
        return "107"
    if o["subscription_type"] != "stream":
        return "103"
    if ch.startswith("$") and not token:
        return "103"
    if token:
        return "token"
    if ref_limited(o, ch) and ref_user_listed(ch, user):
        return "allow"
    if o["subscribe_proxy_enabled"]:
        return "proxy"
    if o["subscribe_stream_proxy_enabled"]:
        return "stream_proxy"
    anon_ok = user != "" or o["allow_subscribe_for_anonymous"]
    if o["allow_subscribe_for_client"] and anon_ok and not ref_limited(o, ch):
        return "allow"
    return "allow" if insecure else "103"


def ref_data_ok(fmt: str, data: bytes) -> bool:
    if fmt == "binary":
        return True
    if fmt == "":
        return data != b""
    text = data.decode()
    if fmt == "json_object":
        return text.startswith("{")
    return text in ('{"a":1}', "[1]", "1", '"s"')


def ref_publish(nss: dict[str, Any], ch: str, user: str, subscribed: bool, insecure: bool,
                data: bytes) -> str:  # fmt: skip
    """P-91."""
    o = nss.get(ref_split(ch)[0])
    if o is None:
        return "102"
    if not ref_name_ok(o, ch) or not ref_data_ok(o["publication_data_format"], data):
        return "107"
    if o["publish_proxy_enabled"]:
        return "proxy"
    if o["subscribe_stream_proxy_enabled"] and o["subscribe_stream_proxy_bidirectional"]:
        return "stream_proxy"
    anon_ok = user != "" or o["allow_publish_for_anonymous"]
    if o["allow_publish_for_client"] and anon_ok:
        return "allow"
    if o["allow_publish_for_subscriber"] and subscribed and anon_ok:
        return "allow"
    return "allow" if insecure else "103"


def ref_read(nss: dict[str, Any], ch: str, user: str, subscribed: bool, insecure: bool,
             what: str) -> str:  # fmt: skip
    """P-92: feature check 108 before permission 103."""
    o = nss.get(ref_split(ch)[0])
    if o is None:
        return "102"
    enabled = o["presence"] if what == "presence" else o["history_size"] > 0
    if not enabled:
        return "108"
    anon_ok = user != "" or o[f"allow_{what}_for_anonymous"]
    if o[f"allow_{what}_for_client"] and anon_ok:
        return "ok"
    if o[f"allow_{what}_for_subscriber"] and subscribed and anon_ok:
        return "ok"
    return "ok" if insecure else "103"


def ref_server_side(nss: dict[str, Any], ch: str, user: str, insecure: bool) -> str:
    """TR-10."""
    o = nss.get(ref_split(ch)[0])
    if o is None:
        return "3501"
    if ch.startswith("$") or len(ch.encode()) > 255 or not ref_name_ok(o, ch):
        return "skip"
    if o["subscribe_proxy_enabled"] or o["subscribe_stream_proxy_enabled"]:
        return "skip"
    if o["subscription_type"] != "stream":
        return "skip"
    if ref_limited(o, ch) and ref_user_listed(ch, user):
        return "yes"
    anon_ok = user != "" or o["allow_subscribe_for_anonymous"]
    if o["allow_subscribe_for_client"] and anon_ok and not ref_limited(o, ch):
        return "yes"
    return "yes" if insecure else "skip"


# --- system under test, mapped to the same outcome strings ---------------------------------


def sut_subscribe(rules: ChannelRules, ch: str, user: str, token: bool, insecure: bool) -> str:
    try:
        opts = rules.options(ch)
    except UnknownNamespaceError:
        return "102"
    access = subscribe_access(rules, opts, ch, user, has_token=token, insecure=insecure)
    return {SubscribeAccess.BAD_NAME: "107", SubscribeAccess.DENY: "103"}.get(access, access.value)


def sut_publish(rules: ChannelRules, ch: str, user: str, subscribed: bool, insecure: bool,
                data: bytes) -> str:  # fmt: skip
    try:
        opts = rules.options(ch)
    except UnknownNamespaceError:
        return "102"
    if not rules.valid_name(ch, opts) or not check_publication_data(opts, data):
        return "107"
    access = publish_access(opts, user, subscribed=subscribed, insecure=insecure)
    return "103" if access is PublishAccess.DENY else access.value


def sut_read(rules: ChannelRules, ch: str, user: str, subscribed: bool, insecure: bool,
             what: str) -> str:  # fmt: skip
    try:
        opts = rules.options(ch)
    except UnknownNamespaceError:
        return "102"
    if what == "presence":
        enabled, check = opts.presence, presence_allowed
    else:
        enabled, check = opts.history_enabled, history_allowed
    if not enabled:
        return "108"
    return "ok" if check(opts, user, subscribed=subscribed, insecure=insecure) else "103"


def sut_server_side(rules: ChannelRules, ch: str, user: str, insecure: bool) -> str:
    try:
        opts = rules.options(ch)
    except UnknownNamespaceError:
        return "3501"
    return "yes" if server_side_channel_allowed(rules, opts, ch, user, insecure) else "skip"


# --- generators ---------------------------------------------------------------------------

BOOL_FIELDS = [
    "allow_user_limited_channels",
    "allow_subscribe_for_client",
    "allow_subscribe_for_anonymous",
    "subscribe_proxy_enabled",
    "subscribe_stream_proxy_enabled",
    "subscribe_stream_proxy_bidirectional",
    "publish_proxy_enabled",
    "allow_publish_for_client",
    "allow_publish_for_subscriber",
    "allow_publish_for_anonymous",
    "presence",
    "allow_presence_for_client",
    "allow_presence_for_subscriber",
    "allow_presence_for_anonymous",
    "allow_history_for_client",
    "allow_history_for_subscriber",
    "allow_history_for_anonymous",
]

USERS = ["", "42", "4", "43", "420", "a", "42,43"]
SPECIAL_CHANNELS = [
    "$x", "#42", "chat:#42,43", "chat:#", "chat:#,42", "#4", "ns:a:b", "$ns:x", "unknown:x",
    "news", "$chat:#42", "chat:é", "ns:#42#43", "nums:12", "nums:1a", ":x", "chat:",
]  # fmt: skip

REGEXES = ["", "", r"^[a-z0-9#,:]+$", r"\d"]
TYPES = ["stream", "stream", "stream", "map"]
FORMATS = ["", "json", "json_object", "binary"]


def decode_options(bits: int) -> dict[str, Any]:
    """One integer -> one namespace option set (cheap for hypothesis to generate/shrink)."""
    o: dict[str, Any] = {f: bool(bits >> i & 1) for i, f in enumerate(BOOL_FIELDS)}
    rest = bits >> len(BOOL_FIELDS)
    o["channel_regex"] = REGEXES[rest & 3]
    o["subscription_type"] = TYPES[rest >> 2 & 3]
    o["publication_data_format"] = FORMATS[rest >> 4 & 3]
    o["history_size"] = 10 * (rest >> 6 & 1)
    return o


option_sets = st.integers(0, 2 ** (len(BOOL_FIELDS) + 7) - 1).map(decode_options)
channels = st.one_of(
    st.sampled_from(SPECIAL_CHANNELS),
    st.builds(
        lambda p, ns, body, users: p + ns + body + users,
        st.sampled_from(["", "$"]),
        st.sampled_from(["", "chat:", "ns:", "nums:", "unknown:", "ns:a:"]),
        st.sampled_from(["x", "", "index", "é", "a:b", "42"]),
        st.sampled_from(["", "#", "#42", "#4", "#42,43", "#,42", "#42#43"]),
    ),
)
payloads = st.sampled_from([b"", b'{"a":1}', b"[1]", b"1", b'"s"'])


def build(namespaces: dict[str, dict[str, Any]]) -> tuple[ChannelRules, dict[str, Any]]:
    def opts(o: dict[str, Any], cls: Any, **extra: Any) -> Any:
        return cls(**{**o, "history_ttl": 60.0 if o["history_size"] else 0.0}, **extra)

    channel = schema.Channel(
        without_namespace=opts(namespaces[""], schema.ChannelOptions),
        namespaces=[
            opts(o, schema.ChannelNamespace, name=name) for name, o in namespaces.items() if name
        ],
    )
    return ChannelRules(channel), namespaces


def check_all(nss: dict[str, Any], rules: ChannelRules, ch: str, user: str, token: bool,
              insecure: bool, subscribed: bool, data: bytes) -> None:  # fmt: skip
    assert sut_subscribe(rules, ch, user, token, insecure) == ref_subscribe(
        nss, ch, user, token, insecure
    )
    assert sut_publish(rules, ch, user, subscribed, insecure, data) == ref_publish(
        nss, ch, user, subscribed, insecure, data
    )
    for what in ("presence", "history"):
        assert sut_read(rules, ch, user, subscribed, insecure, what) == ref_read(
            nss, ch, user, subscribed, insecure, what
        )
    assert sut_server_side(rules, ch, user, insecure) == ref_server_side(nss, ch, user, insecure)


CASES_RUN = {"n": 0}


@settings(
    max_examples=400,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    derandomize=True,
)
@given(
    without=option_sets,
    chat=option_sets,
    ns=option_sets,
    nums=option_sets,
    chans=st.lists(channels, min_size=4, max_size=4),
    data=payloads,
)
def test_s3_generated_matrix_matches_reference(
    without: dict[str, Any], chat: dict[str, Any], ns: dict[str, Any], nums: dict[str, Any],
    chans: list[str], data: bytes,
) -> None:  # fmt: skip
    """S-3: generated namespace options x channels, each checked for every user id and every
    token / insecure / subscribed combination: 100 % agreement with the reference."""
    rules, nss = build({"": without, "chat": chat, "ns": ns, "nums": nums})
    flags = list(itertools.product((False, True), repeat=3))
    for ch, user in itertools.product(chans, USERS):
        for token, insecure, subscribed in flags:
            check_all(nss, rules, ch, user, token, insecure, subscribed, data)
            CASES_RUN["n"] += 1


def test_s3_matrix_ran_at_least_5000_cases() -> None:
    if CASES_RUN["n"] == 0:
        pytest.skip("run together with the generated matrix")
    assert CASES_RUN["n"] >= 5000  # 400 examples x 4 channels x 7 users x 8 flag sets


FIXED_NS = {
    "": {**{f: False for f in BOOL_FIELDS}, "allow_subscribe_for_client": True,
         "channel_regex": "", "subscription_type": "stream", "publication_data_format": "",
         "history_size": 0},
    "chat": {**{f: True for f in BOOL_FIELDS}, "subscribe_proxy_enabled": False,
             "subscribe_stream_proxy_enabled": False, "publish_proxy_enabled": False,
             "allow_subscribe_for_anonymous": False, "channel_regex": "",
             "subscription_type": "stream", "publication_data_format": "json",
             "history_size": 10},
    "ns": {**{f: False for f in BOOL_FIELDS}, "subscribe_proxy_enabled": True,
           "channel_regex": "", "subscription_type": "stream", "publication_data_format": "",
           "history_size": 0},
    "nums": {**{f: False for f in BOOL_FIELDS}, "allow_subscribe_for_client": True,
             "channel_regex": r"^\d+$", "subscription_type": "stream",
             "publication_data_format": "binary", "history_size": 0},
}  # fmt: skip


def test_s3_exhaustive_special_channels() -> None:
    """Every listed tricky channel x user x token x insecure x subscribed x payload."""
    rules, nss = build(FIXED_NS)
    combos = itertools.product(
        SPECIAL_CHANNELS, USERS, (False, True), (False, True), (False, True), [b"", b'{"a":1}']
    )
    count = 0
    for ch, user, token, insecure, subscribed, data in combos:
        check_all(nss, rules, ch, user, token, insecure, subscribed, data)
        count += 1
    assert count == len(SPECIAL_CHANNELS) * len(USERS) * 16


# --- explicit examples (each row of P-90/P-91/P-92) -----------------------------------------


def rules_with(**opts: Any) -> tuple[ChannelRules, schema.ChannelOptions]:
    rules = ChannelRules(schema.Channel(without_namespace=schema.ChannelOptions(**opts)))
    return rules, rules.options("x")


def test_p90_examples() -> None:
    r, o = rules_with(allow_user_limited_channels=True, allow_subscribe_for_client=True)
    sa = subscribe_access
    assert sa(r, o, "$x", "42", has_token=False, insecure=True) is SubscribeAccess.DENY
    assert sa(r, o, "$x", "42", has_token=True, insecure=False) is SubscribeAccess.TOKEN
    assert sa(r, o, "news", "", has_token=True, insecure=False) is SubscribeAccess.TOKEN
    assert sa(r, o, "#42", "42", has_token=False, insecure=False) is SubscribeAccess.ALLOW
    assert sa(r, o, "#4", "42", has_token=False, insecure=False) is SubscribeAccess.DENY
    assert sa(r, o, "news", "42", has_token=False, insecure=False) is SubscribeAccess.ALLOW
    assert sa(r, o, "news", "", has_token=False, insecure=False) is SubscribeAccess.DENY
    assert sa(r, o, "é", "42", has_token=True, insecure=True) is SubscribeAccess.BAD_NAME
    assert sa(r, o, "news", "1", has_token=False, insecure=False, sub_type=1) is (
        SubscribeAccess.DENY
    )
    r, o = rules_with(subscribe_proxy_enabled=True, allow_subscribe_for_client=True)
    assert sa(r, o, "news", "1", has_token=False, insecure=False) is SubscribeAccess.PROXY
    r, o = rules_with(subscribe_stream_proxy_enabled=True)
    assert sa(r, o, "news", "1", has_token=False, insecure=False) is SubscribeAccess.STREAM_PROXY
    r, o = rules_with(subscription_type="map")
    assert sa(r, o, "m", "1", has_token=False, insecure=True, sub_type=1) is SubscribeAccess.ALLOW


def test_p90_opt_ins() -> None:
    _r, o = rules_with(allow_positioning=True, join_leave=True, allow_presence_for_subscriber=True)
    kw = {"positioned": True, "recoverable": True, "join_leave": True}
    assert subscribe_opt_ins(o, "1", **kw, subscribed_via_proxy=False) == (True, False, True)
    assert subscribe_opt_ins(o, "", **kw, subscribed_via_proxy=False) == (True, False, False)
    assert subscribe_opt_ins(o, "1", **kw, subscribed_via_proxy=True) == (False, False, False)
    none = {"positioned": False, "recoverable": False, "join_leave": False}
    assert subscribe_opt_ins(o, "1", **none, subscribed_via_proxy=False) == (False, False, False)
    _r, o = rules_with(allow_history_for_subscriber=True)
    assert subscribe_opt_ins(o, "1", **kw, subscribed_via_proxy=False) == (True, True, False)
    _r, o = rules_with(allow_recovery=True)
    assert subscribe_opt_ins(o, "1", **kw, subscribed_via_proxy=False) == (True, True, False)
    _r, o = rules_with()
    assert subscribe_opt_ins(o, "1", **kw, subscribed_via_proxy=False) == (False, False, False)
    assert subscribe_opt_ins(o, "1", **kw, subscribed_via_proxy=False, insecure=True) == (
        True, True, False,
    )  # fmt: skip
    _r, o = rules_with(force_recovery=True, force_push_join_leave=True)
    assert subscribe_opt_ins(o, "1", **none, subscribed_via_proxy=True) == (True, True, True)
    override = schema.Override(force_recovery=False, force_positioning=True)
    assert subscribe_opt_ins(
        o, "1", **none, subscribed_via_proxy=False, override=override
    ) == (True, False, True)  # fmt: skip


def test_p91_examples() -> None:
    _r, o = rules_with(allow_publish_for_subscriber=True)
    assert publish_access(o, "1", subscribed=True, insecure=False) is PublishAccess.ALLOW
    assert publish_access(o, "1", subscribed=False, insecure=False) is PublishAccess.DENY
    assert publish_access(o, "", subscribed=True, insecure=False) is PublishAccess.DENY
    assert publish_access(o, "", subscribed=False, insecure=True) is PublishAccess.ALLOW
    _r, o = rules_with(publish_proxy_enabled=True, allow_publish_for_client=True)
    assert publish_access(o, "1", subscribed=True, insecure=True) is PublishAccess.PROXY
    _r, o = rules_with(
        subscribe_stream_proxy_enabled=True, subscribe_stream_proxy_bidirectional=True
    )
    assert publish_access(o, "1", subscribed=True, insecure=False) is PublishAccess.STREAM_PROXY


@pytest.mark.parametrize(
    ("fmt", "data", "ok"),
    [
        ("", b"", False),
        ("", b"not json", True),
        ("json", b'{"a":1}', True),
        ("json", b"[1, 2]", True),
        ("json", b"", False),
        ("json", b"{bad", False),
        ("json", b"NaN", False),
        ("json", b"\xff", False),
        ("json_object", b'{"a":1}', True),
        ("json_object", b"[1]", False),
        ("json_object", b"1", False),
        ("binary", b"", True),
        ("binary", b"\x00\xff", True),
    ],
)
def test_ch43_publication_data_format(fmt: str, data: bytes, ok: bool) -> None:
    assert check_publication_data(fmt, data) is ok
    assert check_publication_data(schema.ChannelOptions(publication_data_format=fmt), data) is ok


def test_p92_examples() -> None:
    _r, o = rules_with(allow_history_for_subscriber=True, allow_presence_for_client=True)
    assert history_allowed(o, "1", subscribed=True, insecure=False)
    assert not history_allowed(o, "1", subscribed=False, insecure=False)
    assert not history_allowed(o, "", subscribed=True, insecure=False)
    assert history_allowed(o, "", subscribed=False, insecure=True)
    assert presence_allowed(o, "1", subscribed=False, insecure=False)
    assert not presence_allowed(o, "", subscribed=False, insecure=False)


def test_tr10_examples() -> None:
    r, o = rules_with(allow_user_limited_channels=True)
    assert server_side_channel_allowed(r, o, "#42", "42", False)
    assert not server_side_channel_allowed(r, o, "#42", "4", False)
    assert not server_side_channel_allowed(r, o, "$x", "42", True)
    assert server_side_channel_allowed(r, o, "news", "42", True)
    assert not server_side_channel_allowed(r, o, "news", "42", False)
    r, o = rules_with(allow_subscribe_for_client=True, subscribe_proxy_enabled=True)
    assert not server_side_channel_allowed(r, o, "news", "42", True)
