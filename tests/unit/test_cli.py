"""The command line (SV-15): subcommands driven through ``main([...])``."""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path

import jwt
import pytest

from centripetal import cli
from centripetal.config import schema, support
from centripetal.config.loader import decode, load_config
from centripetal.config.tree import to_plain

SECRET = "test-secret-of-at-least-thirty-two-bytes"


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    for name in list(__import__("os").environ):
        if name.startswith("CENTRIFUGO_"):
            monkeypatch.delenv(name)
    (tmp_path / "config.json").write_text(
        json.dumps({"client": {"token": {"hmac_secret_key": SECRET}}})
    )
    return tmp_path


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["version"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("centripetal v0.1.0 (Python 3.")


def test_gentoken_then_checktoken_round_trip(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["gentoken", "-u", "42"]) == 0
    header, token = capsys.readouterr().out.splitlines()
    assert header == 'HMAC SHA-256 JWT for user "42" with expiration TTL 168h0m0s:'
    claims = jwt.decode(token, SECRET, algorithms=["HS256"])
    assert claims["sub"] == "42"
    assert claims["exp"] - claims["iat"] == 604800
    assert cli.main(["checktoken", token]) == 0
    out = capsys.readouterr().out
    assert out.startswith('valid token for user "42" with expiration at ')
    assert '"sub": "42"' in out


def test_gentoken_quiet_without_expiration(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["gentoken", "-u", "7", "-t", "-1", "-q"]) == 0
    token = capsys.readouterr().out
    assert "\n" not in token
    assert "exp" not in jwt.decode(token, SECRET, algorithms=["HS256"])


def test_gentoken_without_secret_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CENTRIFUGO_CLIENT_TOKEN_HMAC_SECRET_KEY", raising=False)
    assert cli.main(["gentoken", "-u", "1"]) == 1
    assert capsys.readouterr().out == "error: no HMAC secret key set\n"


def test_checktoken_rejects_wrong_signature(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    token = jwt.encode(
        {"sub": "1"}, "another-secret-of-at-least-thirty-two-bytes", algorithm="HS256"
    )
    assert cli.main(["checktoken", token]) == 1
    out = capsys.readouterr().out
    assert out.startswith('error: token with algorithm HS256 and claims {"sub": "1"} has error')
    assert "invalid token" in out


def test_checktoken_rejects_expired(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    token = jwt.encode({"sub": "1", "exp": 1000}, SECRET, algorithm="HS256")
    assert cli.main(["checktoken", token]) == 1
    assert capsys.readouterr().out.rstrip().endswith("has error: token expired")


def test_checktoken_rejects_channel_claim(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """AU-03: a connection token with a channel claim is invalid."""
    token = jwt.encode({"sub": "1", "channel": "x"}, SECRET, algorithm="HS256")
    assert cli.main(["checktoken", token]) == 1
    assert "connection token has channel claim" in capsys.readouterr().out


def test_gensubtoken_checksubtoken(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["gensubtoken", "-u", "42", "-s", "chat:1"]) == 0
    header, token = capsys.readouterr().out.splitlines()
    assert header == (
        'HMAC SHA-256 JWT for user "42" and channel "chat:1" with expiration TTL 168h0m0s:'
    )
    assert cli.main(["checksubtoken", token]) == 0
    assert capsys.readouterr().out.startswith(
        'valid subscription token for user "42" and channel "chat:1" with expiration at '
    )


def test_gensubtoken_requires_channel(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["gensubtoken", "-u", "42"]) == 1
    assert capsys.readouterr().out == "channel is required\n"


def test_checkconfig_ok_and_strict_unknown_key(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["checkconfig"]) == 0
    assert capsys.readouterr().out == ""
    (workdir / "bad.json").write_text('{"client": {"unknown_thing": 1}}')
    assert cli.main(["checkconfig", "-c", "bad.json"]) == 0
    assert capsys.readouterr().out == (
        "warning: unknown key 'client.unknown_thing' in config file bad.json\n"
    )
    assert cli.main(["checkconfig", "-c", "bad.json", "--strict"]) == 1
    assert capsys.readouterr().out.splitlines()[-1] == (
        "error: unknown, removed, pre-v6 or unsupported keys found (strict mode)"
    )


def test_checkconfig_names_unsupported_keys_and_strict_fails(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """SV-02: a key for a feature centripetal does not have is named with the reason."""
    (workdir / "grpc.json").write_text('{"grpc_api": {"enabled": true, "port": 10001}}')
    assert cli.main(["checkconfig", "-c", "grpc.json"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "warning: grpc_api.enabled: not supported: the GRPC server API is not available "
        "(use the HTTP API)",
        "warning: grpc_api.port: not supported: used only by the GRPC server API, which is "
        "not available",
    ]
    assert cli.main(["checkconfig", "-c", "grpc.json", "--strict"]) == 1
    assert capsys.readouterr().out.splitlines()[-1] == (
        "error: unknown, removed, pre-v6 or unsupported keys found (strict mode)"
    )


def test_checkconfig_names_pre_v6_keys_and_strict_fails(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """MG-04, SV-15: flat v3-v5 keys are applied, but checkconfig names each one (Centrifugo v6
    ignores them, and its --strict fails on them)."""
    (workdir / "flat.json").write_text(
        '{"port": 9000, "log_level": "debug", "client": {"allowed_origins": ["*"]}}'
    )
    assert cli.main(["checkconfig", "-c", "flat.json"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        f"warning: {key}: a Centrifugo v3-v5 key, applied as its v6 equivalent "
        "(Centrifugo v6 ignores it)"
        for key in ("port", "log_level")
    ]
    assert cli.main(["checkconfig", "-c", "flat.json", "--strict"]) == 1
    assert capsys.readouterr().out.splitlines()[-1] == (
        "error: unknown, removed, pre-v6 or unsupported keys found (strict mode)"
    )


@pytest.mark.parametrize(
    ("kind", "reason"),
    [
        ("postgres", "the PostgreSQL broker is not available"),
        ("redisnats", "the redisnats broker (Redis history with NATS PUB/SUB) is not available"),
    ],
)
def test_broker_types_of_centrifugo_that_are_not_here_are_refused(
    workdir: Path, capsys: pytest.CaptureFixture[str], kind: str, reason: str
) -> None:
    """EN-01, SV-02: Centrifugo v6's other broker types are refused by checkconfig as at
    start, with the reason."""
    (workdir / "b.json").write_text(json.dumps({"broker": {"enabled": True, "type": kind}}))
    assert cli.main(["checkconfig", "-c", "b.json"]) == 1
    assert capsys.readouterr().out == (
        f"error: broker.type: refused: {reason}; use 'redis' or 'nats'\n"
    )


def test_checkconfig_refuses_what_would_weaken_guarantees(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """SV-02: ignoring NATS raw mode would lose publications: refused, not warned."""
    (workdir / "raw.json").write_text('{"broker": {"nats": {"raw_mode": {"enabled": true}}}}')
    assert cli.main(["checkconfig", "-c", "raw.json"]) == 1
    assert capsys.readouterr().out == (
        "error: broker.nats.raw_mode.enabled: refused: NATS raw mode is not available; "
        "publications would not reach raw subjects\n"
    )


@pytest.mark.parametrize("ext", ["json", "yaml", "toml"])
def test_defaultconfig_round_trips_through_strict_checkconfig(
    ext: str, workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["defaultconfig", "-c", f"full.{ext}"]) == 0
    assert cli.main(["checkconfig", "-c", f"full.{ext}", "--strict"]) == 0
    assert capsys.readouterr().out == ""


def test_defaultenv_round_trips_without_warnings(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Every printed variable, read back as the environment, decodes to the defaults."""
    assert cli.main(["defaultenv"]) == 0
    env = dict(parse_env_line(line) for line in capsys.readouterr().out.splitlines())
    assert len(env) > 400
    loaded = load_config(None, env, {})
    assert loaded.warnings == []
    assert support.check(loaded.config) == []
    (workdir / "config.json").unlink()
    assert to_plain(load_config(None, env, {}).config) == to_plain(decode({}))


def test_checkconfig_invalid_value(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (workdir / "bad.json").write_text('{"log": {"level": "loud"}}')
    assert cli.main(["checkconfig", "-c", "bad.json"]) == 1
    assert capsys.readouterr().out.startswith("error: log.level: unknown log level 'loud'")


@pytest.mark.parametrize("name", ["gen.json", "gen.yaml", "gen.toml"])
def test_genconfig_writes_secrets_and_refuses_overwrite(
    workdir: Path, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    assert cli.main(["genconfig", "-c", name]) == 0
    from centripetal.config import load_config

    config = load_config(name, {}, {}).config
    assert len(config.client.token.hmac_secret_key) == 36
    assert len(config.http_api.key) == 36
    assert config.admin["password"] and config.admin["secret"]
    assert config.client.allowed_origins == []
    before = (workdir / name).read_text()
    assert cli.main(["genconfig", "-c", name]) == 1
    assert capsys.readouterr().out == f"error: {name}: file already exists\n"
    assert (workdir / name).read_text() == before


def test_defaultenv_lists_variables(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["defaultenv"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "CENTRIFUGO_CLIENT_PING_INTERVAL=25s" in lines
    assert "CENTRIFUGO_HTTP_SERVER_PORT=8000" in lines
    assert 'CENTRIFUGO_CLIENT_TOKEN_HMAC_SECRET_KEY=""' in lines
    assert "CENTRIFUGO_CHANNEL_HISTORY_META_TTL=720h0m0s" in lines
    assert lines == sorted(lines)


def test_defaultenv_base_non_zero_only(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["defaultenv", "--base", "config.json", "--base-non-zero-only"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert f'CENTRIFUGO_CLIENT_TOKEN_HMAC_SECRET_KEY="{SECRET}"' in lines
    assert not any(line.startswith("CENTRIFUGO_CLIENT_INSECURE=") for line in lines)


def test_defaultconfig_dry_run_and_write(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["defaultconfig", "-c", "full.json", "--dry-run"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["client"]["ping_interval"] == "25s"
    assert data["http_server"]["port"] == 8000
    assert not (workdir / "full.json").exists()
    assert cli.main(["defaultconfig", "-c", "full.json"]) == 0
    assert json.loads((workdir / "full.json").read_text()) == data
    assert cli.main(["defaultconfig", "-c", "full.json"]) == 1


def _fake_server(monkeypatch: pytest.MonkeyPatch, seen: list[schema.Config]) -> None:
    module = types.ModuleType("centripetal.server")

    def run(config: schema.Config) -> int:
        seen.append(config)
        return 3

    module.run = run  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "centripetal.server", module)
    import centripetal

    monkeypatch.setattr(centripetal, "server", module, raising=False)


def test_root_runs_server_with_flags(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[schema.Config] = []
    _fake_server(monkeypatch, seen)
    monkeypatch.setenv("CENTRIFUGO_HTTP_SERVER_PORT", "5000")
    code = cli.main(
        ["-p", "9000", "--client.insecure", "--admin.enabled=false", "--engine", "redis"]
    )
    assert code == 3
    (config,) = seen
    assert config.http_server.port == 9000
    assert config.client.insecure is True
    assert config.admin["enabled"] is False
    assert config.engine.type == "redis"
    assert config.client.token.hmac_secret_key == SECRET


def test_root_v3_flags_and_v6_wins(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[schema.Config] = []
    _fake_server(monkeypatch, seen)
    assert cli.main(["--port", "1", "--http_server.port", "2", "--log_level", "debug"]) == 3
    assert (seen[0].http_server.port, seen[0].log.level) == (2, "debug")


def test_root_invalid_config_exits_1(
    workdir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    seen: list[schema.Config] = []
    _fake_server(monkeypatch, seen)
    assert cli.main(["--log.level", "loud"]) == 1
    assert seen == []
    assert capsys.readouterr().out.startswith("error: log.level: unknown log level 'loud'")


def parse_env_line(line: str) -> tuple[str, str]:
    """``NAME="value"`` as a dotenv reader takes it: outer quotes off, ``\\"`` unescaped."""
    name, _, value = line.partition("=")
    if len(value) >= 2 and value[0] == value[-1] == '"':
        value = value[1:-1].replace('\\"', '"')
    return name, value
