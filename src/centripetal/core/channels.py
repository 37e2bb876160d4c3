"""Channel name rules and namespace resolution (spec §5.1: CH-01..CH-09, SV-14).

Everything here runs on every subscribe and publish, so the namespace table, the effective
options (with the two inherited globals of CH-09 already applied) and the ``channel_regex``
patterns are prepared once in ``ChannelRules.__init__``; each call is a few string operations
and one dict lookup.
"""

from __future__ import annotations

import re

import msgspec

from centripetal.config import schema

__all__ = ["ChannelRules", "UnknownNamespaceError"]


class UnknownNamespaceError(Exception):
    """The channel names a namespace that is not configured (CH-04: error 102)."""

    def __init__(self, namespace: str, channel: str) -> None:
        super().__init__(f"unknown namespace {namespace!r} (channel {channel!r})")
        self.namespace = namespace
        self.channel = channel


class ChannelRules:
    """Resolves a channel's namespace and options and applies the name rules of
    ``channel.*`` (CH-02..CH-06)."""

    __slots__ = (
        "_ns_boundary",
        "_options",
        "_private",
        "_regex",
        "_user_boundary",
        "_user_sep",
        "max_length",
    )

    def __init__(self, channel: schema.Channel) -> None:
        self._private = channel.private_prefix
        self._ns_boundary = channel.namespace_boundary
        self._user_boundary = channel.user_boundary
        self._user_sep = channel.user_separator
        self.max_length = channel.max_length
        self._options: dict[str, schema.ChannelOptions] = {}
        self._regex: dict[str, re.Pattern[str]] = {}
        named: list[tuple[str, schema.ChannelOptions]] = [("", channel.without_namespace)]
        named += [(ns.name, ns) for ns in channel.namespaces]
        for name, opts in named:
            self._options[name] = self._effective(channel, opts)
            if opts.channel_regex:
                try:
                    self._regex[name] = re.compile(opts.channel_regex)
                except re.error as exc:
                    where = f"namespace {name!r}" if name else "without_namespace"
                    raise ValueError(f"channel {where}: bad channel_regex: {exc}") from None

    @staticmethod
    def _effective(channel: schema.Channel, opts: schema.ChannelOptions) -> schema.ChannelOptions:
        """A plain ``ChannelOptions`` with the CH-09 global defaults filled in."""
        values = {f: getattr(opts, f) for f in schema.ChannelOptions.__struct_fields__}
        if not values["history_meta_ttl"]:
            values["history_meta_ttl"] = channel.history_meta_ttl
        if not values["publication_data_format"]:
            values["publication_data_format"] = channel.publication_data_format
        return msgspec.convert(values, schema.ChannelOptions, from_attributes=False)

    def _split(self, channel: str) -> tuple[str, str]:
        """(namespace, rest): rest is the part after ``ns:``, or the whole channel (CH-04)."""
        boundary = self._ns_boundary
        trimmed = channel
        if self._private and channel.startswith(self._private):
            trimmed = channel[len(self._private) :]
        if boundary and boundary in trimmed:
            namespace, _, rest = trimmed.partition(boundary)
            return namespace, rest
        return "", channel

    def namespace_name(self, channel: str) -> str:
        """Text before the first namespace boundary once the private prefix is stripped;
        "" when there is none (CH-04)."""
        return self._split(channel)[0]

    def options(self, channel: str) -> schema.ChannelOptions:
        """The options of the channel's namespace (no inheritance, CH-09); raises
        ``UnknownNamespaceError`` (102)."""
        namespace = self._split(channel)[0]
        opts = self._options.get(namespace)
        if opts is None:
            raise UnknownNamespaceError(namespace, channel)
        return opts

    def is_private(self, channel: str) -> bool:
        """Channel starts with ``channel.private_prefix`` (CH-06)."""
        return bool(self._private) and channel.startswith(self._private)

    def is_user_limited(self, channel: str, opts: schema.ChannelOptions) -> bool:
        """Contains the user boundary and the namespace allows user-limited channels (CH-05)."""
        boundary = self._user_boundary
        return opts.allow_user_limited_channels and bool(boundary) and boundary in channel

    def user_allowed(self, channel: str, user: str) -> bool:
        """``user`` is listed after the LAST user boundary (CH-05); True without a boundary."""
        boundary = self._user_boundary
        if not boundary or boundary not in channel:
            return True
        allowed = channel.rpartition(boundary)[2]
        if not self._user_sep:
            return allowed == user
        return user in allowed.split(self._user_sep)

    def valid_name(self, channel: str, opts: schema.ChannelOptions) -> bool:
        """ASCII only, or -- when ``channel_regex`` is set -- the regex matches the part after
        ``ns:`` instead (CH-03). Go ``MatchString`` semantics: an unanchored search."""
        if opts.channel_regex:
            namespace, rest = self._split(channel)
            pattern = self._regex.get(namespace)
            if pattern is None:  # opts not from this resolver: compile on the fly
                pattern = re.compile(opts.channel_regex)
            return pattern.search(rest) is not None
        return channel.isascii()

    def too_long(self, channel: str) -> bool:
        """Longer than ``channel.max_length`` bytes (CH-02: 107)."""
        if channel.isascii():
            return len(channel) > self.max_length
        return len(channel.encode()) > self.max_length

    def personal_channel(self, user: str, namespace: str) -> str:
        """``#<user>`` or ``<ns>:#<user>`` (SV-14)."""
        if not namespace:
            return f"{self._user_boundary}{user}"
        return f"{namespace}{self._ns_boundary}{self._user_boundary}{user}"
