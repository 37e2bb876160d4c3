"""Renders ``docs/configuration.md``: every v6 key with its type, default and environment
variable, and the flat v3 -> v6 mapping of Appendix B (SV-02, DESIGN §6).

Regenerate with ``python -m centripetal.config.reference > docs/configuration.md``.
"""

from __future__ import annotations

import json

from centripetal.config.env import known_env_vars
from centripetal.config.legacy import CFG_ROWS, EXTRA_KEYS
from centripetal.config.loader import decode
from centripetal.config.support import SUPPORT
from centripetal.config.tree import to_plain, type_name

__all__ = ["render_reference"]


def _fate(target: str) -> str:
    if target == "-":
        return "removed (warning, ignored)"
    if target == "@-":
        return "consumed by the v3 permission conversion (CH-51)"
    if target.startswith("@"):
        return f"`channel.without_namespace.{target[1:]}` (same name inside `namespaces[]`)"
    if target.startswith("*"):
        return f"`{target[1:]}` of every proxy object"
    return f"`{target}`"


_FILE_RULES: tuple[tuple[str, str, str], ...] = (
    (
        "bool",
        "bool; number (`!= 0`); string by Go `ParseBool` (`1 t T TRUE true True`, "
        '`0 f F FALSE false False`), `""` is false',
        '`"1"` -> `true`, `0` -> `false`',
    ),
    (
        "int",
        "int; float (truncated toward zero); bool (1/0); string by Go `ParseInt` with base "
        'prefixes (`0x`, `0o`, `0b`, leading `0` octal, `_` between digits), `""` is 0',
        '`"0x10"` -> `16`, `2.9` -> `2`',
    ),
    (
        "duration",
        'Go duration string (`"25s"`, `"1m30s"`, `"1.5h"`, `"-1s"`; `"0"` is the only one '
        "without a unit); a number is nanoseconds (a warning below 1ms)",
        '`"720h"`, `25000000000` -> `25s`',
    ),
    (
        "string (PEM keys `*_pem` too)",
        'string; int in base 10; float in Go\'s shortest form; bool as `"1"`/`"0"`',
        '`8000` -> `"8000"`, `1.50` -> `"1.5"`',
    ),
    (
        "list",
        "list; any single value is a one-element list; an empty object is an empty list",
        '`"redis://h:6379"` -> `["redis://h:6379"]`',
    ),
    ("object", "object; keys match case-insensitively", '`{"Port": 9000}`'),
    (
        "map of strings (`http.static_headers`)",
        'object of strings; list of `{"key": ..., "value": ...}` objects; '
        "`${CENTRIFUGO_VAR_<NAME>}` in a value is that environment variable",
        '`[{"key": "X-A", "value": "1"}]`',
    ),
    (
        "other maps",
        "object; list of objects, merged in order; empty list is empty map",
        '`[{"a": 1}, {"b": 2}]` -> `{"a": 1, "b": 2}`',
    ),
)
_TEXT_RULES: tuple[tuple[str, str], ...] = (
    ("string", "as given"),
    ("bool", "Go `ParseBool`"),
    ("int", "Go `ParseInt` with base prefixes"),
    ("duration", "Go duration (`300s`; a bare number other than `0` is an error)"),
    ("list", "JSON array, or words separated by whitespace (each parsed by the item type)"),
    (
        "list of objects",
        "JSON array; `channel.namespaces`, `rpc.namespaces` and `proxies` also take "
        "space-separated names, then `CENTRIFUGO_CHANNEL_NAMESPACES_<NAME>_<KEY>`",
    ),
    ("object, map", "JSON object (then the file rules)"),
)


def _value_types() -> list[str]:
    """The hand-written "Value types" section (SV-02): the rules of ``config.weak``."""
    lines = [
        "## Value types",
        "",
        "Values are as loosely typed as in Centrifugo: files (and flags) go through viper with",
        "mapstructure's `WeaklyTypedInput` and Centrifugo's decode hooks, environment variables",
        "through its envconfig. The same rules apply at every key, chosen by the key's type",
        "(`centripetal/config/weak.py`).",
        "",
        "### In files (JSON, YAML, TOML)",
        "",
        "| key type | accepted | example -> value |",
        "|---|---|---|",
    ]
    lines += [f"| {kind} | {rule} | {example} |" for kind, rule, example in _FILE_RULES]
    lines += [
        "",
        "`null` leaves a key unset (its default applies); a `null` list item is the item type's",
        "zero value. YAML scalars are resolved as Go's `yaml.v3` does: only `true`, `True`,",
        "`TRUE`, `false`, `False`, `FALSE` are booleans; `yes`, `on`, `1:30` and `2024-01-01`",
        "are strings. Bare numbers for durations in a flat v3/v4/v5 file are seconds (the v2",
        "meaning, CH-24).",
        "",
        "### In environment variables and flags",
        "",
        "| key type | text |",
        "|---|---|",
    ]
    lines += [f"| {kind} | {rule} |" for kind, rule in _TEXT_RULES]
    lines += [
        "",
        "An empty environment variable is unset. `CENTRIFUGO_VAR_*` variables and the service",
        "variables Kubernetes injects (`CENTRIFUGO_PORT`, `CENTRIFUGO_SERVICE_HOST` ...) are not",
        "reported as unknown. An empty flag value is read by the file rules",
        "(`--http_server.port=` is 0).",
        "",
        "A value no rule accepts stops the start with its key path, the value and the expected",
        "type: `client.channel_limit: expected int, got 'abc'`; from a variable or a flag the",
        "source follows: `(from CENTRIFUGO_CLIENT_CHANNEL_LIMIT)`.",
        "",
    ]
    return lines


_STATUS_TEXT = {
    "honoured": "honoured",
    "noop": "accepted, no effect needed",
    "warned": "**not available**: named at startup",
    "refused": "**refused**: the server does not start",
}


def _support_section(section: str | None) -> list[str]:
    """The support table (``config.support``): what centripetal does with each key."""
    lines = [
        "",
        "## What centripetal does with each key",
        "",
        "Every key above is covered by one row (first match wins; `*` matches any part of a",
        "path, `[]` stands for every item of a list). *honoured* rows name the test that shows",
        "the key at work. A key of a *not available* row set to anything but its default is",
        "named in a startup warning and by `checkconfig` (`checkconfig --strict` fails on it);",
        "a key of a *refused* row set that way stops the server, because ignoring it would",
        "weaken security or delivery guarantees.",
        "",
        "Two values are refused as well: `broker.type` `postgres` and `redisnats`, broker types",
        "of Centrifugo v6 that centripetal does not have. Keys of the v3-v5 flat layout",
        "(`port`, `log_level`, ..., table below) are applied as their v6 equivalents, which",
        "Centrifugo v6 does not do (it ignores them as unknown keys): `checkconfig` names each",
        "one and `checkconfig --strict` fails on them.",
        "",
        "| keys | status | test / reason |",
        "|---|---|---|",
    ]
    for row in SUPPORT:
        shown = [p for p in row.patterns if _in_section(p, section)]
        if not shown:
            continue
        keys = "<br>".join(f"`{p}`" for p in shown)
        note = f"`{row.note}`" if row.status == "honoured" else row.note
        lines.append(f"| {keys} | {_STATUS_TEXT[row.status]} | {note} |")
    return lines


def _in_section(path: str, section: str | None) -> bool:
    return section is None or path == section or path.startswith((f"{section}.", f"{section}["))


def render_reference(section: str | None = None) -> str:
    """The configuration reference as Markdown; ``section`` keeps one top-level section
    (``configdoc --section``)."""
    plain = to_plain(decode({}))
    lines = [
        "# Configuration reference",
        "",
        "Generated from the typed schema by `python -m centripetal.config.reference`.",
        "Sources: file (`-c config.json`, JSON/YAML/TOML), `CENTRIFUGO_*` environment",
        "variables, command-line flags (dotted key paths); precedence flags > env > file.",
        "Durations are Go duration strings (`25s`, `1m30s`, `720h`).",
        "",
        *_value_types(),
        "## Keys (v6 layout)",
        "",
        "| key | type | default | environment variable |",
        "|---|---|---|---|",
    ]
    for env, (path, t) in sorted(known_env_vars().items(), key=lambda kv: kv[1][0]):
        if not _in_section(path, section):
            continue
        value: object = plain
        for part in path.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        lines.append(f"| `{path}` | {type_name(t)} | `{json.dumps(value)}` | `{env}` |")
    lines += _support_section(section)
    if section is not None:
        return "\n".join(lines) + "\n"
    lines += [
        "",
        "## Flat v3 keys (Appendix B) and their v6 keys",
        "",
        "| row | v3 key | v6 key / fate |",
        "|---|---|---|",
    ]
    lines += [f"| {row} | `{key}` | {_fate(target)} |" for row, key, target in CFG_ROWS]
    lines += ["", "## Other flat v4/v5 keys", "", "| v4/v5 key | v6 key |", "|---|---|"]
    lines += [f"| `{key}` | {_fate(target)} |" for key, target in sorted(EXTRA_KEYS.items())]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(render_reference(), end="")
