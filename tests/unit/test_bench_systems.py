"""The benchmark's systems without Go: the Centrifugo build and its reasons, the Centrifugo
launch (a stand-in binary), worker-process discovery (benchmark design §8.1 (d), item 2).

A fake ``go`` (a shell script) plays the toolchain, so these tests run on machines with no Go;
what they pin down is the contract: ``go install MODULE@v6.9.1`` with ``GOBIN`` in the cache
and ``GOTOOLCHAIN=local``, reuse of a stamped binary, and a stated reason whenever Centrifugo
cannot run.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import centrifugo_build, procfs, systems  # noqa: E402
from bench.modes import MODES  # noqa: E402

FAKE_GO = """#!/bin/sh
case "$1" in
  env) echo "$FAKE_GO_VERSION" ;;
  install)
    { echo "ARGS $*"; echo "GOBIN=$GOBIN"; echo "GOTOOLCHAIN=$GOTOOLCHAIN"; } > "$FAKE_GO_LOG"
    if [ -n "$FAKE_GO_FAIL" ]; then echo "$FAKE_GO_FAIL"; exit 3; fi
    printf '#!/bin/sh\\nexit 0\\n' > "$GOBIN/centrifugo"
    chmod +x "$GOBIN/centrifugo" ;;
esac
"""


@pytest.fixture
def no_go(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """No ``go`` anywhere and an empty cache under ``tmp_path``; returns the cache root."""
    empty = tmp_path / "empty-path"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    monkeypatch.setattr(centrifugo_build, "GO_FALLBACKS", ())
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    systems._centrifugo.cache_clear()
    yield tmp_path / "cache" / "centripetal-bench" / "go"
    systems._centrifugo.cache_clear()


@pytest.fixture
def fake_go(no_go: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fake ``go`` on PATH reporting go1.26.3; returns the file its ``install`` logs to."""
    bindir = Path(os.environ["PATH"])
    go = bindir / "go"
    go.write_text(FAKE_GO)
    go.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bindir}:/usr/bin:/bin")
    monkeypatch.setenv("FAKE_GO_VERSION", "go1.26.3")
    log = tmp_path / "go-install.log"
    monkeypatch.setenv("FAKE_GO_LOG", str(log))
    monkeypatch.delenv("FAKE_GO_FAIL", raising=False)
    return log


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        ("go1.26.8", (1, 26)),
        ("go version go1.27rc1 linux/amd64", (1, 27)),
        ("go1.9", (1, 9)),
        ("devel +abc", None),
    ],
)
def test_go_version_parsed(text: str, parsed: tuple[int, int] | None) -> None:
    assert centrifugo_build.parse_go_version(text) == parsed


def test_without_go_the_reason_names_the_missing_toolchain(no_go: Path) -> None:
    with pytest.raises(centrifugo_build.Unavailable) as info:
        centrifugo_build.ensure()
    assert str(info.value) == (
        f"no Go toolchain (go >= 1.26 on PATH) to build Centrifugo v6.9.1, "
        f"and no binary cached in {no_go / 'bin'}"
    )
    reason, facts = systems.prepare("centrifugo-redis")
    assert (reason, facts) == (str(info.value), {})


def test_go_older_than_1_26_is_refused(fake_go: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_GO_VERSION", "go1.25.9")
    with pytest.raises(centrifugo_build.Unavailable, match=r"Go >= 1\.26 is needed .* go1\.25\.9"):
        centrifugo_build.ensure()
    assert not fake_go.exists()  # go install never ran


def test_build_runs_go_install_into_the_cache_and_stamps_it(fake_go: Path, no_go: Path) -> None:
    binary = centrifugo_build.ensure()
    bin_dir = no_go / "bin"
    assert binary == centrifugo_build.Binary(
        str(bin_dir / "centrifugo"), "github.com/centrifugal/centrifugo/v6@v6.9.1", "go1.26.3"
    )
    assert fake_go.read_text().splitlines() == [
        "ARGS install github.com/centrifugal/centrifugo/v6@v6.9.1",
        f"GOBIN={bin_dir}",
        "GOTOOLCHAIN=local",
    ]
    stamp = json.loads((bin_dir / "centrifugo.json").read_text())
    assert stamp == {"module": "github.com/centrifugal/centrifugo/v6@v6.9.1", "go": "go1.26.3"}
    assert not str(bin_dir).startswith(str(ROOT))  # nothing of it inside the repository


def test_a_stamped_binary_is_reused_without_go(
    fake_go: Path, no_go: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = centrifugo_build.ensure()
    fake_go.unlink()
    monkeypatch.setenv("PATH", "/nonexistent")
    assert centrifugo_build.ensure() == first
    assert not fake_go.exists()  # no second go install
    reason, facts = systems.prepare("centrifugo")
    assert reason is None
    assert facts == {"binary": first.path, "module": first.module, "go": "go1.26.3"}


def test_a_binary_stamped_for_another_version_is_rebuilt(fake_go: Path, no_go: Path) -> None:
    bin_dir = no_go / "bin"
    bin_dir.mkdir(parents=True)
    (bin_dir / "centrifugo").write_text("#!/bin/sh\n")
    (bin_dir / "centrifugo").chmod(0o755)
    stale = {"module": "github.com/centrifugal/centrifugo/v6@v6.0.0", "go": "go1.24.0"}
    (bin_dir / "centrifugo.json").write_text(json.dumps(stale))
    assert centrifugo_build.cached() is None
    assert centrifugo_build.ensure().go == "go1.26.3"
    assert fake_go.exists()


def test_a_failed_build_gives_its_last_line_and_is_tried_once(
    fake_go: Path, no_go: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_GO_FAIL", "dial tcp: lookup proxy.golang.org: no such host")
    reason, _ = systems.prepare("centrifugo")
    log = no_go / "build.log"
    assert reason == (
        f"building Centrifugo v6.9.1 failed (go install exited 3, log {log}): "
        "dial tcp: lookup proxy.golang.org: no such host"
    )
    assert centrifugo_build.cached() is None
    fake_go.unlink()
    assert systems.prepare("centrifugo-redis") == (reason, {})
    assert not fake_go.exists()  # the second system reuses the first attempt's outcome


def test_the_modes_that_tests_run_never_name_go_or_redis_systems() -> None:
    smoke = MODES["smoke"].systems
    assert smoke == ("centripetal", "floor")
    for mode in ("quick", "full"):
        names = MODES[mode].systems
        assert {"centrifugo", "centrifugo-redis", "centripetal-redis-2w"} <= set(names)


def test_centrifugo_gets_centripetals_config_plus_its_listener() -> None:
    ours = systems.centripetal_config("redis://127.0.0.1:7000")
    theirs = systems.centrifugo_config(8123, "redis://127.0.0.1:7000")
    assert {k: v for k, v in theirs.items() if k in ours} == ours
    assert set(theirs) - set(ours) == {"http_server", "usage_stats"}
    assert theirs["http_server"] == {"address": "127.0.0.1", "port": 8123}
    assert theirs["usage_stats"] == {"disabled": True}
    assert "engine" not in systems.centrifugo_config(8123)


STAND_IN = """#!{python}
import json, os, socket, sys, time
cfg = json.load(open(sys.argv[sys.argv.index("-c") + 1]))
seen = {{"gomaxprocs": os.environ.get("GOMAXPROCS"), "cpus": sorted(os.sched_getaffinity(0)),
        "config": cfg}}
open(os.environ["STAND_IN_LOG"], "w").write(json.dumps(seen))
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind((cfg["http_server"]["address"], cfg["http_server"]["port"]))
srv.listen()
time.sleep(60)
"""


def test_centrifugo_starts_on_one_core_with_gomaxprocs_1(
    no_go: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bin_dir = no_go / "bin"
    bin_dir.mkdir(parents=True)
    binary = bin_dir / "centrifugo"
    binary.write_text(STAND_IN.format(python=sys.executable))
    binary.chmod(0o755)
    module = {"module": "github.com/centrifugal/centrifugo/v6@v6.9.1", "go": "go1.26.3"}
    (bin_dir / "centrifugo.json").write_text(json.dumps(module))
    log = tmp_path / "seen.json"
    monkeypatch.setenv("STAND_IN_LOG", str(log))
    running = systems.start("centrifugo")
    try:
        seen = json.loads(log.read_text())
        assert running.kind == "centripetal"  # same client protocol and server API
        assert running.pids == [running.procs[0].pid]
        assert seen["gomaxprocs"] == "1"
        if procfs.pinning_possible():
            assert seen["cpus"] == [procfs.SERVER_CPU]
        assert seen["config"] == systems.centrifugo_config(running.port)
        with socket.create_connection(("127.0.0.1", running.port), timeout=2):
            pass
    finally:
        running.stop()
    assert not running.alive()


def test_the_workers_flag_is_detected_from_centripetals_own_help() -> None:
    from centripetal.cli import build_parser

    assert systems.has_workers_flag() == ("--workers" in build_parser().format_help())


def test_2w_is_not_run_with_a_reason_when_the_flag_is_missing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(systems, "has_workers_flag", lambda: False)
    reason, facts = systems.prepare("centripetal-redis-2w")
    assert reason == (
        "this centripetal has no --workers flag (`python -m centripetal --help`), "
        "so 2 worker processes cannot be started"
    )
    assert facts == {}
    monkeypatch.setattr(systems, "has_workers_flag", lambda: True)
    assert systems.prepare("centripetal-redis-2w") == (None, {})


def test_descendants_include_grandchildren_and_nothing_else() -> None:
    """What the 2-worker system sums CPU and RSS over: every process below the parent."""
    proc = subprocess.Popen(
        ["sh", "-c", "sh -c 'sleep 30 & sleep 30 & wait' & wait"], start_new_session=True
    )
    try:
        deadline = time.monotonic() + 5
        found = procfs.descendants(proc.pid)
        while len(found) < 3 and time.monotonic() < deadline:
            time.sleep(0.02)
            found = procfs.descendants(proc.pid)
        assert len(found) == 3  # the inner shell and its two sleeps
        names = sorted(Path(f"/proc/{pid}/comm").read_text().strip() for pid in found)
        assert names == ["sh", "sleep", "sleep"]
        assert proc.pid not in found and os.getpid() not in found
        inner = [pid for pid in found if Path(f"/proc/{pid}/comm").read_text().strip() == "sh"]
        assert procfs.descendants(inner[0]) == sorted(set(found) - set(inner))
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def test_the_report_names_the_centripetal_source_the_servers_run() -> None:
    """The servers run ``python -m centripetal`` with the benchmark's interpreter and
    environment: the report records which package tree (and commit) that imports, relative
    to the repository (no machine directories in the report)."""
    import centripetal

    info = systems.centripetal_source()
    tree = Path(centripetal.__file__).resolve().parent
    assert info["path"] == str(tree.relative_to(systems.ROOT)) == "src/centripetal"
    assert info["version"] == centripetal.__version__
    commit = info["commit"].removesuffix("+dirty")
    assert len(commit) == 40 and set(commit) <= set("0123456789abcdef")
