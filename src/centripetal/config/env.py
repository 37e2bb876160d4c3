"""``CENTRIFUGO_*`` environment variables -> a v6 configuration tree (SV-02, DESIGN §6).

A variable is ``CENTRIFUGO_`` + the v6 key path upper-cased with ``.`` -> ``_``
(``CENTRIFUGO_CLIENT_TOKEN_HMAC_SECRET_KEY``). Values are parsed by the schema type as
Centrifugo's envconfig does (``config.weak.parse_text``): Go ``ParseBool`` booleans, Go
``ParseInt`` integers, Go durations (``"300s"``), lists as a JSON array or space-separated
words, objects as JSON. An empty variable is unset. Lists of named objects
(``channel.namespaces``, ``rpc.namespaces``, ``proxies``) are given as JSON, or as
space-separated names whose fields are then addressed by name::

    CENTRIFUGO_CHANNEL_NAMESPACES=smallhistory example
    CENTRIFUGO_CHANNEL_NAMESPACES_EXAMPLE_PRESENCE=true

Variables spelled after a flat v3/v4/v5 key (``CENTRIFUGO_PORT``,
``CENTRIFUGO_TOKEN_HMAC_SECRET_KEY``) map through ``config.legacy``. Anything else is
reported as unknown, except ``CENTRIFUGO_VAR_*`` (values for ``${CENTRIFUGO_VAR_*}``
references) and the service variables Kubernetes injects (``CENTRIFUGO_PORT``,
``CENTRIFUGO_SERVICE_HOST`` ...), which Centrifugo skips too; such a variable that shadows a
flat key but does not parse as one (``CENTRIFUGO_PORT=tcp://10.0.0.1:8000``) is ignored with a
warning.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from typing import Any

from msgspec import inspect as mi

from centripetal.config.legacy import SIMPLE_KEYS
from centripetal.config.tree import CONFIG_TYPE, ConfigError, leaf_paths, type_at
from centripetal.config.weak import Loose, parse_text

__all__ = ["ENV_PREFIX", "NAMED_LISTS", "env_name", "known_env_vars", "parse_env", "set_path"]

ENV_PREFIX = "CENTRIFUGO_"
CUSTOM_VAR_PREFIX = "CENTRIFUGO_VAR_"
# Centrifugo's filter for variables Kubernetes injects for a service named centrifugo.
_KUBERNETES_VAR = re.compile(r"^CENTRIFUGO(?:_[A-Z0-9_]+)?_(PORT|SERVICE_)")
NAMED_LISTS: tuple[str, ...] = ("channel.namespaces", "rpc.namespaces", "proxies")


def env_name(path: str) -> str:
    """``client.ping_interval`` -> ``CENTRIFUGO_CLIENT_PING_INTERVAL``."""
    return ENV_PREFIX + path.replace(".", "_").upper()


def _item_key(name: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in name).upper()


def _index(root: mi.StructType, prefix: str) -> dict[str, tuple[str, mi.Type]]:
    return {(prefix + path.replace(".", "_")).upper(): (path, t) for path, t in leaf_paths(root)}


_INDEX = _index(CONFIG_TYPE, "")


def known_env_vars() -> dict[str, tuple[str, mi.Type]]:
    """Every ``CENTRIFUGO_*`` variable of the schema -> (v6 path, type)."""
    return {ENV_PREFIX + name: value for name, value in sorted(_INDEX.items())}


def set_path(tree: dict[str, Any], path: str, value: object) -> None:
    """Set ``value`` at dotted ``path`` in a nested dict, creating parents."""
    parts = path.split(".")
    node = tree
    for part in parts[:-1]:
        child = node.get(part)
        if not isinstance(child, dict):
            child = {}
            node[part] = child
        node = child
    node[parts[-1]] = value


def _get_path(tree: Mapping[str, Any], path: str) -> object:
    node: object = tree
    for part in path.split("."):
        if not isinstance(node, Mapping):
            return None
        node = node.get(part)
    return node


def _parse(text: str, t: mi.Type, path: str, name: str, loose: Loose) -> object:
    try:
        return parse_text(text, t, path, loose)
    except ConfigError as exc:
        raise ConfigError(f"{exc} (from {name})") from None


def _named_list(text: str, path: str, t: mi.Type, name: str, loose: Loose) -> object:
    stripped = text.strip()
    if stripped.startswith("["):
        return _parse(stripped, t, path, name, loose)
    return [{"name": item} for item in stripped.split()]


def _address_item(
    rest: str,
    items: list[Any],
    item_type: mi.StructType,
    value: str,
    path: str,
    loose: Loose,
) -> bool:
    """Apply ``<NAME>_<FIELD>`` to the item called NAME; False when nothing matches."""
    named = [(i, it) for i, it in enumerate(items) if isinstance(it, dict) and it.get("name")]
    named.sort(key=lambda pair: -len(str(pair[1]["name"])))
    item_index = _index(item_type, "")
    for i, item in named:
        key = _item_key(str(item["name"])) + "_"
        if not rest.startswith(key):
            continue
        found = item_index.get(rest[len(key) :])
        if found is None:
            continue
        field_path, field_type = found
        item_path = f"{path}[{i}].{field_path}"
        var_name = ENV_PREFIX + path.replace(".", "_").upper() + "_" + rest
        set_path(item, field_path, _parse(value, field_type, item_path, var_name, loose))
        return True
    return False


def parse_env(
    env: Mapping[str, str],
    base: Mapping[str, Any] | None = None,
    loose: Loose | None = None,
) -> tuple[dict[str, Any], list[str]]:
    """Collect ``CENTRIFUGO_*`` variables into a v6 tree; returns (tree, warnings).

    ``base`` (the file's tree) lets name-addressed variables reach namespaces defined in the
    file. Raises ``ConfigError`` (key path, value, variable name) on a value that does not parse.
    """
    loose = loose if loose is not None else Loose(env)
    tree: dict[str, Any] = {}
    warnings: list[str] = []
    pending: list[tuple[str, str]] = []
    for name in sorted(env):
        value = env[name]
        if not name.startswith(ENV_PREFIX) or value == "":
            continue
        rest = name[len(ENV_PREFIX) :]
        found = _INDEX.get(rest)
        if found is None:
            pending.append((rest, value))
            continue
        path, t = found
        if path in NAMED_LISTS:
            set_path(tree, path, _named_list(value, path, t, name, loose))
        else:
            set_path(tree, path, _parse(value, t, path, name, loose))
    for rest, value in pending:
        name = ENV_PREFIX + rest
        if _apply_named(tree, base, rest, value, loose):
            continue
        legacy_path = SIMPLE_KEYS.get(rest.lower())
        legacy_type = type_at(legacy_path) if legacy_path else None
        if legacy_path and legacy_type is not None:
            try:
                set_path(tree, legacy_path, _parse(value, legacy_type, legacy_path, name, loose))
            except ConfigError:
                if not _KUBERNETES_VAR.match(name):
                    raise
                warnings.append(
                    f"ignored {name}={value!r}: not a value for {legacy_path}; "
                    "it looks like a variable Kubernetes sets for a service"
                )
            continue
        if name.startswith(CUSTOM_VAR_PREFIX) or _KUBERNETES_VAR.match(name):
            continue
        warnings.append(f"unknown environment variable {name}")
    return tree, warnings


def _apply_named(
    tree: dict[str, Any],
    base: Mapping[str, Any] | None,
    rest: str,
    value: str,
    loose: Loose,
) -> bool:
    for path in NAMED_LISTS:
        prefix = path.replace(".", "_").upper() + "_"
        if not rest.startswith(prefix):
            continue
        list_type = type_at(path)
        assert isinstance(list_type, mi.ListType)
        item_type = list_type.item_type
        assert isinstance(item_type, mi.StructType)
        items = _get_path(tree, path)
        if not isinstance(items, list) and base is not None:
            from_base = _get_path(base, path)
            if isinstance(from_base, list):
                items = copy.deepcopy(from_base)
                set_path(tree, path, items)
        if isinstance(items, list) and _address_item(
            rest[len(prefix) :], items, item_type, value, path, loose
        ):
            return True
    return False
