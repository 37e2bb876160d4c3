"""Debian's Chromium, headless, launched through Playwright (never a downloaded build);
shared by the tutorial, fallback and chat browser tests."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from playwright.sync_api import Browser, sync_playwright

from support.timing import scaled

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@contextmanager
def chromium(executable: str) -> Iterator[Browser]:
    """The browser at ``executable``, closed on exit."""
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=executable, args=CHROMIUM_ARGS, timeout=scaled(20) * 1000
        )
        try:
            yield launched
        finally:
            launched.close()
