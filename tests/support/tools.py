"""External tools the live tests need: fail in CI, skip elsewhere (DESIGN §7)."""

from __future__ import annotations

import os
import shutil
from typing import NoReturn

import pytest

__all__ = ["is_ci", "missing", "require_tool"]


def is_ci() -> bool:
    """Whether the tests run in CI (``CI=true``), where a missing tool is a failure."""
    return os.environ.get("CI", "").strip().lower() in {"true", "1", "yes"}


def missing(reason: str) -> NoReturn:
    """Something a test needs is not installed: ``pytest.fail`` if :func:`is_ci`, otherwise
    ``pytest.skip`` with the reason."""
    if is_ci():
        pytest.fail(f"{reason} (CI=true: what the tests need must be installed)")
    pytest.skip(reason)


def require_tool(name: str) -> str:
    """Return the path of executable ``name``.

    When it is missing, :func:`missing` fails the test in CI and skips it elsewhere.
    """
    path = shutil.which(name)
    if path is not None:
        return path
    missing(f"required tool {name!r} is not on PATH")
