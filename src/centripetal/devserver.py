"""Development helpers of the command line (SV-15): ``configdoc`` and ``serve``.

``configdoc`` shows the configuration reference (``config.reference``) as an HTML page on
``http://localhost:6060`` (``--markdown`` prints it instead); ``serve`` is a static file
server for local development, like Centrifugo's (``-d ./ -p 3000``). Neither is meant for
production: both run until interrupted.
"""

from __future__ import annotations

import html
import re
from pathlib import Path

from aiohttp import web

__all__ = ["markdown_to_html", "run_app", "static_app", "text_app"]

_CODE = re.compile(r"`([^`]*)`")
_BOLD = re.compile(r"\*\*([^*]+)\*\*")
_ITALIC = re.compile(r"(?<![*\w])\*([^*]+)\*(?![*\w])")

_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 72rem;
        padding: 0 1rem; color: #1d2733; }}
table {{ border-collapse: collapse; width: 100%; margin: 1rem 0; font-size: 0.9rem; }}
th, td {{ border: 1px solid #d0d7de; padding: 0.3rem 0.5rem; text-align: left;
          vertical-align: top; }}
th {{ background: #f3f5f7; }}
code {{ font-size: 0.85rem; color: #0b5c8c; }}
</style></head>
<body>
{body}
</body></html>
"""


def _inline(text: str) -> str:
    """Escape, then the inline marks the reference uses: code, bold, italic, ``<br>``."""
    out = html.escape(text, quote=False).replace("&lt;br&gt;", "<br>")
    out = _CODE.sub(lambda m: f"<code>{m.group(1)}</code>", out)
    out = _BOLD.sub(r"<strong>\1</strong>", out)
    return _ITALIC.sub(r"<em>\1</em>", out)


def _cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def markdown_to_html(markdown: str, title: str) -> str:
    """The reference's own Markdown (headings, paragraphs, tables) as one HTML page."""
    body: list[str] = []
    paragraph: list[str] = []
    table: list[list[str]] = []

    def flush() -> None:
        if paragraph:
            body.append(f"<p>{_inline(' '.join(paragraph))}</p>")
            paragraph.clear()
        if table:
            head, *rows = table
            header = "".join(f"<th>{_inline(c)}</th>" for c in head)
            body.append(f"<table><thead><tr>{header}</tr></thead><tbody>")
            for row in rows:
                body.append("<tr>" + "".join(f"<td>{_inline(c)}</td>" for c in row) + "</tr>")
            body.append("</tbody></table>")
            table.clear()

    for line in markdown.splitlines():
        if line.startswith("#"):
            flush()
            level = len(line) - len(line.lstrip("#"))
            body.append(f"<h{level}>{_inline(line[level:].strip())}</h{level}>")
        elif line.startswith("|"):
            if paragraph:
                flush()
            if not set(line) <= set("|-: "):
                table.append(_cells(line))
        elif not line.strip():
            flush()
        else:
            if table:
                flush()
            paragraph.append(line.strip())
    flush()
    return _PAGE.format(title=html.escape(title), body="\n".join(body))


def text_app(page: str) -> web.Application:
    """An app answering every GET with ``page`` as HTML."""

    async def handler(request: web.Request) -> web.Response:
        return web.Response(text=page, content_type="text/html", charset="utf-8")

    app = web.Application()
    app.router.add_get("/{tail:.*}", handler)
    return app


def static_app(directory: str) -> web.Application:
    """Files under ``directory``; a directory answers its ``index.html`` or a listing.
    Paths that leave the directory are 404."""
    root = Path(directory).resolve()

    async def handler(request: web.Request) -> web.StreamResponse:
        target = (root / request.match_info["tail"]).resolve()
        if not target.is_relative_to(root) or not target.exists():
            raise web.HTTPNotFound()
        if target.is_dir():
            if not request.path.endswith("/"):
                raise web.HTTPMovedPermanently(request.path + "/")
            index = target / "index.html"
            if index.is_file():
                return web.FileResponse(index)
            return web.Response(text=_listing(target), content_type="text/html")
        return web.FileResponse(target)

    app = web.Application()
    app.router.add_get("/{tail:.*}", handler)
    return app


def _listing(directory: Path) -> str:
    names = sorted(p.name + ("/" if p.is_dir() else "") for p in directory.iterdir())
    links = "\n".join(
        f'<a href="{html.escape(name, quote=True)}">{html.escape(name)}</a>' for name in names
    )
    return f"<!DOCTYPE html>\n<pre>\n{links}\n</pre>\n"


def run_app(app: web.Application, address: str, port: int) -> None:
    """Serve ``app`` until interrupted (``address`` "" = every interface)."""
    web.run_app(app, host=address or None, port=port, print=None, handle_signals=True)
