"""The Centrifugo binary the benchmark compares against, built from the Go module proxy.

``go install github.com/centrifugal/centrifugo/v6@v6.9.1`` with ``GOBIN`` set to a cache
directory outside the repository (``$XDG_CACHE_HOME/centripetal-bench/go/bin``, by default
``~/.cache/centripetal-bench/go/bin``). A stamp file next to the binary records the module
version and the Go toolchain that built it; a binary whose stamp names :data:`VERSION` is
reused, with or without Go on the machine. Building needs a Go toolchain >= 1.26 (Centrifugo
v6.9.1's ``go.mod`` says ``go 1.26``); ``GOTOOLCHAIN=local`` keeps ``go`` from fetching
another toolchain. Without one, or when the build fails, :class:`Unavailable` carries the
reason, which the benchmark prints in place of the system's figures.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

MODULE = "github.com/centrifugal/centrifugo/v6"
VERSION = "v6.9.1"
GO_MIN = (1, 26)
BUILD_TIMEOUT_S = 1200
# where an official Go install lives when it is not on PATH
GO_FALLBACKS = ("/usr/local/go/bin/go",)


class Unavailable(Exception):
    """Centrifugo cannot run in this benchmark; ``str()`` is the reason shown in the report."""


@dataclass(frozen=True)
class Binary:
    path: str
    module: str  # module@version the binary was built from
    go: str  # the Go toolchain that built it, e.g. "go1.26.8"


def cache_dir() -> Path:
    """``$XDG_CACHE_HOME/centripetal-bench/go`` (``~/.cache`` when the variable is unset)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(Path.home(), ".cache")
    return Path(base) / "centripetal-bench" / "go"


def parse_go_version(text: str) -> tuple[int, int] | None:
    """``go1.26.8`` / ``go version go1.27rc1 linux/amd64`` -> (major, minor); None if absent."""
    match = re.search(r"go(\d+)\.(\d+)", text)
    return (int(match.group(1)), int(match.group(2))) if match else None


def find_go() -> str | None:
    found = shutil.which("go")
    if found:
        return found
    return next((p for p in GO_FALLBACKS if os.access(p, os.X_OK)), None)


def go_version(go: str) -> str:
    proc = subprocess.run([go, "env", "GOVERSION"], capture_output=True, timeout=60)
    if proc.returncode != 0:
        raise Unavailable(f"`{go} env GOVERSION` failed: {proc.stderr.decode()[-200:].strip()}")
    return proc.stdout.decode().strip()


def _stamp(bin_dir: Path) -> Path:
    return bin_dir / "centrifugo.json"


def cached(bin_dir: Path | None = None) -> Binary | None:
    """The binary built earlier for :data:`VERSION`, if its stamp says so."""
    bin_dir = bin_dir or cache_dir() / "bin"
    binary = bin_dir / "centrifugo"
    try:
        stamp = json.loads(_stamp(bin_dir).read_text())
    except (OSError, ValueError):
        return None
    if stamp.get("module") != f"{MODULE}@{VERSION}" or not os.access(binary, os.X_OK):
        return None
    return Binary(str(binary), stamp["module"], str(stamp.get("go", "")))


def build(go: str, root: Path | None = None) -> Binary:
    """``go install MODULE@VERSION`` into ``root/bin``; raises :class:`Unavailable`."""
    root = root or cache_dir()
    bin_dir = root / "bin"
    bin_dir.mkdir(parents=True, exist_ok=True)
    version = go_version(go)
    parsed = parse_go_version(version)
    if parsed is None or parsed < GO_MIN:
        need = ".".join(map(str, GO_MIN))
        raise Unavailable(
            f"Go >= {need} is needed to build Centrifugo {VERSION}; {go} is {version}"
        )
    env = dict(os.environ, GOBIN=str(bin_dir), GOTOOLCHAIN="local")
    log = root / "build.log"
    print(f"building Centrifugo {VERSION} with {version} into {bin_dir} (log {log})", flush=True)
    with open(log, "wb") as out:
        try:
            proc = subprocess.run(
                [go, "install", f"{MODULE}@{VERSION}"],
                env=env,
                cwd=str(root),  # outside any module: the repository has no go.mod anyway
                stdout=out,
                stderr=subprocess.STDOUT,
                timeout=BUILD_TIMEOUT_S,
            )
        except subprocess.TimeoutExpired:
            raise Unavailable(
                f"building Centrifugo {VERSION} took over {BUILD_TIMEOUT_S} s (log {log})"
            ) from None
    if proc.returncode != 0:
        lines = log.read_text(errors="replace").strip().splitlines()
        last = lines[-1] if lines else "no output"
        raise Unavailable(
            f"building Centrifugo {VERSION} failed (go install exited {proc.returncode}, "
            f"log {log}): {last[:200]}"
        )
    module = f"{MODULE}@{VERSION}"
    _stamp(bin_dir).write_text(json.dumps({"module": module, "go": version}) + "\n")
    return Binary(str(bin_dir / "centrifugo"), module, version)


def ensure() -> Binary:
    """The cached binary, or a fresh build; raises :class:`Unavailable` with the reason."""
    found = cached()
    if found is not None:
        return found
    go = find_go()
    if go is None:
        need = ".".join(map(str, GO_MIN))
        raise Unavailable(
            f"no Go toolchain (go >= {need} on PATH) to build Centrifugo {VERSION}, "
            f"and no binary cached in {cache_dir() / 'bin'}"
        )
    return build(go)
