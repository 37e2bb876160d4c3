"""``--workers N`` pieces that need no process: the count (flag, ``CENTRIPETAL_WORKERS``,
``auto``), the restart back-off, the engine refusal and per-worker warnings, worker node names
(EN-11), the parent's port check (SV-01) and the CLI's choice between one process and a
supervisor (SV-15). See docs/scaling.md."""

from __future__ import annotations

import json
import os
import signal
import socket
import sys
import types
from pathlib import Path

import pytest

from centripetal import cli, workers
from centripetal.config import schema
from centripetal.config.loader import decode
from centripetal.config.tree import ConfigError
from centripetal.workers.backoff import RestartBackoff
from centripetal.workers.checks import engine_kinds, refusal, startup_warnings
from centripetal.workers.child import worker_config, worker_name
from centripetal.workers.count import WORKERS_ENV, usable_cpus, worker_count
from centripetal.workers.ports import ListenError, probe
from centripetal.workers.supervisor import describe_status

# -- the count -----------------------------------------------------------------------------


def test_default_is_one_worker() -> None:
    assert worker_count(None, {}) == 1
    assert worker_count(None, {WORKERS_ENV: ""}) == 1
    assert worker_count(None, {WORKERS_ENV: "  "}) == 1


def test_flag_and_env_numbers() -> None:
    assert worker_count("3", {}) == 3
    assert worker_count(None, {WORKERS_ENV: "4"}) == 4
    assert worker_count(" 2 ", {}) == 2


def test_flag_wins_over_env() -> None:
    assert worker_count("1", {WORKERS_ENV: "4"}) == 1
    assert worker_count("2", {WORKERS_ENV: "bogus"}) == 2


def test_auto_is_the_usable_cpu_count() -> None:
    expected = len(os.sched_getaffinity(0))
    assert usable_cpus() == expected
    assert worker_count("auto", {}) == expected
    assert worker_count(None, {WORKERS_ENV: "AUTO"}) == expected


def test_auto_follows_the_affinity_mask(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 3, 5}, raising=False)
    assert worker_count("auto", {}) == 3


@pytest.mark.parametrize(
    ("flag", "env", "message"),
    [
        ("0", "", "--workers: invalid value '0': expected a positive integer or 'auto'"),
        ("-2", "", "--workers: invalid value '-2': expected a positive integer or 'auto'"),
        ("two", "", "--workers: invalid value 'two': expected a positive integer or 'auto'"),
        ("", "", "--workers: invalid value '': expected a positive integer or 'auto'"),
        (None, "1.5", "CENTRIPETAL_WORKERS: invalid value '1.5': expected a positive integer"),
        (None, "0", "CENTRIPETAL_WORKERS: invalid value '0': expected a positive integer"),
    ],
)
def test_invalid_counts_name_the_source(flag: str | None, env: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        worker_count(flag, {WORKERS_ENV: env} if env else {})
    assert str(info.value).startswith(message)


# -- restart back-off ------------------------------------------------------------------------


def test_backoff_restarts_at_once_then_doubles_to_the_cap() -> None:
    backoff = RestartBackoff(first=0.5, maximum=4.0, stable_after=10.0)
    delays = [backoff.delay_after(0.2) for _ in range(7)]
    assert delays == [0.0, 0.5, 1.0, 2.0, 4.0, 4.0, 4.0]


def test_backoff_resets_after_a_stable_run() -> None:
    backoff = RestartBackoff(first=0.5, maximum=30.0, stable_after=10.0)
    assert [backoff.delay_after(1.0) for _ in range(3)] == [0.0, 0.5, 1.0]
    assert backoff.delay_after(10.0) == 0.0  # ran long enough: a fresh streak
    assert backoff.delay_after(9.9) == 0.5


def test_backoff_defaults() -> None:
    backoff = RestartBackoff()
    delays = [backoff.delay_after(0.0) for _ in range(10)]
    assert delays == [0.0, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0, 30.0]


# -- engine refusal and warnings ----------------------------------------------------------------


def config(data: dict[str, object]) -> schema.Config:
    return decode(data)


REDIS = {"engine": {"type": "redis"}}
NATS = {"broker": {"enabled": True, "type": "nats"}}
NATS_REDIS_PRESENCE = {**NATS, "presence_manager": {"enabled": True, "type": "redis"}}


def test_engine_kinds_follow_engine_broker_and_presence_sections() -> None:
    assert engine_kinds(config({})) == ("memory", "memory")
    assert engine_kinds(config(REDIS)) == ("redis", "redis")
    assert engine_kinds(config(NATS)) == ("nats", "memory")
    assert engine_kinds(config(NATS_REDIS_PRESENCE)) == ("nats", "redis")
    redis_with_nats = {**REDIS, "broker": {"enabled": True, "type": "nats"}}
    assert engine_kinds(config(redis_with_nats)) == ("nats", "redis")
    memory_broker = {**REDIS, "broker": {"enabled": True, "type": "memory"}}
    assert engine_kinds(config(memory_broker)) == ("memory", "redis")


def test_memory_engine_is_refused_with_more_than_one_worker() -> None:
    assert refusal(config({}), 1) is None
    message = refusal(config({}), 2)
    assert message is not None
    assert message.startswith("2 workers need an engine shared between processes")
    assert "engine.type redis" in message and "broker.type nats" in message
    memory_broker = {**REDIS, "broker": {"enabled": True, "type": "memory"}}
    assert refusal(config(memory_broker), 3) is not None


def test_shared_engines_are_accepted() -> None:
    for data in (REDIS, NATS, NATS_REDIS_PRESENCE):
        assert refusal(config(data), 8) is None


def test_no_warnings_for_a_shared_engine_without_per_node_settings() -> None:
    assert startup_warnings(config(REDIS), 2) == []
    assert startup_warnings(config(NATS_REDIS_PRESENCE), 2) == []


def test_memory_presence_with_nats_is_warned() -> None:
    (warning,) = startup_warnings(config(NATS), 2)
    assert warning.startswith("presence_manager: presence is kept in memory, per worker")
    assert "presence_manager.type redis" in warning


def test_per_node_limits_and_metrics_are_warned() -> None:
    data = {
        **REDIS,
        "client": {"connection_limit": 100, "user_connection_limit": 2},
        "prometheus": {"enabled": True},
    }
    found = startup_warnings(config(data), 4)
    assert found == [
        "client.connection_limit: 100 is counted per node, and each of the 4 workers is a "
        "node: this server admits up to 400",
        "client.user_connection_limit: 2 is counted per node, and each of the 4 workers is a "
        "node: this server admits up to 8",
        "prometheus.enabled: each of the 4 workers is a node with its own metrics; a scrape "
        "is answered by the worker that accepts it",
    ]


# -- worker configuration (EN-11) -------------------------------------------------------------


def test_default_node_names_get_the_worker_number() -> None:
    host = socket.gethostname()
    cfg = config(REDIS)
    assert [worker_name(cfg, i, 8000) for i in (1, 2)] == [f"{host}_8000_1", f"{host}_8000_2"]


def test_configured_node_name_gets_the_worker_number() -> None:
    cfg = config({**REDIS, "node": {"name": "edge"}})
    assert worker_name(cfg, 3, 8000) == "edge_3"


def test_worker_config_has_name_port_and_no_pid_file() -> None:
    cfg = config({**REDIS, "pid_file": "/run/c.pid", "http_server": {"port": 0}})
    mine = worker_config(cfg, 2, 41234)
    assert mine.node.name == f"{socket.gethostname()}_41234_2"
    assert mine.http_server.port == 41234
    assert mine.pid_file == ""
    assert mine.engine.type == "redis"
    assert (cfg.pid_file, cfg.http_server.port, cfg.node.name) == ("/run/c.pid", 0, "")


# -- the parent's port check (SV-01) ----------------------------------------------------------


def test_probe_resolves_port_zero_and_releases_it() -> None:
    port = probe("127.0.0.1", 0)
    assert port > 0
    with socket.socket() as sock:  # released: a plain bind succeeds
        sock.bind(("127.0.0.1", port))


def test_probe_refuses_a_port_in_use() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(ListenError) as info:
            probe("127.0.0.1", port)
    assert str(info.value) == f"cannot listen on 127.0.0.1:{port}: Address already in use"


def test_probe_refuses_a_port_shared_with_reuseport() -> None:
    """Workers bind with SO_REUSEPORT; the probe does not, so it cannot join sockets that
    another process left listening with SO_REUSEPORT."""
    with socket.socket() as busy:
        busy.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        with pytest.raises(ListenError):
            probe("127.0.0.1", busy.getsockname()[1])


def test_describe_status() -> None:
    assert describe_status(0) == "exited with code 0"
    assert describe_status(3 << 8) == "exited with code 3"
    assert describe_status(signal.SIGKILL) == "was killed by SIGKILL"


# -- the CLI (SV-15) --------------------------------------------------------------------------


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.startswith("CENTRIFUGO_") or name == WORKERS_ENV:
            monkeypatch.delenv(name)
    (tmp_path / "config.json").write_text(json.dumps({"client": {"insecure": True}}))
    return tmp_path


Calls = list[tuple[str, schema.Config, int]]


@pytest.fixture
def launched(monkeypatch: pytest.MonkeyPatch) -> Calls:
    """Record what the CLI starts: ("server", config, 1) or ("workers", config, count)."""
    calls: Calls = []
    module = types.ModuleType("centripetal.server")

    def run(cfg: schema.Config) -> int:
        calls.append(("server", cfg, 1))
        return 3

    module.run = run  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "centripetal.server", module)
    import centripetal

    monkeypatch.setattr(centripetal, "server", module, raising=False)

    def run_workers(cfg: schema.Config, count: int) -> int:
        calls.append(("workers", cfg, count))
        return 4

    monkeypatch.setattr(workers, "run_workers", run_workers)
    return calls


def test_cli_default_runs_the_single_process_server(workdir: Path, launched: Calls) -> None:
    assert cli.main([]) == 3
    assert [(kind, n) for kind, _, n in launched] == [("server", 1)]


def test_cli_one_worker_is_the_single_process_server(
    workdir: Path, launched: Calls, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(WORKERS_ENV, "2")
    assert cli.main(["--workers", "1", "--engine", "redis"]) == 3
    assert [(kind, n) for kind, _, n in launched] == [("server", 1)]


def test_cli_workers_flag_starts_the_supervisor(workdir: Path, launched: Calls) -> None:
    assert cli.main(["--workers", "2", "--engine", "redis", "-p", "9100"]) == 4
    ((kind, cfg, count),) = launched
    assert (kind, count, cfg.engine.type, cfg.http_server.port) == ("workers", 2, "redis", 9100)


def test_cli_workers_env(workdir: Path, launched: Calls, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(WORKERS_ENV, "3")
    monkeypatch.setenv("CENTRIFUGO_ENGINE_TYPE", "redis")
    assert cli.main([]) == 4
    assert [(kind, n) for kind, _, n in launched] == [("workers", 3)]


def test_cli_refuses_memory_engine_with_workers(
    workdir: Path, launched: Calls, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["--workers", "2"]) == 1
    assert launched == []
    out = capsys.readouterr().out
    assert out.startswith("error: 2 workers need an engine shared between processes")
    assert "use the Redis engine (engine.type redis) or the NATS broker" in out


def test_cli_invalid_workers_value_exits_1(
    workdir: Path, launched: Calls, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["--workers", "many"]) == 1
    assert launched == []
    assert capsys.readouterr().out == (
        "error: --workers: invalid value 'many': expected a positive integer or 'auto'\n"
    )


def test_node_default_name_is_host_port_en11() -> None:
    """EN-11: one process (no workers) keeps Centrifugo's default ``<hostname>_<port>``; a
    worker's name is that with ``_<n>``, a configured ``node.name`` is kept as it is."""
    from centripetal.node import Node

    cfg = config({"http_server": {"port": 8123}})
    assert Node(cfg).name == f"{socket.gethostname()}_8123"
    assert Node(worker_config(cfg, 2, 8123)).name == f"{socket.gethostname()}_8123_2"
    assert Node(config({"node": {"name": "edge"}})).name == "edge"
