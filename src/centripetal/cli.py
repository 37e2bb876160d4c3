"""The command line, as Centrifugo's (SV-15).

``centripetal [-c config.json] [flags]`` runs the server; subcommands: ``version``,
``genconfig``, ``checkconfig``, ``defaultconfig``, ``defaultenv``, ``configdoc``, ``serve``,
``gentoken``, ``gensubtoken``, ``checktoken``, ``checksubtoken``. Flags are dotted v6 key paths
(``--http_server.port``); the v3 spellings (``--port``, ``--engine``, ``--log_level`` ...)
keep working. Precedence: flags > ``CENTRIFUGO_*`` environment > file.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

import msgspec
import tomli_w
import yaml

from centripetal import cli_tokens
from centripetal.config import schema, support
from centripetal.config.env import known_env_vars
from centripetal.config.legacy import SIMPLE_KEYS
from centripetal.config.loader import DEFAULT_CONFIG_FILE, LoadedConfig, decode, load_config
from centripetal.config.tree import ConfigError, to_plain, type_at
from centripetal.version import __version__

__all__ = ["build_parser", "main"]

# Root flags: v6 paths (SV-15) and the v3 spellings that map to them (Appendix B).
ROOT_FLAGS: tuple[str, ...] = (
    "pid_file", "http_server.address", "http_server.port", "http_server.internal_address",
    "http_server.internal_port", "engine.type", "broker.enabled", "broker.type",
    "presence_manager.enabled", "presence_manager.type", "log.level", "log.file",
    "debug.enabled", "admin.enabled", "admin.external", "admin.insecure", "prometheus.enabled",
    "swagger.enabled", "health.enabled", "uni_websocket.enabled", "uni_sse.enabled",
    "uni_http_stream.enabled", "sse.enabled", "http_stream.enabled", "init.enabled",
    "client.insecure", "http_api.insecure", "http_api.external", "grpc_api.enabled",
    "grpc_api.port", "uni_grpc.enabled", "uni_grpc.port",
)  # fmt: skip
SHORT_FLAGS = {"http_server.address": "-a", "http_server.port": "-p"}
V3_FLAGS: tuple[str, ...] = (
    "port", "address", "internal_port", "internal_address", "engine", "broker", "log_level",
    "log_file", "client_insecure", "api_insecure", "api_external", "health", "prometheus",
    "admin", "admin_insecure", "admin_external", "debug", "swagger", "name", "redis_address",
    "redis_prefix", "redis_password", "redis_db", "nats_url", "grpc_api", "grpc_api_port",
    "uni_grpc", "uni_grpc_port", "uni_websocket", "uni_sse", "uni_http_stream",
    "tls", "tls_cert", "tls_key",
)  # fmt: skip
GENERATED_EXTENSIONS = (".json", ".yaml", ".yml", ".toml")


# argparse dest -> (v6 path, priority); v6 spellings (1) override v3 ones (0).
_FLAG_DESTS: dict[str, tuple[str, int]] = {}


def _add_config_flag(parser: argparse.ArgumentParser, default: str | None = None) -> None:
    parser.add_argument(
        "-c",
        "--config",
        default=default,
        help=f"path to the config file (JSON, YAML or TOML; default {DEFAULT_CONFIG_FILE})",
    )


def _add_root_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("configuration flags (dotted v6 key paths)")
    for path in ROOT_FLAGS:
        names = [f"--{path}"] + ([SHORT_FLAGS[path]] if path in SHORT_FLAGS else [])
        _add_flag(group, names, f"flag__{path}", path, 1, f"set {path}")
    legacy = parser.add_argument_group("v3 flag spellings")
    for name in V3_FLAGS:
        target = SIMPLE_KEYS.get(name, "broker.type" if name == "broker" else name)
        _add_flag(legacy, [f"--{name}"], f"flag_v3__{name}", target, 0, f"same as --{target}")


def _add_flag(
    group: Any, names: list[str], dest: str, path: str, priority: int, help_text: str
) -> None:
    t = type_at(path)
    is_bool = isinstance(t, msgspec.inspect.BoolType)
    _FLAG_DESTS[dest] = (path, priority)
    group.add_argument(
        *names,
        dest=dest,
        metavar="BOOL" if is_bool else "VALUE",
        nargs="?" if is_bool else None,
        const="true" if is_bool else None,
        default=argparse.SUPPRESS,
        help=help_text,
    )


def build_parser() -> argparse.ArgumentParser:
    """The argparse parser for ``centripetal`` and its subcommands."""
    parser = argparse.ArgumentParser(
        prog="centripetal",
        description="Centrifugo-compatible real-time messaging server.",
    )
    _add_config_flag(parser)
    parser.add_argument(
        "--workers",
        default=None,
        metavar="N",
        help="worker processes serving the same port, each a node of the Redis or NATS "
        "engine: a number or 'auto' (one per CPU); env CENTRIPETAL_WORKERS; default 1 "
        "(see docs/scaling.md)",
    )
    _add_root_flags(parser)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.add_parser("version", help="print the version")
    p = sub.add_parser("genconfig", help="generate a minimal config file with secrets")
    _add_config_flag(p, DEFAULT_CONFIG_FILE)
    p = sub.add_parser("checkconfig", help="check the configuration (exit 1 on error)")
    _add_config_flag(p, DEFAULT_CONFIG_FILE)
    p.add_argument("--strict", action="store_true", help="fail on unknown or unsupported keys too")
    p = sub.add_parser("defaultconfig", help="write the full configuration with defaults")
    _add_config_flag(p, DEFAULT_CONFIG_FILE)
    p.add_argument("-b", "--base", default="", help="base config file to start from")
    p.add_argument("-d", "--dry-run", action="store_true", help="print instead of writing")
    p = sub.add_parser("defaultenv", help="print every CENTRIFUGO_* variable with its default")
    p.add_argument("-b", "--base", default="", help="base config file to start from")
    p.add_argument(
        "--base-non-zero-only",
        action="store_true",
        help="print only variables whose value is not zero",
    )
    p = sub.add_parser("configdoc", help="show every configuration option (HTML on :6060)")
    p.add_argument("--markdown", action="store_true", help="print Markdown to stdout instead")
    p.add_argument("--section", default="", help="only this top-level section (e.g. client)")
    p.add_argument("-a", "--address", default="127.0.0.1", help="interface to serve on")
    p.add_argument("-p", "--port", type=int, default=6060, help="port to serve on")
    p = sub.add_parser("serve", help="run a static file server (for development only)")
    p.add_argument("-d", "--dir", default="./", help="path to directory")
    p.add_argument("-p", "--port", type=int, default=3000, help="port to serve on")
    p.add_argument(
        "-a", "--address", default="", help="interface to serve on (default: all interfaces)"
    )
    for name, subscription in (("gentoken", False), ("gensubtoken", True)):
        kind = "subscription" if subscription else "connection"
        p = sub.add_parser(name, help=f"generate an HS256 {kind} JWT")
        _add_config_flag(p)
        p.add_argument("-u", "--user", default="", help="user ID (sub claim)")
        if subscription:
            p.add_argument("-s", "--channel", default="", help="channel (channel claim)")
        p.add_argument(
            "-t", "--ttl", type=int, default=604800, help="TTL in seconds, -1 for no expiration"
        )
        p.add_argument("-q", "--quiet", action="store_true", help="print only the token")
    for name, subscription in (("checktoken", False), ("checksubtoken", True)):
        kind = "subscription" if subscription else "connection"
        p = sub.add_parser(name, help=f"verify a {kind} JWT with the configured keys")
        _add_config_flag(p)
        p.add_argument("token", nargs="?", default=None, help="the JWT to check")
    return parser


def _flags(ns: argparse.Namespace) -> dict[str, object]:
    """Collected root flags as {v6 path: text}; v6 spellings win over v3 ones."""
    found: dict[str, object] = {}
    given = [(dest, value) for dest, value in vars(ns).items() if dest in _FLAG_DESTS]
    for dest, value in sorted(given, key=lambda item: _FLAG_DESTS[item[0]][1]):
        path = _FLAG_DESTS[dest][0]
        found[path] = value
        if dest == "flag_v3__broker":
            found.setdefault("broker.enabled", "true")
    return found


def _load(path: str | None, flags: Mapping[str, object] | None = None) -> LoadedConfig:
    return load_config(path, os.environ, flags or {})


def _fail(message: str) -> int:
    print(f"error: {message}")
    return 1


def _dump(data: dict[str, Any], path: str) -> str:
    ext = os.path.splitext(path)[1].lower()
    if ext in (".yaml", ".yml"):
        return str(yaml.safe_dump(data, sort_keys=False))
    if ext == ".toml":
        return tomli_w.dumps(data)
    return json.dumps(data, indent=2) + "\n"


def _write_new(path: str, text: str) -> None:
    if os.path.splitext(path)[1].lower() not in GENERATED_EXTENSIONS:
        raise ConfigError(f"{path}: unsupported config file extension")
    if os.path.exists(path):
        raise ConfigError(f"{path}: file already exists")
    with open(path, "x", encoding="utf-8") as fh:
        fh.write(text)


def cmd_genconfig(path: str) -> int:
    """Write a minimal config with generated secrets; never overwrite (SV-15)."""
    data: dict[str, Any] = {
        "client": {"token": {"hmac_secret_key": str(uuid.uuid4())}, "allowed_origins": []},
        "admin": {"enabled": False, "password": str(uuid.uuid4()), "secret": str(uuid.uuid4())},
        "http_api": {"key": str(uuid.uuid4())},
    }
    try:
        _write_new(path, _dump(data, path))
        _load(path)
    except ConfigError as exc:
        return _fail(str(exc))
    return 0


def cmd_checkconfig(path: str, strict: bool) -> int:
    """Load and validate; then build every TLS context the config asks for, so unreadable
    keys, bad PEM and unsupported TLS settings are reported too (SV-01, SV-15), and name
    every key set that centripetal does not do (``config.support``) and every key read in the
    v3-v5 flat layout (MG-04: applied here, ignored by Centrifugo v6); ``--strict`` fails on
    any warning."""
    from centripetal import tls  # lazily: ssl and the engines' address rules

    try:
        loaded = _load(path)
        tls.check_config(loaded.config)
        unsupported = support.check(loaded.config)
    except ConfigError as exc:
        return _fail(str(exc))
    legacy = [
        f"{key}: a Centrifugo v3-v5 key, applied as its v6 equivalent (Centrifugo v6 ignores it)"
        for key in loaded.legacy_keys
    ]
    for warning in loaded.warnings + legacy + unsupported:
        print(f"warning: {warning}")
    if strict and (loaded.warnings or legacy or unsupported):
        return _fail("unknown, removed, pre-v6 or unsupported keys found (strict mode)")
    return 0


def _base_config(base: str) -> schema.Config:
    return _load(base).config if base else decode({})


def cmd_defaultconfig(path: str, base: str, dry_run: bool) -> int:
    try:
        data = to_plain(_base_config(base))
        text = _dump(data, path if not dry_run else path or DEFAULT_CONFIG_FILE)
        if dry_run:
            print(text, end="")
        else:
            _write_new(path, text)
    except ConfigError as exc:
        return _fail(str(exc))
    return 0


def _env_value(value: object, t: msgspec.inspect.Type | None) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value if isinstance(t, msgspec.inspect.FloatType) else f'"{value}"'
    if isinstance(value, list):
        item = getattr(t, "item_type", None)
        if isinstance(item, msgspec.inspect.StructType | msgspec.inspect.DictType):
            return '"' + json.dumps(value).replace('"', '\\"') + '"'
        return " ".join(_env_value(v, item).strip('"') for v in value) if value else '""'
    if isinstance(value, dict):
        return '"' + json.dumps(value).replace('"', '\\"') + '"'
    return str(value)


def cmd_defaultenv(base: str, non_zero_only: bool) -> int:
    try:
        plain = to_plain(_base_config(base))
    except ConfigError as exc:
        return _fail(str(exc))
    for name, (path, t) in known_env_vars().items():
        value: Any = plain
        for part in path.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        if non_zero_only and value in (None, False, 0, "", "0s", [], {}):
            continue
        print(f"{name}={_env_value(value, t)}")
    return 0


def cmd_configdoc(ns: argparse.Namespace) -> int:
    """The configuration reference with the support table (SV-15)."""
    from centripetal import devserver
    from centripetal.config.reference import render_reference

    section = ns.section or None
    if section is not None and type_at(section) is None:
        return _fail(f"unknown section {section!r}")
    markdown = render_reference(section)
    if ns.markdown:
        print(markdown, end="")
        return 0
    page = devserver.markdown_to_html(markdown, "centripetal configuration")
    print(f"configuration documentation on http://{ns.address or 'localhost'}:{ns.port}")
    devserver.run_app(devserver.text_app(page), ns.address, ns.port)
    return 0


def cmd_serve(ns: argparse.Namespace) -> int:
    """Static files for local development (SV-15), as ``centrifugo serve``."""
    from centripetal import devserver

    if not os.path.isdir(ns.dir):
        return _fail(f"{ns.dir}: not a directory")
    print(f"start serving {ns.dir} on {ns.address}:{ns.port}")
    devserver.run_app(devserver.static_app(ns.dir), ns.address, ns.port)
    return 0


def cmd_gentoken(ns: argparse.Namespace, subscription: bool) -> int:
    try:
        config = _load(ns.config).config
    except ConfigError as exc:
        return _fail(str(exc))
    channel = getattr(ns, "channel", None)
    if subscription and not channel:
        print("channel is required")
        return 1
    try:
        token = cli_tokens.generate_token(
            cli_tokens.token_config(config, subscription), ns.user, ns.ttl, channel
        )
    except cli_tokens.TokenError as exc:
        return _fail(str(exc))
    if ns.quiet:
        sys.stdout.write(token)
        return 0
    user = f'user "{ns.user}"' if ns.user else "anonymous user"
    target = f' and channel "{channel}"' if subscription else ""
    print(f"HMAC SHA-256 JWT for {user}{target} {cli_tokens.describe_ttl(ns.ttl)}:\n{token}")
    return 0


def cmd_checktoken(ns: argparse.Namespace, subscription: bool) -> int:
    command = "checksubtoken" if subscription else "checktoken"
    try:
        config = _load(ns.config).config
    except ConfigError as exc:
        return _fail(str(exc))
    if not ns.token:
        return _fail(f"provide token to check [centripetal {command} <TOKEN>]")
    try:
        claims, expiry = cli_tokens.check_token(
            cli_tokens.token_config(config, subscription), ns.token, subscription
        )
    except cli_tokens.TokenError as exc:
        return _fail(str(exc))
    sub = str(claims.get("sub", ""))
    user = f'user "{sub}"' if sub else "anonymous user"
    kind = "subscription token" if subscription else "token"
    target = f' and channel "{claims["channel"]}"' if subscription else ""
    print(f"valid {kind} for {user}{target} {expiry}\npayload: {json.dumps(claims)}")
    return 0


def cmd_run(ns: argparse.Namespace) -> int:
    """Root command: load the configuration and run the server: one process, or ``--workers``
    supervised processes sharing the port (docs/scaling.md)."""
    from centripetal import workers  # the count parser; the supervisor loads lazily

    try:
        loaded = _load(ns.config, _flags(ns))
        count = workers.worker_count(ns.workers, os.environ)
    except ConfigError as exc:
        return _fail(str(exc))
    for warning in loaded.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    if count > 1:
        problem = workers.refusal(loaded.config, count)
        if problem is not None:
            return _fail(problem)
        return workers.run_workers(loaded.config, count)
    from centripetal import server  # lazily: keeps subcommands light

    return int(server.run(loaded.config))


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``centripetal`` and ``python -m centripetal``; returns the exit code."""
    ns = build_parser().parse_args(list(argv) if argv is not None else None)
    command = ns.command
    if command == "version":
        print(f"centripetal v{__version__} (Python {platform.python_version()})")
        return 0
    if command == "genconfig":
        return cmd_genconfig(ns.config)
    if command == "checkconfig":
        return cmd_checkconfig(ns.config, ns.strict)
    if command == "defaultconfig":
        return cmd_defaultconfig(ns.config, ns.base, ns.dry_run)
    if command == "defaultenv":
        return cmd_defaultenv(ns.base, ns.base_non_zero_only)
    if command == "configdoc":
        return cmd_configdoc(ns)
    if command == "serve":
        return cmd_serve(ns)
    if command in ("gentoken", "gensubtoken"):
        return cmd_gentoken(ns, command == "gensubtoken")
    if command in ("checktoken", "checksubtoken"):
        return cmd_checktoken(ns, command == "checksubtoken")
    return cmd_run(ns)
