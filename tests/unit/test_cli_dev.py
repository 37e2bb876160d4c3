"""``configdoc`` and ``serve`` (SV-15): the development helpers of the command line."""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from support.ports import free_port, port_accepts
from support.timing import scaled

from centripetal import cli
from centripetal.devserver import markdown_to_html


@contextmanager
def running(*args: str, cwd: Path) -> Iterator[int]:
    """``centripetal <args> -p <free port>`` until the block ends; yields the port."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "centripetal", *args, "-p", str(port)],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + scaled(15)
        while not port_accepts("127.0.0.1", port, timeout=0.1):
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "did not start"
            time.sleep(0.05)
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=scaled(10))


def get(port: int, path: str) -> tuple[int, bytes, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as resp:
            return resp.status, resp.read(), resp.headers.get("Content-Type", "")
    except urllib.error.HTTPError as err:
        return err.code, err.read(), err.headers.get("Content-Type", "")


def test_configdoc_markdown_with_section(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["configdoc", "--markdown", "--section", "rpc"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("# Configuration reference\n")
    assert '| `rpc.ping.method` | string | `"ping"` | `CENTRIFUGO_RPC_PING_METHOD` |' in out
    assert not [ln for ln in out.splitlines() if ln.startswith("| `client.")]
    assert "Flat v3 keys" not in out
    assert "| `rpc.ping.enabled`<br>`rpc.ping.method` | honoured |" in out


def test_configdoc_unknown_section_fails(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["configdoc", "--markdown", "--section", "nope"]) == 1
    assert capsys.readouterr().out == "error: unknown section 'nope'\n"


def test_markdown_to_html_escapes_and_renders_tables() -> None:
    page = markdown_to_html(
        "# T\n\nSome `a<b>` and **bold**.\n\n| k | v |\n|---|---|\n| `x` | *y*<br>z |\n", "t"
    )
    assert "<h1>T</h1>" in page
    assert "<p>Some <code>a&lt;b&gt;</code> and <strong>bold</strong>.</p>" in page
    assert "<th>k</th><th>v</th>" in page
    assert "<tr><td><code>x</code></td><td><em>y</em><br>z</td></tr>" in page


def test_configdoc_serves_the_reference_as_html(tmp_path: Path) -> None:
    with running("configdoc", cwd=tmp_path) as port:
        status, body, ctype = get(port, "/")
    assert status == 200 and ctype.startswith("text/html")
    text = body.decode()
    assert "<h1>Configuration reference</h1>" in text
    assert "<td><code>client.concurrency</code></td>" in text


def test_serve_files_index_listing_and_no_escape(tmp_path: Path) -> None:
    site = tmp_path / "site"
    (site / "docs").mkdir(parents=True)
    (site / "app.js").write_text("console.log(1)")
    (site / "index.html").write_text("<p>home</p>")
    (site / "docs" / "a.txt").write_text("A")
    (tmp_path / "secret.txt").write_text("S")
    with running("serve", "-d", str(site), "-a", "127.0.0.1", cwd=tmp_path) as port:
        assert get(port, "/")[:2] == (200, b"<p>home</p>")
        status, body, ctype = get(port, "/app.js")
        assert (status, body) == (200, b"console.log(1)") and "javascript" in ctype
        status, body, _ = get(port, "/docs/")
        assert status == 200 and b'<a href="a.txt">a.txt</a>' in body
        assert get(port, "/docs")[:2] == (200, body)  # redirected to the slash form
        assert get(port, "/missing")[0] == 404
        assert get(port, "/%2e%2e/secret.txt")[0] == 404
        assert get(port, "/docs/..%2f..%2fsecret.txt")[0] == 404


def test_serve_needs_a_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["serve", "-d", str(tmp_path / "none")]) == 1
    assert capsys.readouterr().out == f"error: {tmp_path / 'none'}: not a directory\n"
