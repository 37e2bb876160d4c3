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
        "Durations are Go-style strings (`25s`, `1m30s`, `720h`); numbers mean seconds.",
        "Lists in environment variables are JSON arrays or space-separated words; named",
        "lists (`channel.namespaces`, `rpc.namespaces`, `proxies`) may be given as",
        "space-separated names and addressed as `CENTRIFUGO_CHANNEL_NAMESPACES_<NAME>_<KEY>`.",
        "",
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
